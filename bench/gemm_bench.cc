// CPU GEMM: oneDNN vs OpenBLAS (and ladle's own AVX-512 variant,
// bench/sgemm_avx512.h) on the shapes one training step of the MLP
// 784-1024-1024-10 runs (forward, weight gradient, input gradient), fp32.
// Prints GFLOP/s per library, for the step's GEMMs back to back and per shape
// at batch 512. The faster library is LADLE_CPU_GEMM's default
// (docs/PERFORMANCE.md has the figures). The AVX-512 variant is checked against
// oneDNN on odd shapes before anything is timed.
//
//   build/bin/gemm_bench --threads=2
//   build/bin/gemm_bench --threads=2 --check   (correctness only; a ctest)
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "bench/sgemm_avx512.h"
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

using GemmFn =
    std::function<void(const Shape&, const float*, const float*, float*)>;

GemmFn LibraryGemm(CpuGemmLibrary lib) {
  return [lib](const Shape& s, const float* a, const float* b, float* c) {
    absl::Status st =
        CpuSgemm(lib, s.ta, s.tb, s.m, s.n, s.k, 1.0f, a, b, 0.0f, c);
    if (!st.ok()) {
      std::fprintf(stderr, "gemm_bench: %s\n",
                   std::string(st.message()).c_str());
      std::exit(1);
    }
  };
}

void Avx512Gemm(const Shape& s, const float* a, const float* b, float* c) {
  Avx512Sgemm(s.ta, s.tb, s.m, s.n, s.k, 1.0f, a, s.ta ? s.m : s.k, b,
              s.tb ? s.k : s.n, 0.0f, c, s.n);
}

void BM_Gemms(benchmark::State& state, GemmFn gemm, std::vector<Shape> shapes) {
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
    for (size_t i = 0; i < shapes.size(); ++i)
      gemm(shapes[i], a[i].data(), b[i].data(), c[i].data());
    benchmark::DoNotOptimize(c[0].data());
  }
  state.counters["GFLOP/s"] = benchmark::Counter(
      flops * state.iterations() / 1e9, benchmark::Counter::kIsRate);
}

// The AVX-512 variant against oneDNN, every transpose case, edge tiles, alpha
// and beta, one thread and a team (both splits, several blocks of each loop);
// exits on a mismatch.
void CheckAvx512Variant() {
  const Shape cases[] = {
      {"", false, false, 13, 35, 17},
      {"", true, false, 25, 50, 33},
      {"", false, true, 7, 70, 40},
      {"", true, true, 30, 17, 200},
      {"", false, true, 130, 100, 1100},
      {"", true, false, 100, 784, 512},
      {"", false, false, 1, 1, 1},
      // Threads split rows (B shared), and columns in two blocks per thread.
      {"", true, true, 1000, 70, 300},
      {"", false, false, 20, 2100, 40}};
  Rng rng(7);
  for (const Shape& s : cases) {
    std::vector<float> a(s.m * s.k), b(s.k * s.n), c0(s.m * s.n), c1;
    for (auto& v : a) v = static_cast<float>(rng.Normal());
    for (auto& v : b) v = static_cast<float>(rng.Normal());
    for (auto& v : c0) v = static_cast<float>(rng.Normal());
    c1 = c0;
    const float alpha = 0.5f, beta = -1.25f;
    absl::Status st = CpuSgemm(CpuGemmLibrary::kOneDnn, s.ta, s.tb, s.m, s.n,
                               s.k, alpha, a.data(), b.data(), beta, c0.data());
    Avx512Sgemm(s.ta, s.tb, s.m, s.n, s.k, alpha, a.data(), s.ta ? s.m : s.k,
                b.data(), s.tb ? s.k : s.n, beta, c1.data(), s.n);
    double worst = 0;
    for (size_t i = 0; i < c0.size(); ++i) {
      const double err =
          std::fabs(c0[i] - c1[i]) /
          (1e-3 + std::sqrt(static_cast<double>(s.k)) + std::fabs(c0[i]));
      worst = std::max(worst, err);
    }
    if (!st.ok() || worst > 1e-5) {
      std::fprintf(stderr,
                   "gemm_bench: avx512 variant differs from oneDNN on "
                   "%c%c %lldx%lldx%lld (relative error %.3g)\n",
                   s.ta ? 'T' : 'N', s.tb ? 'T' : 'N',
                   static_cast<long long>(s.m), static_cast<long long>(s.n),
                   static_cast<long long>(s.k), worst);
      std::exit(1);
    }
  }
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
  if (argc > 1 && std::strcmp(argv[argc - 1], "--check") == 0) {
    // ctest: the AVX-512 variant's correctness only (77 = skipped).
    if (!ladle::Avx512SgemmAvailable()) {
      std::printf("no AVX-512 here: nothing to check\n");
      return 77;
    }
    ladle::CheckAvx512Variant();
    std::printf("avx512 variant matches oneDNN\n");
    return 0;
  }
  using ladle::CpuGemmLibrary;
  std::vector<std::pair<std::string, ladle::GemmFn>> gemms = {
      {"onednn", ladle::LibraryGemm(CpuGemmLibrary::kOneDnn)},
      {"openblas", ladle::LibraryGemm(CpuGemmLibrary::kOpenBlas)}};
  if (ladle::Avx512SgemmAvailable()) {
    ladle::CheckAvx512Variant();
    gemms.push_back({"ladle_avx512", ladle::Avx512Gemm});
  }
  auto add = [](const std::string& name, ladle::GemmFn fn,
                std::vector<ladle::Shape> shapes) {
    benchmark::RegisterBenchmark(name.c_str(), ladle::BM_Gemms, fn, shapes)
        ->Unit(benchmark::kMillisecond)
        ->MinTime(1.0)
        ->UseRealTime();
  };
  for (int64_t batch : {128, 512}) {
    for (const auto& [lib, fn] : gemms)
      add("mlp_step_gemms/" + lib + "/batch" + std::to_string(batch), fn,
          ladle::StepShapes(batch));
  }
  for (const ladle::Shape& s : ladle::StepShapes(512)) {
    if (s.m < 32 || s.n < 32 || s.k < 32) continue;  // the tiny last layer
    const std::string shape = std::string(s.name) + "_" + std::to_string(s.m) +
                              "x" + std::to_string(s.n) + "x" +
                              std::to_string(s.k);
    for (const auto& [lib, fn] : gemms) {
      if (lib == "openblas") continue;
      add("shape/" + shape + "/" + lib, fn, {s});
    }
  }
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  return 0;
}
