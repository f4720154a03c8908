// The `search:` section of an experiment spec: an adaptive search over a
// space of parameters, run by the coordinator's searcher instead of a fixed
// sweep (docs/EXPERIMENTS.md, "Search").
//
//   search:
//     algorithm: asha            # random | tpe | asha | hyperband |
//     median_stop | external metric: val_accuracy       # a key of the trials'
//     metrics / summary mode: max                  # or min space:
//     {train.optimizer.lr: {loguniform: [1.0e-4, 1.0e-1]}} max_trials: 64
//     max_concurrent: 8          # 0 (default): as many as the workers take
//     seed: 7
//     budget: {param: train.epochs, min: 1, max: 27, reduction_factor: 3}
//     sampler: tpe               # asha / hyperband: where new trials come from
//     tpe: {n_startup_trials: 10, n_ei_candidates: 24, prior_weight: 1.0}
//     median_stop: {min_completed: 3, grace_steps: 0}
//
// Pure parsing and validation; the algorithms are in search/.
#ifndef LADLE_SPEC_SEARCH_SPEC_H_
#define LADLE_SPEC_SEARCH_SPEC_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "nlohmann/json.hpp"

namespace ladle {

class YamlNode;

// One dimension of a search space (and of a random sweep).
struct SearchDimension {
  enum class Kind { kUniform, kLogUniform, kRandInt, kChoice };
  std::string key;  // dotted path into the trial spec (command: a parameter)
  Kind kind = Kind::kUniform;
  double low = 0, high = 1;
  std::vector<nlohmann::json> choices;
};

struct SearchSpec {
  enum class Algorithm {
    kRandom,
    kTpe,
    kAsha,
    kHyperband,
    kMedianStop,
    kExternal
  };
  Algorithm algorithm = Algorithm::kRandom;
  std::string metric;
  bool maximize = true;
  std::vector<SearchDimension> space;
  int64_t max_trials = 0;  // 0 only for external (no limit)
  int max_concurrent = 0;  // 0: as many as fit
  uint64_t seed = 1;
  // asha / hyperband: the parameter that sets a trial's budget, and its
  // range (rungs min·η^k up to max).
  std::string budget_param;
  double budget_min = 0, budget_max = 0, reduction_factor = 3;
  bool tpe_sampler = false;  // asha / hyperband: new trials from TPE
  int tpe_startup_trials = 10, tpe_candidates = 24;
  double tpe_prior_weight = 1.0;
  int median_min_completed = 3;
  int64_t median_grace_steps = 0;
  // external: a `median_stop:` section given, so Ladle stops an outside
  // optimizer's trials that fall behind (its pruning).
  bool median_stop_rule = false;
};

// The name `algorithm:` takes for each.
const char* AlgorithmName(SearchSpec::Algorithm a);

// Reads `search:` (a mapping); INVALID_ARGUMENT names the key. `max_trials`
// is capped by `max_jobs` (the server's jobs per experiment).
absl::Status ParseSearch(const YamlNode& node, int64_t max_jobs,
                         SearchSpec* search);

}  // namespace ladle

#endif  // LADLE_SPEC_SEARCH_SPEC_H_
