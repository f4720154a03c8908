#include "worker/gpu_probe.h"

#include <dlfcn.h>

namespace ladle {
namespace {

// The few NVML entry points used, with NVML's C signatures (nvml.h is not
// needed to build).
using NvmlInit = int (*)();
using NvmlShutdown = int (*)();
using NvmlGetCount = int (*)(unsigned int*);
using NvmlGetHandle = int (*)(unsigned int, void**);
using NvmlGetName = int (*)(void*, char*, unsigned int);
struct NvmlMemory {
  unsigned long long total, free, used;
};
using NvmlGetMemory = int (*)(void*, NvmlMemory*);

}  // namespace

std::vector<GpuDevice> ProbeGpus() {
  std::vector<GpuDevice> gpus;
  void* lib = dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
  if (lib == nullptr) return gpus;
  auto init = reinterpret_cast<NvmlInit>(dlsym(lib, "nvmlInit_v2"));
  auto shutdown = reinterpret_cast<NvmlShutdown>(dlsym(lib, "nvmlShutdown"));
  auto count =
      reinterpret_cast<NvmlGetCount>(dlsym(lib, "nvmlDeviceGetCount_v2"));
  auto handle = reinterpret_cast<NvmlGetHandle>(
      dlsym(lib, "nvmlDeviceGetHandleByIndex_v2"));
  auto name = reinterpret_cast<NvmlGetName>(dlsym(lib, "nvmlDeviceGetName"));
  auto memory =
      reinterpret_cast<NvmlGetMemory>(dlsym(lib, "nvmlDeviceGetMemoryInfo"));
  unsigned int n = 0;
  if (init != nullptr && count != nullptr && init() == 0) {
    if (count(&n) == 0) {
      for (unsigned int i = 0; i < n; ++i) {
        GpuDevice d;
        d.index = static_cast<int>(i);
        void* h = nullptr;
        if (handle != nullptr && handle(i, &h) == 0) {
          char buf[96] = {};
          if (name != nullptr && name(h, buf, sizeof(buf)) == 0) d.name = buf;
          NvmlMemory mem{};
          if (memory != nullptr && memory(h, &mem) == 0)
            d.memory_total_bytes = static_cast<long long>(mem.total);
        }
        gpus.push_back(d);
      }
    }
    if (shutdown != nullptr) shutdown();
  }
  dlclose(lib);
  return gpus;
}

}  // namespace ladle
