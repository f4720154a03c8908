#include "worker/gpu_probe.h"

#include <dlfcn.h>

namespace ladle {

// The few NVML entry points used, with NVML's C signatures (nvml.h is not
// needed to build).
struct Nvml::Api {
  struct Memory {
    unsigned long long total, free, used;
  };
  struct Utilization {
    unsigned int gpu, memory;
  };
  void* lib = nullptr;
  int (*init)() = nullptr;
  int (*shutdown)() = nullptr;
  int (*count)(unsigned int*) = nullptr;
  int (*handle)(unsigned int, void**) = nullptr;
  int (*name)(void*, char*, unsigned int) = nullptr;
  int (*memory)(void*, Memory*) = nullptr;
  int (*utilization)(void*, Utilization*) = nullptr;

  template <typename F>
  void Bind(F* f, const char* symbol) {
    *f = reinterpret_cast<F>(dlsym(lib, symbol));
  }
};

std::unique_ptr<Nvml> Nvml::Open() {
  auto api = std::make_unique<Api>();
  api->lib = dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
  if (api->lib == nullptr) return nullptr;
  api->Bind(&api->init, "nvmlInit_v2");
  api->Bind(&api->shutdown, "nvmlShutdown");
  api->Bind(&api->count, "nvmlDeviceGetCount_v2");
  api->Bind(&api->handle, "nvmlDeviceGetHandleByIndex_v2");
  api->Bind(&api->name, "nvmlDeviceGetName");
  api->Bind(&api->memory, "nvmlDeviceGetMemoryInfo");
  api->Bind(&api->utilization, "nvmlDeviceGetUtilizationRates");
  if (api->init == nullptr || api->count == nullptr || api->handle == nullptr ||
      api->init() != 0) {
    dlclose(api->lib);
    return nullptr;
  }
  return std::unique_ptr<Nvml>(new Nvml(std::move(api)));
}

Nvml::Nvml(std::unique_ptr<Api> api) : api_(std::move(api)) {}

Nvml::~Nvml() {
  if (api_->shutdown != nullptr) api_->shutdown();
  dlclose(api_->lib);
}

std::vector<GpuDevice> Nvml::Devices() {
  std::vector<GpuDevice> out;
  unsigned int n = 0;
  if (api_->count(&n) != 0) return out;
  for (unsigned int i = 0; i < n; ++i) {
    GpuDevice d;
    d.index = static_cast<int>(i);
    void* h = nullptr;
    if (api_->handle(i, &h) == 0) {
      char buf[96] = {};
      if (api_->name != nullptr && api_->name(h, buf, sizeof(buf)) == 0)
        d.name = buf;
      Api::Memory mem{};
      if (api_->memory != nullptr && api_->memory(h, &mem) == 0) {
        d.memory_total_bytes = static_cast<long long>(mem.total);
      }
    }
    out.push_back(d);
  }
  return out;
}

std::vector<GpuUsageSample> Nvml::Sample() {
  std::vector<GpuUsageSample> out;
  unsigned int n = 0;
  if (api_->count(&n) != 0) return out;
  for (unsigned int i = 0; i < n; ++i) {
    void* h = nullptr;
    if (api_->handle(i, &h) != 0) continue;
    GpuUsageSample s;
    s.index = static_cast<int>(i);
    Api::Memory mem{};
    if (api_->memory != nullptr && api_->memory(h, &mem) == 0) {
      s.memory_used_bytes = static_cast<long long>(mem.used);
    }
    Api::Utilization u{};
    if (api_->utilization != nullptr && api_->utilization(h, &u) == 0) {
      s.utilization_ratio = u.gpu / 100.0;
    }
    out.push_back(s);
  }
  return out;
}

std::vector<GpuDevice> ProbeGpus() {
  std::unique_ptr<Nvml> nvml = Nvml::Open();
  return nvml ? nvml->Devices() : std::vector<GpuDevice>{};
}

}  // namespace ladle
