#include "search/searcher.h"

#include <cmath>

#include "common/random.h"
#include "common/status_macros.h"
#include "spec/sweep.h"  // SampleDimension

namespace ladle {
namespace {

using Json = nlohmann::json;
using Algorithm = SearchSpec::Algorithm;

constexpr int kDefaultConcurrent = 4;

AshaOptions AshaOf(const SearchSpec& s) {
  AshaOptions o;
  o.min_budget = s.budget_min;
  o.max_budget = s.budget_max;
  o.reduction_factor = s.reduction_factor;
  o.maximize = s.maximize;
  return o;
}

TpeOptions TpeOf(const SearchSpec& s) {
  TpeOptions o;
  o.n_startup_trials = s.tpe_startup_trials;
  o.n_ei_candidates = s.tpe_candidates;
  o.prior_weight = s.tpe_prior_weight;
  o.maximize = s.maximize;
  o.seed = s.seed;
  return o;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Searcher>> Searcher::Create(
    const SearchSpec& spec) {
  const bool budgeted = spec.algorithm == Algorithm::kAsha ||
                        spec.algorithm == Algorithm::kHyperband;
  if (budgeted) {
    if (absl::Status st = CheckAshaOptions(AshaOf(spec)); !st.ok())
      return absl::InvalidArgumentError("search.budget." +
                                        std::string(st.message()));
  }
  if (absl::Status st = CheckTpeOptions(TpeOf(spec)); !st.ok())
    return absl::InvalidArgumentError("search.tpe." +
                                      std::string(st.message()));
  return std::unique_ptr<Searcher>(new Searcher(spec));
}

Searcher::Searcher(const SearchSpec& spec) : spec_(spec) {
  if (spec.max_concurrent > 0) max_concurrent_ = spec.max_concurrent;
  if (spec.algorithm == Algorithm::kTpe || spec.tpe_sampler)
    tpe_ = std::make_unique<Tpe>(spec.space, TpeOf(spec));
  if (spec.algorithm == Algorithm::kAsha)
    asha_ = std::make_unique<Asha>(AshaOf(spec));
  if (spec.algorithm == Algorithm::kHyperband)
    hyperband_ = std::make_unique<Hyperband>(AshaOf(spec));
  if (spec.algorithm == Algorithm::kMedianStop || spec.median_stop_rule) {
    MedianStopping::Options o;
    o.min_completed = spec.median_min_completed;
    o.grace_steps = spec.median_grace_steps;
    o.maximize = spec.maximize;
    median_ = std::make_unique<MedianStopping>(o);
  }
}

Json Searcher::NewPoint() {
  if (tpe_) return tpe_->Ask();
  // Random: a stream per trial, so a point depends on its number only.
  Rng rng(
      SplitMix64(spec_.seed ^ SplitMix64(static_cast<uint64_t>(next_trial_))));
  Json point = Json::object();
  for (const SearchDimension& d : spec_.space)
    point[d.key] = SampleDimension(d, rng.Uniform());
  return point;
}

Json Searcher::WithBudget(Json point, double budget) const {
  if (spec_.budget_param.empty()) return point;
  // Epochs and steps are whole: an integral budget is written as one.
  if (budget == std::floor(budget) && std::abs(budget) < 1e15) {
    point[spec_.budget_param] = static_cast<int64_t>(budget);
  } else {
    point[spec_.budget_param] = budget;
  }
  return point;
}

std::optional<TrialLaunch> Searcher::NextLaunch() {
  if (spec_.algorithm == Algorithm::kExternal) return std::nullopt;
  SearchWork work;  // random, TPE, median stopping: new trials only
  if (asha_) work = asha_->Next();
  if (hyperband_) work = hyperband_->Next();
  TrialLaunch l;
  if (work.promote) {
    l.trial = work.trial;
    l.rung = work.rung;
    l.promoted = true;
    l.budget = work.budget;
    l.params = WithBudget(points_.at(work.trial), work.budget);
    return l;
  }
  if (next_trial_ >= spec_.max_trials) return std::nullopt;
  l.trial = next_trial_;
  l.budget = work.budget;
  const Json point = NewPoint();
  points_[l.trial] = point;
  if (hyperband_) hyperband_->Started(l.trial, work.bracket);
  ++next_trial_;
  l.params = WithBudget(point, work.budget);
  return l;
}

std::vector<TrialLaunch> Searcher::Fill() {
  std::vector<TrialLaunch> out;
  while (running_ < max_concurrent_) {
    std::optional<TrialLaunch> l = NextLaunch();
    if (!l) {
      exhausted_ = true;
      break;
    }
    exhausted_ = false;
    ++running_;
    out.push_back(*std::move(l));
  }
  return out;
}

std::vector<TrialLaunch> Searcher::Start() { return Fill(); }

TrialLaunch Searcher::AddTrial(Json params) {
  TrialLaunch l;
  l.trial = next_trial_++;
  points_[l.trial] = params;
  l.params = std::move(params);
  ++running_;
  return l;
}

std::vector<TrialLaunch> Searcher::OnResult(int64_t trial, int rung,
                                            double value) {
  auto point = points_.find(trial);
  if (point == points_.end() ||
      !ended_.emplace(std::make_pair(trial, rung), true).second)
    return {};
  --running_;
  if (asha_) asha_->Report(trial, rung, value);
  if (hyperband_) hyperband_->Report(trial, rung, value).IgnoreError();
  // TPE models one result per trial: its first segment's (all trials have
  // one, at the same budget within a bracket).
  if (tpe_ && rung == 0) tpe_->Tell(point->second, value);
  return Fill();
}

bool Searcher::ShouldStop(
    const std::vector<std::pair<int64_t, double>>& curve) const {
  return median_ != nullptr && median_->ShouldStop(curve);
}

void Searcher::Completed(const std::vector<std::pair<int64_t, double>>& curve) {
  if (median_) median_->Completed(curve);
}

bool Searcher::done() const {
  return spec_.algorithm != Algorithm::kExternal && running_ == 0 && exhausted_;
}

}  // namespace ladle
