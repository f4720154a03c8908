#include "search/tpe.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "absl/strings/str_cat.h"
#include "spec/sweep.h"  // SampleDimension

namespace ladle {
namespace {

using Json = nlohmann::json;

constexpr double kTiny = 1e-300;  // a mass floor before its log

// Φ(b) − Φ(a) for a <= b, from the tail where it does not cancel.
double GaussMass(double a, double b) {
  const double r = 1.0 / std::sqrt(2.0);
  if (a >= 0) return 0.5 * (std::erfc(a * r) - std::erfc(b * r));
  if (b <= 0) return 0.5 * (std::erfc(-b * r) - std::erfc(-a * r));
  return 1.0 - 0.5 * (std::erfc(-a * r) + std::erfc(b * r));
}

double LogSumExp(const std::vector<double>& v) {
  const double m = *std::max_element(v.begin(), v.end());
  if (!std::isfinite(m)) return m;
  double s = 0;
  for (double x : v) s += std::exp(x - m);
  return m + std::log(s);
}

std::vector<double> Normalized(std::vector<double> w) {
  const double sum = std::accumulate(w.begin(), w.end(), 0.0);
  for (double& x : w) x /= sum;
  return w;
}

// Component i by the cumulative weights.
size_t Pick(const std::vector<double>& weights, Rng& rng) {
  const double u = rng.Uniform();
  double cumulative = 0;
  for (size_t i = 0; i < weights.size(); ++i) {
    cumulative += weights[i];
    if (u < cumulative) return i;
  }
  return weights.size() - 1;
}

// The value of a numeric parameter in the estimator's space, or NaN.
double Modelled(const SearchDimension& d, const Json& v) {
  if (!v.is_number()) return std::nan("");
  const double x = v.get<double>();
  if (d.kind == SearchDimension::Kind::kLogUniform)
    return x > 0 ? std::log(x) : std::nan("");
  return x;
}

}  // namespace

absl::Status CheckTpeOptions(const TpeOptions& o) {
  if (o.n_startup_trials < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "n_startup_trials: must be >= 0, got ", o.n_startup_trials));
  }
  if (o.n_ei_candidates < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("n_ei_candidates: must be >= 1, got ", o.n_ei_candidates));
  }
  if (!(o.prior_weight > 0) || !std::isfinite(o.prior_weight)) {
    return absl::InvalidArgumentError(
        absl::StrCat("prior_weight: must be > 0, got ", o.prior_weight));
  }
  return absl::OkStatus();
}

int TpeGamma(int n) {
  return std::min(static_cast<int>(std::ceil(0.1 * n)), 25);
}

std::vector<double> TpeWeights(int n) {
  if (n < 25) return std::vector<double>(n, 1.0);
  // A ramp of n − 25 from 1/n to 1 (inclusive), then 25 ones.
  std::vector<double> w;
  const int ramp = n - 25;
  for (int i = 0; i < ramp; ++i) {
    w.push_back(ramp == 1 ? 1.0 / n
                          : 1.0 / n + (1.0 - 1.0 / n) * i / (ramp - 1));
  }
  w.insert(w.end(), 25, 1.0);
  return w;
}

