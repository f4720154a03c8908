// The CPU backend: BLAS GEMM plus the reference loops of ref_ops.h, OpenMP
// across `threads`. Deterministic for a fixed thread count.
#ifndef LADLE_KERNELS_CPU_CPU_BACKEND_H_
#define LADLE_KERNELS_CPU_CPU_BACKEND_H_

#include <memory>

#include "kernels/backend.h"
#include "kernels/cpu/gemm.h"

namespace ladle {

// threads <= 0 means all cores. Sets the process-wide thread count of OpenMP
// and the BLAS libraries (one CPU backend per process is the intended use).
std::unique_ptr<Backend> CreateCpuBackend(
    int threads, CpuGemmLibrary gemm = DefaultCpuGemmLibrary());

}  // namespace ladle

#endif  // LADLE_KERNELS_CPU_CPU_BACKEND_H_
