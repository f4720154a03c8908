// ASHA against random search on ladle-train Fashion-MNIST, in process: the
// search library's decisions (search/searcher.h) over real training runs,
// before the coordinator runs searches as jobs. Same space and number of
// trials for both; random search trains every trial to the full budget, ASHA
// promotes the top 1/η of each rung and resumes a promoted trial from its last
// segment's model.safetensors (bit for bit the straight run: constant LR). The
// best trial is the one with the best validation accuracy (at its highest
// rung); its test accuracy is reported, with the epochs each search trained.
//   build/bin/asha_quality --seeds 5 --trials 27 --limit 10000
#include <cmath>
#include <filesystem>
#include <iostream>

#include "CLI/CLI.hpp"
#include "absl/strings/str_format.h"
#include "search/searcher.h"
#include "spec/train_spec.h"
#include "train/trainer.h"

namespace ladle {
namespace {

using Json = nlohmann::json;

struct Outcome {
  double val = 0, test = 0;
};

struct Bench {
  int64_t limit = 10000;
  int max_epochs = 9;
  std::string dir;
  int64_t runs = 0;

  SearchSpec Spec(SearchSpec::Algorithm algorithm, int trials,
                  uint64_t seed) const {
    SearchSpec s;
    s.algorithm = algorithm;
    s.metric = "val_accuracy";
    s.space = {
        {"lr", SearchDimension::Kind::kLogUniform, 1e-4, 1e-1, {}},
        {"weight_decay", SearchDimension::Kind::kLogUniform, 1e-6, 1e-2, {}},
        {"hidden",
         SearchDimension::Kind::kChoice,
         0,
         1,
         {Json({256}), Json({1024}), Json({512, 512})}}};
    s.max_trials = trials;
    s.max_concurrent = 1;  // one at a time: the order is the searcher's
    s.seed = seed;
    if (algorithm == SearchSpec::Algorithm::kAsha) {
      s.budget_param = "epochs";
      s.budget_min = 1;
      s.budget_max = max_epochs;
      s.reduction_factor = 3;
    }
    return s;
  }

  // Trains a trial's point to `epochs`, from `resume` if given.
  absl::StatusOr<Outcome> Train(const Json& p, int epochs, uint64_t seed,
                                const std::string& out,
                                const std::string& resume) {
    const std::string yaml = absl::StrFormat(
        "model: {type: mlp, hidden: %s}\n"
        "data: {dataset: fashion-mnist, limit: %d}\n"
        "train: {epochs: %d, batch_size: 128, seed: %d, optimizer: {name: "
        "adamw, lr: %.17g, weight_decay: %.17g}}\nthreads: 2\n",
        p["hidden"].dump(), limit, epochs, seed, p["lr"].get<double>(),
        p["weight_decay"].get<double>());
    absl::StatusOr<TrainSpec> spec = ParseTrainSpec(yaml);
    if (!spec.ok()) return spec.status();
    TrainOptions o;
    o.out_dir = out;
    o.resume_from = resume;
    o.log_progress = false;
    std::filesystem::create_directories(out);
    absl::StatusOr<TrainResult> r = RunTrial(*spec, o);
    if (!r.ok()) return r.status();
    ++runs;
    return Outcome{r->summary["val_accuracy"].get<double>(),
                   r->summary["test_accuracy"].get<double>()};
  }

  // Runs a search to the end; returns the best trial's outcome and the
  // epochs trained.
  absl::StatusOr<std::pair<Outcome, int64_t>> Run(const SearchSpec& spec,
                                                  const std::string& tag) {
    absl::StatusOr<std::unique_ptr<Searcher>> s = Searcher::Create(spec);
    if (!s.ok()) return s.status();
    std::vector<TrialLaunch> pending = (*s)->Start();
    std::map<int64_t, std::pair<int, Outcome>> best_rung;  // trial -> top
    int64_t epochs = 0;
    while (!pending.empty()) {
      const TrialLaunch l = pending.front();
      pending.erase(pending.begin());
      const int budget =
          spec.budget_param.empty() ? max_epochs : static_cast<int>(l.budget);
      const std::string out =
          absl::StrFormat("%s/%s/t%d_r%d", dir, tag, l.trial, l.rung);
      const std::string resume =
          l.promoted ? absl::StrFormat("%s/%s/t%d_r%d/model.safetensors", dir,
                                       tag, l.trial, l.rung - 1)
                     : "";
      const int before = l.promoted ? best_rung[l.trial].first : 0;
      absl::StatusOr<Outcome> o =
          Train(l.params, budget, 1000 + l.trial, out, resume);
      if (!o.ok()) return o.status();
      epochs += budget - before;
      best_rung[l.trial] = {budget, *o};
      for (TrialLaunch& n : (*s)->OnResult(l.trial, l.rung, o->val))
        pending.push_back(n);
    }
    // The best by validation accuracy, among the trials that went furthest.
    int top = 0;
    for (const auto& [t, r] : best_rung) top = std::max(top, r.first);
    Outcome best{-1, 0};
    for (const auto& [t, r] : best_rung)
      if (r.first == top && r.second.val > best.val) best = r.second;
    return std::make_pair(best, epochs);
  }
};

}  // namespace
}  // namespace ladle

int main(int argc, char** argv) {
  CLI::App app("ASHA vs random search on ladle-train Fashion-MNIST");
  int seeds = 5, trials = 27;
  ladle::Bench b;
  app.add_option("--seeds", seeds)->check(CLI::Range(1, 100));
  app.add_option("--trials", trials)->check(CLI::Range(1, 1000));
  app.add_option("--limit", b.limit, "training images");
  app.add_option("--max_epochs", b.max_epochs);
  CLI11_PARSE(app, argc, argv);
  b.dir =
      (std::filesystem::temp_directory_path() / "ladle_asha_quality").string();
  std::filesystem::remove_all(b.dir);
  std::cout << "seed  random: test acc (epochs)   asha: test acc (epochs)\n";
  double sum_r = 0, sum_a = 0, sq_r = 0, sq_a = 0, ep_r = 0, ep_a = 0;
  for (int seed = 1; seed <= seeds; ++seed) {
    auto r = b.Run(b.Spec(ladle::SearchSpec::Algorithm::kRandom, trials, seed),
                   absl::StrFormat("random%d", seed));
    auto a = b.Run(b.Spec(ladle::SearchSpec::Algorithm::kAsha, trials, seed),
                   absl::StrFormat("asha%d", seed));
    if (!r.ok() || !a.ok()) {
      std::cerr << (r.ok() ? a.status() : r.status()) << "\n";
      return 1;
    }
    std::cout << absl::StrFormat("%4d  %.4f (%4d)              %.4f (%4d)\n",
                                 seed, r->first.test, r->second, a->first.test,
                                 a->second);
    sum_r += r->first.test, sq_r += r->first.test * r->first.test;
    sum_a += a->first.test, sq_a += a->first.test * a->first.test;
    ep_r += r->second, ep_a += a->second;
  }
  auto stats = [&](double sum, double sq) {
    const double mean = sum / seeds;
    const double var = seeds > 1 ? (sq - seeds * mean * mean) / (seeds - 1) : 0;
    return absl::StrFormat("%.4f ± %.4f", mean, std::sqrt(std::max(0.0, var)));
  };
  std::cout << "mean ± std over " << seeds << " seeds: random "
            << stats(sum_r, sq_r) << ", asha " << stats(sum_a, sq_a)
            << "; epochs asha/random = " << absl::StrFormat("%.3f", ep_a / ep_r)
            << "\n";
  std::filesystem::remove_all(b.dir);
  return 0;
}
