// One MLP training step (forward, softmax cross-entropy, backward, AdamW) on a
// backend, against the GEMM ceiling of the same step measured in the same run:
// the step's GEMMs alone, through the same library (cuBLAS on CUDA, oneDNN on
// the CPU), back to back. ratio = GEMM-only time / step time = the step's
// achieved GEMM FLOP rate over the library's rate on those shapes.
//
//   build/bin/ladle-stepbench --device=cuda --hidden=4096,4096 --batch=4096
//   build/bin/ladle-stepbench --device=cpu --threads=2 --batch=512
//
// On the CPU it also measures the fp32 FMA peak of the same threads and prints
// the step's share of it. Prints one JSON line per run (the gpu-check script
// tabulates them).
#include <immintrin.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/str_split.h"
#include "common/random.h"
#include "kernels/backend.h"
#include "kernels/device.h"
#include "kernels/models.h"
#include "kernels/optim.h"
#include "kernels/tensor.h"
#include "nlohmann/json.hpp"

namespace ladle {
namespace {

struct Options {
  std::string device = "auto";
  int threads = 2;  // CPU backend threads
  std::vector<int64_t> hidden = {1024, 1024};
  int64_t batch = 512;
  int64_t input = 784;
  int64_t classes = 10;
  int steps = 50;  // timed steps (after 5 warm-up steps)
};

using Clock = std::chrono::steady_clock;

// The machine's fp32 FMA peak as this binary can reach it: every thread runs
// independent chains of vector FMAs (12 accumulators hide the FMA latency on
// two ports), AVX-512 where the CPU has it, else AVX2. GFLOP/s, 2 per FMA lane.
template <int kLanes, typename Body>
double FmaPeak(int threads, Body body) {
  constexpr int64_t kIters = 200'000'000 / kLanes;
  std::vector<std::thread> pool;
  std::vector<float> sink(threads);
  const auto t0 = Clock::now();
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&, t] { sink[t] = body(kIters); });
  for (std::thread& th : pool) th.join();
  const double s = std::chrono::duration<double>(Clock::now() - t0).count();
  volatile float keep = sink[0];  // the chains must not be optimised away
  (void)keep;
  return 2.0 * kLanes * 12 * kIters * threads / s / 1e9;
}

__attribute__((target("avx512f"))) float Chains512(int64_t iters) {
  __m512 acc[12];
  const __m512 a = _mm512_set1_ps(0.999f), b = _mm512_set1_ps(1e-6f);
  for (int i = 0; i < 12; ++i) acc[i] = _mm512_set1_ps(static_cast<float>(i));
  for (int64_t k = 0; k < iters; ++k)
    for (int i = 0; i < 12; ++i) acc[i] = _mm512_fmadd_ps(acc[i], a, b);
  float out = 0;
  for (int i = 0; i < 12; ++i) out += _mm512_reduce_add_ps(acc[i]);
  return out;
}

__attribute__((target("avx2,fma"))) float Chains256(int64_t iters) {
  __m256 acc[12];
  const __m256 a = _mm256_set1_ps(0.999f), b = _mm256_set1_ps(1e-6f);
  for (int i = 0; i < 12; ++i) acc[i] = _mm256_set1_ps(static_cast<float>(i));
  for (int64_t k = 0; k < iters; ++k)
    for (int i = 0; i < 12; ++i) acc[i] = _mm256_fmadd_ps(acc[i], a, b);
  alignas(32) float lanes[8];
  float out = 0;
  for (int i = 0; i < 12; ++i) {
    _mm256_store_ps(lanes, acc[i]);
    for (float v : lanes) out += v;
  }
  return out;
}

// Best of three runs: GFLOP/s and the instruction set used.
std::pair<double, const char*> MeasureFmaPeak(int threads) {
  const bool avx512 = __builtin_cpu_supports("avx512f");
  double best = 0;
  for (int r = 0; r < 3; ++r) {
    best = std::max(best, avx512 ? FmaPeak<16>(threads, Chains512)
                                 : FmaPeak<8>(threads, Chains256));
  }
  return {best, avx512 ? "AVX-512" : "AVX2"};
}

