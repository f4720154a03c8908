#include "kernels/backend.h"

#include "kernels/cpu/cpu_backend.h"
#ifdef LADLE_HAVE_CUDA
#include "kernels/cuda/cuda_backend.h"
#endif

namespace ladle {

absl::StatusOr<std::unique_ptr<Backend>> CreateBackend(const Device& device,
                                                       int threads) {
  if (device.kind == DeviceKind::kCpu) return CreateCpuBackend(threads);
#ifdef LADLE_HAVE_CUDA
  return CreateCudaBackend(device.index);
#else
  return absl::FailedPreconditionError(
      "device: cuda was asked for but this build has no CUDA backend; use "
      "device: cpu");
#endif
}

}  // namespace ladle
