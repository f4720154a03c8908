// The CUDA backend: cuBLAS GEMM and custom kernels for every other op
// (kernels/cuda/*.cu). Built when nvcc is found (LADLE_CUDA=AUTO|ON); binaries
// still run without a driver, where CudaDeviceCount() is 0 and this backend is
// never created.
#ifndef LADLE_KERNELS_CUDA_CUDA_BACKEND_H_
#define LADLE_KERNELS_CUDA_CUDA_BACKEND_H_

#include <memory>

#include "absl/status/statusor.h"
#include "kernels/backend.h"

namespace ladle {

// Creates a backend on CUDA device `index` with its own stream and cuBLAS
// handle.
absl::StatusOr<std::unique_ptr<Backend>> CreateCudaBackend(int index);

// The cudaStream_t (as void*) `backend` enqueues its work on; nullptr when it
// is not a CUDA backend. For libraries that take a stream (NCCL).
void* CudaStreamOf(Backend* backend);

}  // namespace ladle

#endif  // LADLE_KERNELS_CUDA_CUDA_BACKEND_H_
