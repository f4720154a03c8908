// Row-major single-precision GEMM on the CPU through a BLAS library.
//
// Both OpenBLAS and oneDNN are linked; bench/gemm_bench compares them on the
// training shapes and the faster one is the default (docs/PERFORMANCE.md has
// the figures). Thread-safe as far as the libraries are; the thread count is
// process-wide (SetGemmThreads).
#ifndef LADLE_KERNELS_CPU_GEMM_H_
#define LADLE_KERNELS_CPU_GEMM_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace ladle {

enum class CpuGemmLibrary { kOneDnn, kOpenBlas };

// The library picked at build time (CMake LADLE_CPU_GEMM).
CpuGemmLibrary DefaultCpuGemmLibrary();
absl::StatusOr<CpuGemmLibrary> ParseCpuGemmLibrary(absl::string_view name);
std::string CpuGemmLibraryName(CpuGemmLibrary lib);

// Sets the thread count both libraries (and OpenMP loops) use.
void SetCpuThreads(int threads);

// C = alpha op(A) op(B) + beta C with Backend::Gemm's conventions.
absl::Status CpuSgemm(CpuGemmLibrary lib, bool trans_a, bool trans_b, int64_t m,
                      int64_t n, int64_t k, float alpha, const float* a,
                      const float* b, float beta, float* c);

}  // namespace ladle

#endif  // LADLE_KERNELS_CPU_GEMM_H_
