// One experiment's search as jobs: turns the Searcher's launches into planned
// jobs of the experiment's kind (each segment one job, indexed after the
// experiment's last), feeds it the jobs' results in the order they are
// stored, and rebuilds itself from the stored jobs after a restart.
//
// Durability contract (the coordinator keeps it): a result's sequence number,
// its value and the jobs it launches are stored in one write, so replaying
// the stored results in sequence order through a fresh Searcher reproduces
// every stored job (same trial, rung and point) and nothing else: a restart
// loses, repeats and double-counts nothing. Closing the search (cancel, or
// an external search closed) is stored too; launches after it are dropped.
//
// Pure: no store, no gRPC. Thread safety: none.
#ifndef LADLE_SEARCH_SEARCH_RUN_H_
#define LADLE_SEARCH_SEARCH_RUN_H_

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "search/searcher.h"
#include "spec/experiment.h"

namespace ladle {

class ExperimentKind;

// A metric curve: (step, value), steps increasing.
using MetricCurve = std::vector<std::pair<int64_t, double>>;

// A segment to store and run as a job.
struct SearchSegment {
  PlannedJob job;  // job.index: its index in the experiment
  int64_t trial = 0;
  int rung = 0;
  double budget = 0;      // ASHA / Hyperband: the budget param's value
  int resume_index = -1;  // promoted: the previous segment's job index
};

// A stored segment, for Restore.
struct StoredSegment {
  int index = 0;
  int64_t trial = 0;
  int rung = 0;
  int64_t result_seq = -1;  // -1: no result yet
  double value = 0;         // NaN: none
  MetricCurve curve;        // median stopping: the job's metric curve
  nlohmann::json params;    // external: the trial's point as added
};

class SearchRun {
 public:
  // `spec.has_search`, of a kind that supports search. INVALID_ARGUMENT for
  // options the algorithms refuse (naming the key).
  static absl::StatusOr<std::unique_ptr<SearchRun>> Create(
      const ExperimentSpec& spec);

  // A new search's first segments, indexed from 0.
  absl::StatusOr<std::vector<SearchSegment>> Start();

  // Rebuilds the state of a search whose jobs are `stored` (any order) from
  // its stored results, in result_seq order. Segments the replay launches
  // that are not stored (none, unless a write was lost) come back in
  // `missing`, planned, unless the search is `closed`.
  absl::Status Restore(const std::vector<StoredSegment>& stored, bool closed,
                       std::vector<SearchSegment>* missing);

  // Job `index` ended with `value` (NaN: it failed or reported no metric);
  // `curve`: its metric curve (median stopping). `*seq` gets the result's
  // sequence number (store it with the result). Returns the segments to
  // start now: none once closed, or for a job that is not a segment or
  // already reported (then `*seq` is -1).
  absl::StatusOr<std::vector<SearchSegment>> OnResult(int index, double value,
                                                      const MetricCurve& curve,
                                                      int64_t* seq);

  // An external search's new trials (ask/tell: points an outside optimizer
  // proposed), planned as jobs. FAILED_PRECONDITION for a search that is not
  // external, a closed one, or past max_trials; INVALID_ARGUMENT names the
  // point (`params[i]`) that does not plan. All or none.
  absl::StatusOr<std::vector<SearchSegment>> AddTrials(
      const std::vector<nlohmann::json>& points);

  // Whether it stops running trials early (median stopping rule).
  bool stops_early() const { return searcher_->stops_early(); }
  // Median stopping: whether a running job with this curve should stop.
  bool ShouldStop(const MetricCurve& curve) const;

  // Starts nothing more (what runs still reports); Cancel also marks it
  // cancelled.
  void Close() { closed_ = true; }
  void Cancel() { closed_ = cancelled_ = true; }
  bool closed() const { return closed_; }
  bool cancelled() const { return cancelled_; }
  // Nothing more will start: closed, or the searcher is done.
  bool finished() const { return closed_ || searcher_->done(); }

  // The segment of job `index`; null when it is not one.
  struct SegmentInfo {
    int64_t trial = 0;
    int rung = 0;
  };
  const SegmentInfo* segment(int index) const;
  const SearchSpec& search() const { return spec_.search; }
  const ExperimentSpec& spec() const { return spec_; }
  int64_t trials_started() const { return searcher_->trials_started(); }

 private:
  SearchRun(ExperimentSpec spec, const ExperimentKind* kind,
            std::unique_ptr<Searcher> searcher)
      : spec_(std::move(spec)), kind_(kind), searcher_(std::move(searcher)) {}
  // Plans `launches` as jobs from next_index_ on.
  absl::StatusOr<std::vector<SearchSegment>> Plan(
      const std::vector<TrialLaunch>& launches);

  ExperimentSpec spec_;
  const ExperimentKind* kind_;
  std::unique_ptr<Searcher> searcher_;
  std::map<std::pair<int64_t, int>, int> index_of_;  // (trial, rung) -> job
  std::map<int, SegmentInfo> segments_;              // job index -> segment
  std::set<int> reported_;                           // jobs with a result
  int next_index_ = 0;
  int64_t next_seq_ = 0;
  bool closed_ = false;
  bool cancelled_ = false;
};

// A segment's value: `metric` in its summary (a JSON object), else the last
// point of that series in `curve`; NaN when neither has one.
double SearchValue(const std::string& summary_json, const std::string& metric,
                   const MetricCurve& curve);

}  // namespace ladle

#endif  // LADLE_SEARCH_SEARCH_RUN_H_
