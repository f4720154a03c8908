// The coordinator's submit path without gRPC, piece by piece: what one
// 1-job experiment costs in parsing, planning and storing, on this machine.
// `ladle-loadbench --submit_only` measures the same call through gRPC against
// the raw unary baseline; this says where the server's share goes.
#include <filesystem>
#include <string>

#include "absl/strings/str_cat.h"
#include "benchmark/benchmark.h"
#include "common/clock.h"
#include "server/coordinator.h"
#include "server/store.h"
#include "spec/experiment.h"
#include "spec/kind.h"

namespace ladle {
namespace {

const char kSpec[] = "name: bench\ntrial: {}\n";

void BM_ParseSpec(benchmark::State& state) {
  for (auto _ : state) {
    auto spec = ParseExperimentSpec(kSpec, ParseOptions{});
    benchmark::DoNotOptimize(spec);
  }
}
BENCHMARK(BM_ParseSpec);

void BM_PlanOneJob(benchmark::State& state) {
  auto spec = ParseExperimentSpec(kSpec, ParseOptions{});
  auto kind = GetKind(spec->kind);
  for (auto _ : state) {
    auto jobs = (*kind)->Plan(*spec);
    benchmark::DoNotOptimize(jobs);
  }
}
BENCHMARK(BM_PlanOneJob);

void BM_SubmitDryRun(benchmark::State& state) {
  auto store = OpenSqliteStore(":memory:");
  Coordinator c(Coordinator::Options{}, store->get(), SystemClock::Get());
  for (auto _ : state) {
    auto r = c.Submit(kSpec, "bench", /*dry_run=*/true);
    benchmark::DoNotOptimize(r);
  }
}
BENCHMARK(BM_SubmitDryRun);

// Stored and scheduled (no workers, so jobs queue up); one caller, so every
// submit pays its own transaction. Arg 0: 0 = :memory:, 1 = a WAL file with
// fsync (as ladle-server runs); arg 1: 1 = each submit carries a fresh request
// id (as `ladle submit` sends), which costs a lookup and a row more.
void BM_Submit(benchmark::State& state) {
  const std::string dir = (std::filesystem::temp_directory_path() /
                           absl::StrCat("ladle-submit-bench-", getpid()))
                              .string();
  std::filesystem::create_directories(dir);
  auto store = OpenSqliteStore(state.range(0) ? dir + "/ladle.db" : ":memory:");
  {
    Coordinator c(Coordinator::Options{}, store->get(), SystemClock::Get());
    int64_t n = 0;
    for (auto _ : state) {
      auto r = c.Submit(kSpec, "bench", /*dry_run=*/false,
                        state.range(1) ? absl::StrCat("req-", n++) : "");
      if (!r.ok()) state.SkipWithError(r.status().ToString().c_str());
    }
  }
  store->reset();
  std::filesystem::remove_all(dir);
}
BENCHMARK(BM_Submit)
    ->Args({0, 0})
    ->Args({0, 1})
    ->Args({1, 0})
    ->Args({1, 1})
    ->MeasureProcessCPUTime()
    ->UseRealTime();

}  // namespace
}  // namespace ladle

BENCHMARK_MAIN();
