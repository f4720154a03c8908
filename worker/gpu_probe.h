// GPU discovery and usage sampling for ladle-worker through NVML, loaded with
// dlopen at run time: the worker needs no CUDA toolkit to build and starts on
// hosts without a driver (then it sees no GPUs). Not thread-safe: one thread
// uses an Nvml object at a time.
#ifndef LADLE_WORKER_GPU_PROBE_H_
#define LADLE_WORKER_GPU_PROBE_H_

#include <memory>
#include <string>
#include <vector>

namespace ladle {

struct GpuDevice {
  int index = 0;
  std::string name;
  long long memory_total_bytes = 0;
};

struct GpuUsageSample {
  int index = 0;
  long long memory_used_bytes = 0;
  double utilization_ratio = 0;  // 0..1 over NVML's last sample period
};

class Nvml {
 public:
  // Null when libnvidia-ml.so.1 or a driver is missing.
  static std::unique_ptr<Nvml> Open();
  ~Nvml();

  std::vector<GpuDevice> Devices();
  std::vector<GpuUsageSample> Sample();

 private:
  struct Api;
  explicit Nvml(std::unique_ptr<Api> api);
  std::unique_ptr<Api> api_;
};

// The GPUs NVML reports; empty without NVML.
std::vector<GpuDevice> ProbeGpus();

}  // namespace ladle

#endif  // LADLE_WORKER_GPU_PROBE_H_
