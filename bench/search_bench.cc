// The searcher's cost per decision (issue 19's targets: a TPE proposal with
// 1,000 completed trials <= 1 ms; an ASHA decision <= 50 us). The space is the
// issue's: two log-uniform rates and a choice of three widths.
//   build/bin/search_bench [--benchmark_repetitions=5]
#include <benchmark/benchmark.h>

#include <cmath>

#include "common/random.h"
#include "search/asha.h"
#include "search/tpe.h"

namespace ladle {
namespace {

using Json = nlohmann::json;

std::vector<SearchDimension> Space() {
  return {{"train.optimizer.lr",
           SearchDimension::Kind::kLogUniform,
           1e-4,
           1e-1,
           {}},
          {"train.optimizer.weight_decay",
           SearchDimension::Kind::kLogUniform,
           1e-6,
           1e-2,
           {}},
          {"model.hidden",
           SearchDimension::Kind::kChoice,
           0,
           1,
           {Json({256}), Json({1024}), Json({512, 512})}}};
}

double Objective(const Json& p) {
  return -std::pow(std::log10(p["train.optimizer.lr"].get<double>()) + 2, 2) -
         0.1 * std::pow(
                   std::log10(p["train.optimizer.weight_decay"].get<double>()) +
                       4,
                   2);
}

void BM_TpeAsk(benchmark::State& state) {
  TpeOptions o;
  o.seed = 1;
  Tpe tpe(Space(), o);
  for (int i = 0; i < state.range(0); ++i) {
    const Json p = tpe.Ask();
    tpe.Tell(p, Objective(p));
  }
  for (auto _ : state) benchmark::DoNotOptimize(tpe.Ask());
}
BENCHMARK(BM_TpeAsk)->Arg(100)->Arg(1000)->Unit(benchmark::kMicrosecond);

void BM_AshaNext(benchmark::State& state) {
  AshaOptions o;
  o.max_budget = 27;
  Asha asha(o);
  Rng rng(7);
  const int trials = static_cast<int>(state.range(0));
  // Results at every rung as a search of `trials` would have them.
  for (int t = 0; t < trials; ++t) {
    asha.Report(t, 0, rng.Uniform());
    if (t % 3 == 0) asha.Report(t, 1, rng.Uniform());
    if (t % 9 == 0) asha.Report(t, 2, rng.Uniform());
  }
  int64_t next = trials;
  for (auto _ : state) {
    // A decision and the result it leads to, as in a running search.
    const SearchWork w = asha.Next();
    asha.Report(w.promote ? w.trial : next++, w.rung, rng.Uniform());
  }
}
BENCHMARK(BM_AshaNext)->Arg(1000)->Arg(10000);

}  // namespace
}  // namespace ladle

BENCHMARK_MAIN();
