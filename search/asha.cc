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
      rungs_(top_rung_ + 1),
      promoted_(top_rung_ + 1),
      keys_(top_rung_ + 1) {}

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
      static_cast<double>(rung.size()) / options_.reduction_factor + 1e-9));
}

void Asha::Report(int64_t trial, int rung, double value) {
  if (rung < 0 || rung > top_rung_) return;
  const double key = SortKey(value);
  if (!keys_[rung].emplace(trial, key).second) return;  // reported already
  rungs_[rung].emplace(key, trial);
}

SearchWork Asha::Next() {
  for (int k = top_rung_ - 1; k >= 0; --k) {
    const size_t top = TopCount(rungs_[k]);
    size_t i = 0;
    for (auto it = rungs_[k].begin(); it != rungs_[k].end() && i < top;
         ++it, ++i) {
      if (promoted_[k].insert(it->second).second) {
        SearchWork w;
        w.promote = true;
        w.trial = it->second;
        w.rung = k + 1;
        w.budget = budget(k + 1);
        return w;
      }
    }
  }
  SearchWork w;
  w.budget = budget(0);
  return w;
}

bool Asha::InTop(int64_t trial, int rung) const {
  auto key = keys_.at(rung).find(trial);
  if (key == keys_.at(rung).end()) return false;
  const Rung& r = rungs_.at(rung);
  const size_t top = TopCount(r);
  if (top == 0) return false;
  // Its position: the entries before it in the rung's order.
  const size_t before = static_cast<size_t>(
      std::distance(r.begin(), r.find({key->second, trial})));
  return before < top;
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
