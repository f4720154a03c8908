// CPU GEMM: oneDNN vs OpenBLAS on the shapes one training step of the MLP
// 784-1024-1024-10 runs (forward, weight gradient, input gradient), fp32.
// Prints GFLOP/s per library and shape. The faster library is LADLE_CPU_GEMM's
// default (docs/PERFORMANCE.md has the figures).
//
//   build/bin/gemm_bench --threads=2
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "benchmark/benchmark.h"
#include "common/random.h"
#include "kernels/cpu/gemm.h"

namespace ladle {
namespace {

struct Shape {
  const char* name;
  bool ta, tb;
  int64_t m, n, k;
};

// For batch B: forward x[B,in] W^T; dW = dy^T x; dx = dy W.
std::vector<Shape> StepShapes(int64_t b) {
  std::vector<Shape> s;
  const int64_t dims[][2] = {{784, 1024}, {1024, 1024}, {1024, 10}};
  for (const auto& d : dims) {
    s.push_back({"fwd", false, true, b, d[1], d[0]});
    s.push_back({"dW", true, false, d[1], d[0], b});
    if (d[0] != 784) s.push_back({"dx", false, false, b, d[0], d[1]});
  }
  return s;
}

void BM_TrainingStepGemms(benchmark::State& state, CpuGemmLibrary lib,
                          int64_t batch) {
  const std::vector<Shape> shapes = StepShapes(batch);
  std::vector<std::vector<float>> a, b, c;
  Rng rng(1);
  double flops = 0;
  for (const Shape& s : shapes) {
    a.emplace_back(s.m * s.k);
    b.emplace_back(s.k * s.n);
    c.emplace_back(s.m * s.n);
    for (auto& v : a.back()) v = static_cast<float>(rng.Normal());
    for (auto& v : b.back()) v = static_cast<float>(rng.Normal());
    flops += 2.0 * s.m * s.n * s.k;
  }
  for (auto _ : state) {
    for (size_t i = 0; i < shapes.size(); ++i) {
      const Shape& s = shapes[i];
      auto st = CpuSgemm(lib, s.ta, s.tb, s.m, s.n, s.k, 1.0f, a[i].data(),
                         b[i].data(), 0.0f, c[i].data());
      if (!st.ok()) state.SkipWithError(std::string(st.message()).c_str());
    }
    benchmark::DoNotOptimize(c[0].data());
  }
  state.counters["GFLOP/s"] = benchmark::Counter(
      flops * state.iterations() / 1e9, benchmark::Counter::kIsRate);
}

}  // namespace
}  // namespace ladle

int main(int argc, char** argv) {
  int threads = 2;
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], "--threads=", 10) == 0)
      threads = std::atoi(argv[i] + 10);
  }
  ladle::SetCpuThreads(threads);
  for (int64_t batch : {128, 512}) {
    for (auto lib :
         {ladle::CpuGemmLibrary::kOneDnn, ladle::CpuGemmLibrary::kOpenBlas}) {
      const std::string name = "mlp_step_gemms/" +
                               ladle::CpuGemmLibraryName(lib) + "/batch" +
                               std::to_string(batch);
      benchmark::RegisterBenchmark(name.c_str(), ladle::BM_TrainingStepGemms,
                                   lib, batch)
          ->Unit(benchmark::kMillisecond)
          ->MinTime(1.0)
          ->UseRealTime();
    }
  }
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  return 0;
}