double Seconds(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

struct GemmShape {
  bool ta, tb;
  int64_t m, n, k;
};

// The GEMMs of one step of an MLP in→h1→…→classes at batch b: forward
// x·Wᵀ, weight gradient dyᵀ·x, input gradient dy·W (none for the first layer).
std::vector<GemmShape> StepGemms(const Options& o) {
  std::vector<int64_t> dims = {o.input};
  dims.insert(dims.end(), o.hidden.begin(), o.hidden.end());
  dims.push_back(o.classes);
  std::vector<GemmShape> s;
  for (size_t i = 0; i + 1 < dims.size(); ++i) {
    s.push_back({false, true, o.batch, dims[i + 1], dims[i]});
    s.push_back({true, false, dims[i + 1], dims[i], o.batch});
    if (i > 0) s.push_back({false, false, o.batch, dims[i], dims[i + 1]});
  }
  return s;
}

int Run(const Options& o) {
  auto fail = [](const absl::Status& st) {
    std::fprintf(stderr, "ladle-stepbench: %s\n", st.ToString().c_str());
    return 1;
  };
  auto device = ResolveDevice(o.device);
  if (!device.ok()) return fail(device.status());
  auto be_or = CreateBackend(*device, o.threads);
  if (!be_or.ok()) return fail(be_or.status());
  Backend* be = be_or->get();

  ModelConfig mc;
  mc.type = ModelConfig::Type::kMlp;
  mc.hidden = o.hidden;
  auto model = CreateDenseModel(mc, be, o.input, o.classes, o.batch, 1);
  if (!model.ok()) return fail(model.status());
  OptimizerConfig oc;
  oc.type = OptimizerConfig::Type::kAdamW;
  auto opt = CreateOptimizer(oc, &(*model)->params(), be);
  if (!opt.ok()) return fail(opt.status());

  Rng rng(7);
  std::vector<float> hx(o.batch * o.input);
  for (float& v : hx) v = static_cast<float>(rng.Normal());
  std::vector<int32_t> hy(o.batch);
  for (int32_t& v : hy) v = static_cast<int32_t>(rng.Uniform() * o.classes);
  auto x = Tensor<float>::FromHost(be, {o.batch, o.input}, hx);
  auto y = Tensor<int32_t>::FromHost(be, {o.batch}, hy);
  auto loss = Tensor<float>::Zeros(be, {o.batch});
  auto dlogits = Tensor<float>::Zeros(be, {o.batch, o.classes});
  if (!x.ok() || !y.ok() || !loss.ok() || !dlogits.ok())
    return fail(absl::InternalError("allocating inputs failed"));

  auto step = [&]() -> absl::Status {
    auto logits = (*model)->Forward(x->data(), o.batch, true, 0);
    if (!logits.ok()) return logits.status();
    absl::Status st =
        be->SoftmaxCrossEntropy(*logits, y->data(), o.batch, o.classes,
                                1.0f / o.batch, loss->data(), dlogits->data());
    if (st.ok()) st = (*model)->Backward(dlogits->data());
    if (st.ok()) st = (*opt)->Step(1e-4f);
    return st;
  };
  auto timed = [&](auto body, int reps) -> absl::StatusOr<double> {
    for (int i = 0; i < 5; ++i) {
      absl::Status st = body();
      if (!st.ok()) return st;
    }
    absl::Status st = be->Synchronize();
    if (!st.ok()) return st;
    const auto t0 = Clock::now();
    for (int i = 0; i < reps; ++i) {
      st = body();
      if (!st.ok()) return st;
    }
    st = be->Synchronize();
    if (!st.ok()) return st;
    return Seconds(t0, Clock::now()) / reps;
  };

  // The step's GEMMs alone, on buffers of their own.
  const std::vector<GemmShape> shapes = StepGemms(o);
  std::vector<Tensor<float>> a, b, c;
  double gemm_flops = 0;
  for (const GemmShape& s : shapes) {
    std::vector<float> ha(s.m * s.k), hb(s.k * s.n);
    for (float& v : ha) v = static_cast<float>(rng.Normal());
    for (float& v : hb) v = static_cast<float>(rng.Normal());
    a.push_back(*Tensor<float>::FromHost(be, {s.m * s.k}, ha));
    b.push_back(*Tensor<float>::FromHost(be, {s.k * s.n}, hb));
    c.push_back(*Tensor<float>::Zeros(be, {s.m * s.n}));
    gemm_flops += 2.0 * s.m * s.n * s.k;
  }
  auto gemms = [&]() -> absl::Status {
    for (size_t i = 0; i < shapes.size(); ++i) {
      const GemmShape& s = shapes[i];
      absl::Status st = be->Gemm(s.ta, s.tb, s.m, s.n, s.k, 1.0f, a[i].data(),
                                 b[i].data(), 0.0f, c[i].data());
      if (!st.ok()) return st;
    }
    return absl::OkStatus();
  };

  auto step_s = timed(step, o.steps);
  if (!step_s.ok()) return fail(step_s.status());
  auto gemm_s = timed(gemms, o.steps);
  if (!gemm_s.ok()) return fail(gemm_s.status());
  std::string hidden;
  for (int64_t h : o.hidden)
    hidden += (hidden.empty() ? "" : "-") + std::to_string(h);
  double peak = 0;
  const char* isa = "";
  if (be->device().kind == DeviceKind::kCpu) {
    std::tie(peak, isa) = MeasureFmaPeak(o.threads);
  }
  nlohmann::json j = {
      {"backend", be->Describe()},
      {"model", "mlp " + std::to_string(o.input) + "-" + hidden + "-" +
                    std::to_string(o.classes)},
      {"batch", o.batch},
      {"step_seconds", *step_s},
      {"samples_per_second", o.batch / *step_s},
      {"step_gemm_gflops", gemm_flops / *step_s / 1e9},
      {"gemm_only_seconds", *gemm_s},
      {"gemm_ceiling_gflops", gemm_flops / *gemm_s / 1e9},
      {"ratio_of_ceiling", *gemm_s / *step_s},
  };
  if (peak >
      0) {  // CPU: against the FMA peak of the same threads, measured now
    j["fma_peak_gflops"] = peak;
    j["fma_peak_isa"] = isa;
    j["step_fraction_of_fma_peak"] = gemm_flops / *step_s / 1e9 / peak;
  }
  std::printf("%s\n", j.dump().c_str());
  return 0;
}

}  // namespace
}  // namespace ladle

int main(int argc, char** argv) {
  ladle::Options o;
  CLI::App app{"One MLP training step against the GEMM ceiling of its shapes"};
  app.add_option("--device", o.device, "auto, cpu, cuda or cuda:N");
  app.add_option("--threads", o.threads, "CPU backend threads")
      ->check(CLI::Range(1, 256));
  app.add_option("--hidden", o.hidden, "hidden widths")->delimiter(',');
  app.add_option("--batch", o.batch, "rows per step")
      ->check(CLI::Range(1, 1 << 20));
  app.add_option("--steps", o.steps, "timed steps")
      ->check(CLI::Range(1, 100000));
  CLI11_PARSE(app, argc, argv);
  return ladle::Run(o);
}
