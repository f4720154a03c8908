// Devices: where tensors live and ops run.
#ifndef LADLE_KERNELS_DEVICE_H_
#define LADLE_KERNELS_DEVICE_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace ladle {

enum class DeviceKind { kCpu, kCuda };

struct Device {
  DeviceKind kind = DeviceKind::kCpu;
  int index = 0;  // CUDA ordinal; 0 for the CPU.

  std::string ToString() const;
  bool operator==(const Device& o) const {
    return kind == o.kind && index == o.index;
  }
};

// True when this binary was built with the CUDA backend.
bool CudaBackendBuilt();

// Number of usable CUDA devices: 0 when the backend was not built, no driver is
// installed, or no GPU is present (cudaGetDeviceCount's error is treated as
// zero GPUs). Thread-safe.
int CudaDeviceCount();

// Resolves a device spec: "auto" (first GPU if any, else CPU), "cpu", "cuda" (=
// "cuda:0") or "cuda:N". Asking for CUDA where none exists gives
// FAILED_PRECONDITION that says why (not built, or no GPU/driver) and how to
// fall back.
absl::StatusOr<Device> ResolveDevice(absl::string_view spec);

}  // namespace ladle

#endif  // LADLE_KERNELS_DEVICE_H_
