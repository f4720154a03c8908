#include "search/search_run.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "spec/kind.h"

namespace ladle {

absl::StatusOr<std::unique_ptr<SearchRun>> SearchRun::Create(
    const ExperimentSpec& spec) {
  if (!spec.has_search)
    return absl::InvalidArgumentError("search: the spec has none");
  ASSIGN_OR_RETURN(const ExperimentKind* kind, GetKind(spec.kind));
  if (!kind->supports_search()) {
    return absl::InvalidArgumentError(
        absl::StrCat("search: kind ", spec.kind, " does not take a search"));
  }
  ASSIGN_OR_RETURN(std::unique_ptr<Searcher> searcher,
                   Searcher::Create(spec.search));
  return std::unique_ptr<SearchRun>(
      new SearchRun(spec, kind, std::move(searcher)));
}

absl::StatusOr<std::vector<SearchSegment>> SearchRun::Plan(
    const std::vector<TrialLaunch>& launches) {
  std::vector<SearchSegment> out;
  out.reserve(launches.size());
  for (const TrialLaunch& l : launches) {
    ASSIGN_OR_RETURN(std::vector<PlannedJob> jobs,
                     kind_->PlanPoints(spec_, {l.params}, next_index_));
    if (jobs.size() != 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("search: a trial of kind ", spec_.kind, " plans ",
                       jobs.size(), " jobs; a search runs one job per trial"));
    }
    SearchSegment s;
    s.job = std::move(jobs.front());
    s.job.index = next_index_++;
    s.trial = l.trial;
    s.rung = l.rung;
    s.budget = l.budget;
    if (l.promoted) {
      auto prev = index_of_.find({l.trial, l.rung - 1});
      if (prev != index_of_.end()) s.resume_index = prev->second;
    }
    index_of_[{l.trial, l.rung}] = s.job.index;
    segments_[s.job.index] = {l.trial, l.rung};
    out.push_back(std::move(s));
  }
  return out;
}

absl::StatusOr<std::vector<SearchSegment>> SearchRun::Start() {
  return Plan(searcher_->Start());
}

absl::Status SearchRun::Restore(const std::vector<StoredSegment>& stored,
                                bool closed,
                                std::vector<SearchSegment>* missing) {
  closed_ = closed;
  for (const StoredSegment& s : stored) {
    index_of_[{s.trial, s.rung}] = s.index;
    segments_[s.index] = {s.trial, s.rung};
    next_index_ = std::max(next_index_, s.index + 1);
  }
  std::vector<const StoredSegment*> results;
  for (const StoredSegment& s : stored)
    if (s.result_seq >= 0) results.push_back(&s);
  std::sort(results.begin(), results.end(),
            [](const StoredSegment* a, const StoredSegment* b) {
              return a->result_seq < b->result_seq;
            });
  std::vector<TrialLaunch> launched;
  if (spec_.search.algorithm == SearchSpec::Algorithm::kExternal) {
    // Its trials came from outside: the stored ones, in the order added.
    std::vector<const StoredSegment*> by_trial;
    for (const StoredSegment& s : stored) by_trial.push_back(&s);
    std::sort(by_trial.begin(), by_trial.end(),
              [](const StoredSegment* a, const StoredSegment* b) {
                return a->trial < b->trial;
              });
    for (const StoredSegment* s : by_trial) searcher_->AddTrial(s->params);
  } else {
    launched = searcher_->Start();
  }
  for (const StoredSegment* s : results) {
    searcher_->Completed(s->curve);
    std::vector<TrialLaunch> more =
        searcher_->OnResult(s->trial, s->rung, s->value);
    launched.insert(launched.end(), more.begin(), more.end());
    reported_.insert(s->index);
    next_seq_ = s->result_seq + 1;
  }
  std::vector<TrialLaunch> unstored;
  for (TrialLaunch& l : launched)
    if (!index_of_.count({l.trial, l.rung})) unstored.push_back(std::move(l));
  missing->clear();
  if (closed_ || unstored.empty()) return absl::OkStatus();
  ASSIGN_OR_RETURN(*missing, Plan(unstored));
  return absl::OkStatus();
}

absl::StatusOr<std::vector<SearchSegment>> SearchRun::OnResult(
    int index, double value, const MetricCurve& curve, int64_t* seq) {
  *seq = -1;
  auto s = segments_.find(index);
  if (s == segments_.end() || !reported_.insert(index).second)
    return std::vector<SearchSegment>{};
  *seq = next_seq_++;
  searcher_->Completed(curve);
  std::vector<TrialLaunch> launches =
      searcher_->OnResult(s->second.trial, s->second.rung, value);
  if (closed_) return std::vector<SearchSegment>{};
  return Plan(launches);
}

absl::StatusOr<std::vector<SearchSegment>> SearchRun::AddTrials(
    const std::vector<nlohmann::json>& points) {
  if (spec_.search.algorithm != SearchSpec::Algorithm::kExternal) {
    return absl::FailedPreconditionError(
        absl::StrCat("search.algorithm: this search is ",
                     AlgorithmName(spec_.search.algorithm),
                     "; only an external one takes trials from outside"));
  }
  if (closed_) {
    return absl::FailedPreconditionError(
        "the search is closed (or cancelled): it takes no more trials");
  }
  const int64_t limit = spec_.search.max_trials;
  if (limit > 0 &&
      searcher_->trials_started() + static_cast<int64_t>(points.size()) >
          limit) {
    return absl::FailedPreconditionError(absl::StrCat(
        "search.max_trials: ", searcher_->trials_started(), " of ", limit,
        " trials were added; ", points.size(), " more do not fit"));
  }
  // Planned first, all of them: a point that does not plan adds nothing.
  for (size_t i = 0; i < points.size(); ++i) {
    if (!points[i].is_object()) {
      return absl::InvalidArgumentError(
          absl::StrCat("params[", i, "]: must be a JSON object of parameters"));
    }
    absl::StatusOr<std::vector<PlannedJob>> planned =
        kind_->PlanPoints(spec_, {points[i]}, next_index_);
    if (!planned.ok()) {
      return absl::Status(planned.status().code(),
                          absl::StrCat("params[", i, "] ", points[i].dump(),
                                       ": ", planned.status().message()));
    }
  }
  std::vector<TrialLaunch> launches;
  for (const nlohmann::json& p : points)
    launches.push_back(searcher_->AddTrial(p));
  return Plan(launches);
}

bool SearchRun::ShouldStop(const MetricCurve& curve) const {
  return !closed_ && searcher_->ShouldStop(curve);
}

const SearchRun::SegmentInfo* SearchRun::segment(int index) const {
  auto s = segments_.find(index);
  return s == segments_.end() ? nullptr : &s->second;
}

double SearchValue(const std::string& summary_json, const std::string& metric,
                   const MetricCurve& curve) {
  const nlohmann::json summary =
      nlohmann::json::parse(summary_json, nullptr, false);
  if (summary.is_object()) {
    auto v = summary.find(metric);
    if (v != summary.end() && v->is_number()) return v->get<double>();
  }
  if (!curve.empty()) return curve.back().second;
  return std::numeric_limits<double>::quiet_NaN();
}

}  // namespace ladle
