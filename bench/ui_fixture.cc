// ladle-ui-fixture: writes a ladle.db for the web UI bench (bench/ui_bench.py)
// through the real store: `--experiments` finished experiments of one job each
// (the list page's load), and one finished sweep of `--jobs` jobs, each with
// a summary and `--points` points of two series (the experiment page's load).
// Values are synthetic (a noisy saturating curve), sizes are the bench's.
#include <cmath>
#include <iostream>
#include <random>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "server/store.h"

namespace {

struct Options {
  std::string db = "ladle.db";
  int experiments = 100000;
  int jobs = 1000;
  int points = 1000;
};

constexpr int64_t kT0 = 1796000000000;  // a fixed clock: same ids each run

ladle::ExperimentRecord Experiment(const std::string& id,
                                   const std::string& name,
                                   const std::string& spec, int64_t t) {
  ladle::ExperimentRecord e;
  e.id = id;
  e.name = name;
  e.kind = "train";
  e.owner = (t % 10 == 0) ? "bob" : "alice";
  e.spec = spec;
  e.state = "succeeded";
  e.created_ms = t;
  e.finished_ms = t + 1000;
  return e;
}

ladle::JobRecord Job(const std::string& exp, int index,
                     const std::string& params, double acc, int64_t t) {
  ladle::JobRecord j;
  j.id = absl::StrFormat("%s-%04d", exp, index);
  j.experiment_id = exp;
  j.index = index;
  j.kind = "train";
  j.spec = "{}";
  j.params = params;
  j.state = "succeeded";
  j.attempts = 1;
  j.worker_id = "w-bench";
  j.summary = absl::StrFormat(
      R"({"test_accuracy": %.4f, "val_accuracy": %.4f, "train_seconds": 12.5})",
      acc, acc + 0.002);
  j.updated_ms = t;
  return j;
}

absl::Status WriteList(ladle::Store& store, const Options& o) {
  const std::string spec = "name: small\ntrial: {model: {hidden: [16]}}\n";
  for (int start = 0; start < o.experiments; start += 5000) {
    ladle::WriteBatch b;
    for (int i = start; i < std::min(o.experiments, start + 5000); ++i) {
      const int64_t t = kT0 + i;
      const std::string id = absl::StrFormat("exp-list-%06d", i);
      b.new_experiments.push_back(
          {Experiment(id, absl::StrCat("sweep-", i), spec, t),
           {Job(id, 0, "{}", 0.85, t)}});
    }
    if (absl::Status st = store.Write(b); !st.ok()) return st;
  }
  return absl::OkStatus();
}

absl::Status WriteBig(ladle::Store& store, const Options& o) {
  const int64_t t = kT0 + o.experiments + 1;
  const std::string id = "exp-big-0000";
  const int seeds = 10, lrs = (o.jobs + seeds - 1) / seeds;
  std::string lr_list;
  for (int i = 0; i < lrs; ++i)
    absl::StrAppend(&lr_list, i ? ", " : "", 0.0001 * (i + 1));
  const std::string spec = absl::StrCat(
      "name: big-sweep\ntrial: {model: {hidden: [128]}, train: {epochs: 10}}\n"
      "sweep: {grid: {train.optimizer.lr: [",
      lr_list, "], train.seed: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]}}\n");
  ladle::NewExperiment big{Experiment(id, "big-sweep", spec, t), {}};
  std::mt19937 rng(7);
  std::normal_distribution<double> noise(0, 0.004);
  for (int i = 0; i < o.jobs; ++i) {
    const std::string params =
        absl::StrFormat(R"({"train.optimizer.lr": %g, "train.seed": %d})",
                        0.0001 * (i / seeds + 1), i % seeds + 1);
    big.jobs.push_back(Job(id, i, params, 0.85 + noise(rng), t));
  }
  ladle::WriteBatch b;
  b.new_experiments.push_back(big);
  if (absl::Status st = store.Write(b); !st.ok()) return st;
  for (int i = 0; i < o.jobs; ++i) {
    ladle::WriteBatch m;
    for (int s = 1; s <= o.points; ++s) {
      const double x = static_cast<double>(s) / o.points;
      const double acc = 0.88 - 0.3 * std::exp(-6 * x) + noise(rng);
      m.metrics.push_back(
          {big.jobs[i].id, i + 1, s * 10, "val_accuracy", acc, t + s});
      m.metrics.push_back({big.jobs[i].id, i + 1, s * 10, "train_loss",
                           0.3 + std::exp(-4 * x) + noise(rng), t + s});
    }
    if (absl::Status st = store.Write(m); !st.ok()) return st;
  }
  return absl::OkStatus();
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app{"ladle-ui-fixture: a ladle.db for bench/ui_bench.py"};
  app.add_option("--db", o.db, "the file to write (must not exist)");
  app.add_option("--experiments", o.experiments, "one-job experiments");
  app.add_option("--jobs", o.jobs, "jobs of the big sweep");
  app.add_option("--points", o.points, "points per series of each job");
  CLI11_PARSE(app, argc, argv);
  auto store = ladle::OpenSqliteStore(o.db);
  absl::Status st = store.status();
  if (st.ok()) st = WriteList(**store, o);
  if (st.ok()) st = WriteBig(**store, o);
  if (!st.ok()) {
    std::cerr << "ladle-ui-fixture: " << st << "\n";
    return 1;
  }
  std::cout << o.experiments << " experiments and exp-big-0000 (" << o.jobs
            << " jobs x 2 series x " << o.points << " points) in " << o.db
            << "\n";
  return 0;
}