ParzenEstimator ParzenEstimator::Build(const std::vector<double>& observations,
                                       double low, double high,
                                       double prior_weight, double step) {
  ParzenEstimator p;
  p.low = low;
  p.high = high;
  p.step = step;
  const size_t n = observations.size();
  const double range = high - low;
  p.mus = observations;
  p.mus.push_back(0.5 * (low + high));  // the prior, last
  p.weights = TpeWeights(static_cast<int>(n));
  p.weights.push_back(prior_weight);
  p.weights = Normalized(std::move(p.weights));
  // σ: the larger gap to the sorted neighbours (the range's ends count as
  // neighbours, except that the outermost use their inner gap).
  const size_t m = p.mus.size();
  std::vector<size_t> order(m);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return p.mus[a] < p.mus[b]; });
  std::vector<double> ends = {low};
  for (size_t i : order) ends.push_back(p.mus[i]);
  ends.push_back(high);
  std::vector<double> sorted_sigmas(m);
  for (size_t i = 0; i < m; ++i)
    sorted_sigmas[i] =
        std::max(ends[i + 1] - ends[i], ends[i + 2] - ends[i + 1]);
  if (ends.size() >= 4) {
    sorted_sigmas[0] = ends[2] - ends[1];
    sorted_sigmas[m - 1] = ends[m] - ends[m - 1];
  }
  p.sigmas.resize(m);
  const double min_sigma =
      range / std::min(100.0, 1.0 + static_cast<double>(m));
  for (size_t i = 0; i < m; ++i)
    p.sigmas[order[i]] = std::clamp(sorted_sigmas[i], min_sigma, range);
  p.sigmas[n] = range;  // the prior's
  for (size_t i = 0; i < m; ++i) {
    const double z = GaussMass((low - p.mus[i]) / p.sigmas[i],
                               (high - p.mus[i]) / p.sigmas[i]);
    p.log_scale.push_back(std::log(p.weights[i]) -
                          std::log(std::max(z, kTiny)));
  }
  return p;
}

double ParzenEstimator::LogPdf(double x) const {
  std::vector<double> terms(mus.size());
  for (size_t i = 0; i < mus.size(); ++i) {
    const double mu = mus[i], s = sigmas[i];
    double log_density;
    if (step > 0) {
      const double a = std::max(x - step / 2, low),
                   b = std::min(x + step / 2, high);
      log_density =
          std::log(std::max(GaussMass((a - mu) / s, (b - mu) / s), kTiny));
    } else {
      const double t = (x - mu) / s;
      log_density = -0.5 * t * t - std::log(s) - 0.5 * std::log(2 * M_PI);
    }
    terms[i] = log_scale[i] + log_density;
  }
  return LogSumExp(terms);
}

double ParzenEstimator::Sample(Rng& rng) const {
  const size_t i = Pick(weights, rng);
  // Rejection from the component's normal: its mass inside [low, high] is
  // at least ~1/4 for every σ the estimator builds.
  for (int tries = 0; tries < 1000; ++tries) {
    const double x = mus[i] + sigmas[i] * rng.Normal();
    if (x >= low && x <= high) return x;
  }
  return std::clamp(mus[i], low, high);
}

CategoricalEstimator CategoricalEstimator::Build(
    const std::vector<int>& observations, int choices, double prior_weight) {
  const size_t n = observations.size();
  std::vector<double> w = TpeWeights(static_cast<int>(n));
  w.push_back(prior_weight);
  w = Normalized(std::move(w));
  CategoricalEstimator c;
  c.probabilities.assign(choices, w[n] / choices);  // the prior row
  const double smoothing = prior_weight / static_cast<double>(n + 1);
  const double row_sum = smoothing * choices + 1;
  for (size_t i = 0; i < n; ++i) {
    for (int k = 0; k < choices; ++k) {
      const double row = (smoothing + (k == observations[i] ? 1 : 0)) / row_sum;
      c.probabilities[k] += w[i] * row;
    }
  }
  return c;
}

double CategoricalEstimator::LogPdf(int choice) const {
  return std::log(std::max(probabilities.at(choice), kTiny));
}

int CategoricalEstimator::Sample(Rng& rng) const {
  return static_cast<int>(Pick(probabilities, rng));
}

Tpe::Tpe(std::vector<SearchDimension> space, TpeOptions options)
    : space_(std::move(space)), options_(options) {}

void Tpe::Tell(const Json& params, double value) {
  if (std::isnan(value)) return;
  trials_.emplace_back(params, options_.maximize ? -value : value);  // a loss
}

