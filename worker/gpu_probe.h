// GPU discovery for ladle-worker through NVML, loaded with dlopen at run time:
// the worker needs no CUDA toolkit to build and starts on hosts without a
// driver (then it sees no GPUs).
#ifndef LADLE_WORKER_GPU_PROBE_H_
#define LADLE_WORKER_GPU_PROBE_H_

#include <string>
#include <vector>

namespace ladle {

struct GpuDevice {
  int index = 0;
  std::string name;
  long long memory_total_bytes = 0;
};

// The GPUs NVML reports; empty when libnvidia-ml.so.1 or a driver is missing.
std::vector<GpuDevice> ProbeGpus();

}  // namespace ladle

#endif  // LADLE_WORKER_GPU_PROBE_H_
