// Early-stopping schedulers of a search: asynchronous successive halving
// (ASHA: Li et al., "A System for Massively Parallel Hyperparameter Tuning",
// MLSys 2020, Algorithm 2), asynchronous Hyperband as brackets of ASHA, and
// the median stopping rule (Golovin et al., "Google Vizier", KDD 2017).
//
// Pure decision logic: trials are ids, budgets are numbers (epochs, steps),
// nothing runs, nothing is stored. The searcher feeds results in the order the
// store recorded them, so replaying that order after a restart rebuilds the
// same state and the same decisions. Ties break by trial id.
//
// Thread safety: none; the owner serialises calls.
#ifndef LADLE_SEARCH_ASHA_H_
#define LADLE_SEARCH_ASHA_H_

#include <cstdint>
#include <set>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "ext/pb_ds/assoc_container.hpp"
#include "ext/pb_ds/tree_policy.hpp"

namespace ladle {

struct AshaOptions {
  double min_budget = 1;        // r: the budget of rung 0 (with s = 0)
  double max_budget = 27;       // R: no rung's budget exceeds it
  double reduction_factor = 3;  // η: the top 1/η of a rung is promoted
  // s: rung k's budget is r·η^(s+k); Hyperband's bracket s starts at r·η^s.
  int early_stopping_rate = 0;
  bool maximize = true;  // the metric's direction
};

// INVALID_ARGUMENT naming the knob (min_budget, max_budget,
// reduction_factor, early_stopping_rate) when the options make no rungs.
absl::Status CheckAshaOptions(const AshaOptions& options);

// What a free slot should run next.
struct SearchWork {
  bool promote = false;  // false: a new trial at rung 0
  int64_t trial = -1;    // the trial to continue (promote)
  int rung = 0;          // the rung to run it to
  double budget = 0;     // that rung's budget
  int bracket = 0;       // Hyperband's bracket (0 for ASHA)
};

class Asha {
 public:
  // `options` must pass CheckAshaOptions.
  explicit Asha(AshaOptions options);

  // Rungs 0..top_rung(): K = floor(log_η(R/r)) − s.
  int top_rung() const { return top_rung_; }
  double budget(int rung) const;

  // Trial `trial` completed rung `rung` with `value` (NaN ranks last). A
  // second report of the same (trial, rung) is ignored.
  void Report(int64_t trial, int rung, double value);

  // Algorithm 2's get_job: from the highest rung below the top down, the
  // best trial in its rung's top ⌊n/η⌋ that was not promoted yet goes up one
  // rung (and counts as promoted); none: a new trial at rung 0.
  SearchWork Next();

  // Whether `trial`'s result at `rung` is in the rung's top ⌊n/η⌋ now (it
  // would be promoted); a trial that is not is paused, and may still be
  // promoted as more results arrive.
  bool InTop(int64_t trial, int rung) const;
  size_t results(int rung) const { return rungs_.at(rung).all.size(); }
  bool promoted(int64_t trial, int rung) const;

 private:
  // (sort key, trial), best first: the key is −value when maximizing. An
  // order-statistics tree: a result's rank in O(log n), so a decision costs
  // O(rungs · log n) however many results a rung holds.
  using Key = std::pair<double, int64_t>;
  using RankedSet =
      __gnu_pbds::tree<Key, __gnu_pbds::null_type, std::less<Key>,
                       __gnu_pbds::rb_tree_tag,
                       __gnu_pbds::tree_order_statistics_node_update>;
  struct Rung {
    RankedSet all, promoted;  // every result; those promoted from here
    std::set<Key> waiting;    // not promoted, best first
    std::unordered_map<int64_t, double> keys;  // trial -> sort key
  };
  double SortKey(double value) const;
  size_t TopCount(const Rung& rung) const;

  AshaOptions options_;
  int top_rung_ = 0;
  std::vector<Rung> rungs_;
};

// Asynchronous Hyperband: brackets s = 0..s_max of ASHA (s_max = K at s = 0),
// new trials dealt to brackets in turn. Trial ids are global; each belongs to
// the bracket it was started in.
class Hyperband {
 public:
  explicit Hyperband(AshaOptions options);
  int brackets() const { return static_cast<int>(brackets_.size()); }
  const Asha& bracket(int s) const { return brackets_.at(s); }
  // A promotion from any bracket (lowest s first), else a new trial for the
  // next bracket in turn; call Started() with the new trial's id.
  SearchWork Next();
  void Started(int64_t trial, int bracket);
  // INVALID_ARGUMENT for a trial Started() did not name.
  absl::Status Report(int64_t trial, int rung, double value);

 private:
  std::vector<Asha> brackets_;
  std::unordered_map<int64_t, int> bracket_of_;
  int next_bracket_ = 0;
};

// The median stopping rule: a running trial at step t stops when its best
// value so far is worse than the median, over completed trials, of their
// running averages up to t. Only after `min_completed` trials completed and
// past `grace_steps`.
class MedianStopping {
 public:
  struct Options {
    int min_completed = 3;
    int64_t grace_steps = 0;
    bool maximize = true;
  };
  explicit MedianStopping(Options options) : options_(options) {}
  // A completed trial's curve: (step, value), steps increasing.
  void Completed(const std::vector<std::pair<int64_t, double>>& curve);
  // Whether a running trial with this curve (so far) should stop now.
  bool ShouldStop(const std::vector<std::pair<int64_t, double>>& curve) const;

 private:
  struct Curve {
    std::vector<int64_t> steps;
    std::vector<double> prefix_sums;  // of values, one per step
  };
  Options options_;
  std::vector<Curve> completed_;
};

}  // namespace ladle

#endif  // LADLE_SEARCH_ASHA_H_
