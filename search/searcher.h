// A search's decisions as one state machine: which trials to start, which to
// promote or stop, and when it is done — for every `search.algorithm`, fed
// with results in the order they were stored. Pure: the coordinator persists
// the results and turns each launch into a job; replaying the stored results
// through a new Searcher gives the same launches (a restart loses, repeats and
// double-counts nothing).
//
// Trials are numbered from 0 in the order they start. A trial runs as one
// segment per rung (ASHA, Hyperband: budget r·η^k, resuming from the previous
// segment's checkpoint) or a single segment (random, TPE, median stopping).
// At most max_concurrent segments run at once (0 in the spec: 4).
//
// Thread safety: none.
#ifndef LADLE_SEARCH_SEARCHER_H_
#define LADLE_SEARCH_SEARCHER_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "search/asha.h"
#include "search/tpe.h"
#include "spec/search_spec.h"

namespace ladle {

// A segment to start.
struct TrialLaunch {
  int64_t trial = 0;
  int rung = 0;           // 0 unless ASHA / Hyperband promoted it
  bool promoted = false;  // resumes the trial's previous segment
  double budget = 0;      // ASHA / Hyperband: the budget param's value
  nlohmann::json params;  // the trial's point, with the budget param set
};

class Searcher {
 public:
  // INVALID_ARGUMENT for options the algorithms refuse (naming the key).
  static absl::StatusOr<std::unique_ptr<Searcher>> Create(
      const SearchSpec& spec);

  // The first segments (up to max_concurrent).
  std::vector<TrialLaunch> Start();
  // A segment ended: `value` is its metric (NaN: it failed or reported none).
  // Returns the segments to start now. Unknown or repeated: nothing.
  std::vector<TrialLaunch> OnResult(int64_t trial, int rung, double value);
  // External: a trial the outside optimizer proposed, numbered next.
  TrialLaunch AddTrial(nlohmann::json params);
  // Median stopping (or an external search with the rule): whether it
  // stops running trials early.
  bool stops_early() const { return median_ != nullptr; }
  // Median stopping: whether the running trial with this curve so far
  // ((step, value), steps increasing) should stop now. False for other
  // algorithms.
  bool ShouldStop(const std::vector<std::pair<int64_t, double>>& curve) const;
  // Median stopping: the curve of a trial that ended, for later decisions.
  void Completed(const std::vector<std::pair<int64_t, double>>& curve);

  // Nothing runs and nothing more will start.
  bool done() const;
  int64_t trials_started() const { return next_trial_; }
  int running() const { return running_; }
  const SearchSpec& spec() const { return spec_; }

 private:
  explicit Searcher(const SearchSpec& spec);
  // Launches while slots and trials remain.
  std::vector<TrialLaunch> Fill();
  // The next segment, if any: a promotion or a new trial.
  std::optional<TrialLaunch> NextLaunch();
  nlohmann::json NewPoint();
  nlohmann::json WithBudget(nlohmann::json point, double budget) const;

  SearchSpec spec_;
  int max_concurrent_ = 4;
  int64_t next_trial_ = 0;
  int running_ = 0;
  bool exhausted_ = false;    // the last Fill found nothing more to start
  std::unique_ptr<Tpe> tpe_;  // tpe, or the sampler of asha / hyperband
  std::unique_ptr<Asha> asha_;
  std::unique_ptr<Hyperband> hyperband_;
  std::unique_ptr<MedianStopping> median_;
  std::map<int64_t, nlohmann::json> points_;       // each trial's point
  std::map<std::pair<int64_t, int>, bool> ended_;  // (trial, rung) reported
};

}  // namespace ladle

#endif  // LADLE_SEARCH_SEARCHER_H_
