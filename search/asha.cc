#include "search/asha.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "absl/strings/str_cat.h"

namespace ladle {
namespace {

// floor(log_η(R/r)) with a tolerance, so that 27 = 1·3³ gives 3, not 2.
int RungsAbove(const AshaOptions& o) {
  return static_cast<int>(std::floor(std::log(o.max_budget / o.min_budget) /
                                         std::log(o.reduction_factor) +
                                     1e-9));
}

}  // namespace

absl::Status CheckAshaOptions(const AshaOptions& o) {
  if (!(o.min_budget > 0) || !std::isfinite(o.min_budget)) {
    return absl::InvalidArgumentError(
        absl::StrCat("min_budget: must be > 0, got ", o.min_budget));
  }
  if (!(o.max_budget >= o.min_budget) || !std::isfinite(o.max_budget)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "max_budget: must be >= min (", o.min_budget, "), got ", o.max_budget));
  }
  if (!(o.reduction_factor >= 2) || !std::isfinite(o.reduction_factor)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "reduction_factor: must be >= 2, got ", o.reduction_factor));
  }
  if (o.early_stopping_rate < 0 || o.early_stopping_rate > RungsAbove(o)) {
    return absl::InvalidArgumentError(
        absl::StrCat("early_stopping_rate: must be in [0, ", RungsAbove(o),
                     "], got ", o.early_stopping_rate));
  }
  return absl::OkStatus();
}

Asha::Asha(AshaOptions options)
    : options_(options),
      top_rung_(RungsAbove(options) - options.early_stopping_rate),
      rungs_(top_rung_ + 1) {}

double Asha::budget(int rung) const {
  const double b =
      options_.min_budget *
      std::pow(options_.reduction_factor, options_.early_stopping_rate + rung);
  return std::min(b, options_.max_budget);
}

double Asha::SortKey(double value) const {
  if (std::isnan(value)) return std::numeric_limits<double>::infinity();
  return options_.maximize ? -value : value;
}

size_t Asha::TopCount(const Rung& rung) const {
  return static_cast<size_t>(std::floor(
      static_cast<double>(rung.all.size()) / options_.reduction_factor + 1e-9));
}

void Asha::Report(int64_t trial, int rung, double value) {
  if (rung < 0 || rung > top_rung_) return;
  Rung& r = rungs_[rung];
  const double key = SortKey(value);
  if (!r.keys.emplace(trial, key).second) return;  // reported already
  r.all.insert({key, trial});
  r.waiting.insert({key, trial});
}

SearchWork Asha::Next() {
  for (int k = top_rung_ - 1; k >= 0; --k) {
    Rung& r = rungs_[k];
    if (r.waiting.empty()) continue;
    // The best trial not promoted yet: every better one was promoted, so
    // its rank is the number of promoted trials ahead of it.
    const Key best = *r.waiting.begin();
    if (best.first == std::numeric_limits<double>::infinity())
      continue;  // failed (NaN): never promoted
    if (r.promoted.order_of_key(best) >= TopCount(r)) continue;
    r.waiting.erase(r.waiting.begin());
    r.promoted.insert(best);
    SearchWork w;
    w.promote = true;
    w.trial = best.second;
    w.rung = k + 1;
    w.budget = budget(k + 1);
    return w;
  }
  SearchWork w;
  w.budget = budget(0);
  return w;
}

bool Asha::promoted(int64_t trial, int rung) const {
  const Rung& r = rungs_.at(rung);
  auto key = r.keys.find(trial);
  return key != r.keys.end() &&
         r.promoted.find({key->second, trial}) != r.promoted.end();
}

bool Asha::InTop(int64_t trial, int rung) const {
  const Rung& r = rungs_.at(rung);
  auto key = r.keys.find(trial);
  if (key == r.keys.end()) return false;
  return r.all.order_of_key({key->second, trial}) < TopCount(r);
}

Hyperband::Hyperband(AshaOptions options) {
  options.early_stopping_rate = 0;
  const int brackets = Asha(options).top_rung() + 1;
  for (int s = 0; s < brackets; ++s) {
    options.early_stopping_rate = s;
    brackets_.emplace_back(options);
  }
}

SearchWork Hyperband::Next() {
  for (int s = 0; s < brackets(); ++s) {
    SearchWork w = brackets_[s].Next();
    if (w.promote) {
      w.bracket = s;
      return w;
    }
  }
  SearchWork w;
  w.bracket = next_bracket_;
  w.budget = brackets_[w.bracket].budget(0);
  return w;
}

void Hyperband::Started(int64_t trial, int bracket) {
  bracket_of_[trial] = bracket;
  if (bracket == next_bracket_)
    next_bracket_ = (next_bracket_ + 1) % brackets();
}

absl::Status Hyperband::Report(int64_t trial, int rung, double value) {
  auto it = bracket_of_.find(trial);
  if (it == bracket_of_.end()) {
    return absl::InvalidArgumentError(
        absl::StrCat("trial ", trial, " was not started by this search"));
  }
  brackets_[it->second].Report(trial, rung, value);
  return absl::OkStatus();
}

void MedianStopping::Completed(
    const std::vector<std::pair<int64_t, double>>& curve) {
  Curve c;
  double sum = 0;
  for (const auto& [step, value] : curve) {
    if (std::isnan(value)) continue;
    sum += value;
    c.steps.push_back(step);
    c.prefix_sums.push_back(sum);
  }
  if (!c.steps.empty()) completed_.push_back(std::move(c));
}

bool MedianStopping::ShouldStop(
    const std::vector<std::pair<int64_t, double>>& curve) const {
  if (curve.empty() ||
      static_cast<int>(completed_.size()) < options_.min_completed)
    return false;
  const int64_t t = curve.back().first;
  if (t < options_.grace_steps) return false;
  double best = options_.maximize ? -std::numeric_limits<double>::infinity()
                                  : std::numeric_limits<double>::infinity();
  for (const auto& [step, value] : curve) {
    if (std::isnan(value)) continue;
    best = options_.maximize ? std::max(best, value) : std::min(best, value);
  }
  std::vector<double> averages;
  for (const Curve& c : completed_) {
    // The running average of its values at steps <= t.
    const size_t n = static_cast<size_t>(
        std::upper_bound(c.steps.begin(), c.steps.end(), t) - c.steps.begin());
    if (n > 0)
      averages.push_back(c.prefix_sums[n - 1] / static_cast<double>(n));
  }
  if (static_cast<int>(averages.size()) < options_.min_completed) return false;
  std::sort(averages.begin(), averages.end());
  const size_t m = averages.size();
  const double median = m % 2 == 1
                            ? averages[m / 2]
                            : 0.5 * (averages[m / 2 - 1] + averages[m / 2]);
  return options_.maximize ? best < median : best > median;
}

}  // namespace ladle