Json Tpe::Ask() {
  Rng rng(SplitMix64(options_.seed ^ SplitMix64(asks_++)));
  Json out = Json::object();
  const int n = static_cast<int>(trials_.size());
  if (n < options_.n_startup_trials) {
    for (const SearchDimension& d : space_)
      out[d.key] = SampleDimension(d, rng.Uniform());
    return out;
  }
  // The best γ(n) by loss (ties: the older) are good; both sets keep the
  // order the results arrived in, which the weights follow.
  std::vector<size_t> order(trials_.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return trials_[a].second < trials_[b].second;
  });
  const size_t n_good = static_cast<size_t>(TpeGamma(n));
  std::vector<size_t> good_idx(order.begin(), order.begin() + n_good);
  std::vector<size_t> bad_idx(order.begin() + n_good, order.end());
  std::sort(good_idx.begin(), good_idx.end());
  std::sort(bad_idx.begin(), bad_idx.end());
  std::vector<const Json*> good, bad;
  for (size_t i : good_idx) good.push_back(&trials_[i].first);
  for (size_t i : bad_idx) bad.push_back(&trials_[i].first);
  for (const SearchDimension& d : space_)
    out[d.key] = Propose(d, good, bad, rng);
  return out;
}

Json Tpe::Propose(const SearchDimension& d,
                  const std::vector<const Json*>& good,
                  const std::vector<const Json*>& bad, Rng& rng) const {
  if (d.kind == SearchDimension::Kind::kChoice) {
    auto indices = [&](const std::vector<const Json*>& trials) {
      std::vector<int> out;
      for (const Json* t : trials) {
        auto v = t->find(d.key);
        if (v == t->end()) continue;  // a trial without this parameter
        auto it = std::find(d.choices.begin(), d.choices.end(), *v);
        if (it != d.choices.end())
          out.push_back(static_cast<int>(it - d.choices.begin()));
      }
      return out;
    };
    const int k = static_cast<int>(d.choices.size());
    const CategoricalEstimator l =
        CategoricalEstimator::Build(indices(good), k, options_.prior_weight);
    const CategoricalEstimator g =
        CategoricalEstimator::Build(indices(bad), k, options_.prior_weight);
    int best = 0;
    double best_score = -std::numeric_limits<double>::infinity();
    for (int c = 0; c < options_.n_ei_candidates; ++c) {
      const int x = l.Sample(rng);
      const double score = l.LogPdf(x) - g.LogPdf(x);
      if (score > best_score) {
        best = x;
        best_score = score;
      }
    }
    return d.choices[best];
  }
  double low = d.low, high = d.high, step = 0;
  if (d.kind == SearchDimension::Kind::kLogUniform) {
    low = std::log(d.low);
    high = std::log(d.high);
  } else if (d.kind == SearchDimension::Kind::kRandInt) {
    low = d.low - 0.5;
    high = d.high + 0.5;
    step = 1;
  }
  auto values = [&](const std::vector<const Json*>& trials) {
    std::vector<double> out;
    for (const Json* t : trials) {
      auto v = t->find(d.key);
      if (v == t->end()) continue;
      const double x = Modelled(d, *v);
      if (std::isfinite(x)) out.push_back(x);
    }
    return out;
  };
  const ParzenEstimator l = ParzenEstimator::Build(values(good), low, high,
                                                   options_.prior_weight, step);
  const ParzenEstimator g = ParzenEstimator::Build(values(bad), low, high,
                                                   options_.prior_weight, step);
  double best = l.mus.back();
  double best_score = -std::numeric_limits<double>::infinity();
  for (int c = 0; c < options_.n_ei_candidates; ++c) {
    double x = l.Sample(rng);
    if (step > 0) x = std::clamp(std::round(x), d.low, d.high);
    const double score = l.LogPdf(x) - g.LogPdf(x);
    if (score > best_score) {
      best = x;
      best_score = score;
    }
  }
  switch (d.kind) {
    case SearchDimension::Kind::kLogUniform:
      return std::clamp(std::exp(best), d.low, d.high);
    case SearchDimension::Kind::kRandInt:
      return static_cast<int64_t>(std::clamp(std::round(best), d.low, d.high));
    default:
      return std::clamp(best, d.low, d.high);
  }
}

}  // namespace ladle
