#include "kernels/device.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace ladle {

#ifdef LADLE_HAVE_CUDA
int CudaDeviceCountImpl();  // kernels/cuda/cuda_backend.cu
bool CudaBackendBuilt() { return true; }
int CudaDeviceCount() {
  static const int count = CudaDeviceCountImpl();
  return count;
}
#else
bool CudaBackendBuilt() { return false; }
int CudaDeviceCount() { return 0; }
#endif

std::string Device::ToString() const {
  return kind == DeviceKind::kCpu ? "cpu" : absl::StrCat("cuda:", index);
}

absl::StatusOr<Device> ResolveDevice(absl::string_view spec) {
  if (spec == "cpu") return Device{DeviceKind::kCpu, 0};
  if (spec == "auto") {
    return CudaDeviceCount() > 0 ? Device{DeviceKind::kCuda, 0}
                                 : Device{DeviceKind::kCpu, 0};
  }
  int index = 0;
  absl::string_view rest = spec;
  if (!absl::ConsumePrefix(&rest, "cuda")) {
    return absl::InvalidArgumentError(absl::StrCat(
        "device: unknown device '", spec, "'; use auto, cpu, cuda or cuda:N"));
  }
  if (!rest.empty()) {
    if (!absl::ConsumePrefix(&rest, ":") || !absl::SimpleAtoi(rest, &index) ||
        index < 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "device: cannot parse '", spec, "'; use cuda or cuda:N with N >= 0"));
    }
  }
  if (!CudaBackendBuilt()) {
    return absl::FailedPreconditionError(
        absl::StrCat("device: '", spec,
                     "' was asked for but this build has no CUDA backend "
                     "(configure with nvcc available, "
                     "-DLADLE_CUDA=ON); use device: cpu or auto"));
  }
  const int count = CudaDeviceCount();
  if (count == 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("device: '", spec,
                     "' was asked for but no CUDA GPU is usable here (no GPU "
                     "or no NVIDIA driver); use "
                     "device: cpu or auto"));
  }
  if (index >= count) {
    return absl::FailedPreconditionError(
        absl::StrCat("device: '", spec, "' does not exist; ", count,
                     " CUDA device(s) found"));
  }
  return Device{DeviceKind::kCuda, index};
}

}  // namespace ladle
