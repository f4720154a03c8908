// One checker per CUDA library: each turns an error code into an absl::Status
// naming the call site (file:line) and the library's own error string.
#ifndef LADLE_KERNELS_CUDA_CUDA_STATUS_H_
#define LADLE_KERNELS_CUDA_CUDA_STATUS_H_

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <string>

#include "absl/status/status.h"

namespace ladle {

inline absl::Status CudaStatus(cudaError_t err, const char* expr,
                               const char* file, int line) {
  if (err == cudaSuccess) return absl::OkStatus();
  return absl::InternalError(std::string(file) + ":" + std::to_string(line) +
                             ": " + expr + ": " + cudaGetErrorName(err) + ": " +
                             cudaGetErrorString(err));
}

inline absl::Status CublasStatus(cublasStatus_t err, const char* expr,
                                 const char* file, int line) {
  if (err == CUBLAS_STATUS_SUCCESS) return absl::OkStatus();
  return absl::InternalError(std::string(file) + ":" + std::to_string(line) +
                             ": " + expr + ": " + cublasGetStatusName(err) +
                             ": " + cublasGetStatusString(err));
}

}  // namespace ladle

#define CUDA_RETURN_IF_ERROR(expr)                              \
  do {                                                          \
    const ::absl::Status ladle_cuda_st_ =                       \
        ::ladle::CudaStatus((expr), #expr, __FILE__, __LINE__); \
    if (!ladle_cuda_st_.ok()) return ladle_cuda_st_;            \
  } while (0)

#define CUBLAS_RETURN_IF_ERROR(expr)                              \
  do {                                                            \
    const ::absl::Status ladle_cublas_st_ =                       \
        ::ladle::CublasStatus((expr), #expr, __FILE__, __LINE__); \
    if (!ladle_cublas_st_.ok()) return ladle_cublas_st_;          \
  } while (0)

// After a kernel launch: reports launch errors (bad configuration, no device)
// at this line.
#define CUDA_RETURN_IF_LAUNCH_ERROR() CUDA_RETURN_IF_ERROR(cudaGetLastError())

#endif  // LADLE_KERNELS_CUDA_CUDA_STATUS_H_
