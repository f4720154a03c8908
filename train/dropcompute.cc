#include "train/dropcompute.h"

#include <algorithm>
#include <cmath>

namespace ladle {
namespace {

double Phi(double x) { return 0.5 * std::erfc(-x / std::sqrt(2.0)); }

double Normal(Rng& rng) {  // Box-Muller
  const double u1 = std::max(rng.Uniform(), 1e-300), u2 = rng.Uniform();
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2);
}

}  // namespace

MicroBatchTimes::MicroBatchTimes(const DropNoise& noise, double base_seconds)
    : noise_(noise), base_(base_seconds) {
  if (noise_.type == DropNoise::Type::kPaper) {
    double total = 0, weighted = 0, sq = 0;
    std::vector<double> p(999);
    for (int l = 1; l <= 999; ++l) {
      const double lg = std::log(static_cast<double>(l)) - 4.0;
      p[l - 1] = (1.0 / l) * std::exp(-lg * lg / 2.0);
      total += p[l - 1];
    }
    double acc = 0;
    for (int l = 1; l <= 999; ++l) {
      acc += p[l - 1] / total;
      paper_cdf_.push_back(acc);
      weighted += l * p[l - 1] / total;
      sq += static_cast<double>(l) * l * p[l - 1] / total;
    }
    paper_mean_ = weighted;
    // r = ℓ / E[ℓ] has mean 1; time = base (1 + 0.5 f r).
    const double f = 0.5 * noise_.delay_factor;
    const double var_r = sq / (weighted * weighted) - 1.0;
    mean_ = base_ * (1.0 + f);
    variance_ = base_ * base_ * f * f * var_r;
  } else {
    // LogNormal(−σ²/2, σ) has mean 1 and variance e^{σ²} − 1.
    mean_ = base_;
    variance_ = base_ * base_ * (std::exp(noise_.sigma * noise_.sigma) - 1.0);
  }
}

double MicroBatchTimes::Sample(Rng& rng) const {
  if (noise_.type == DropNoise::Type::kPaper) {
    const double u = rng.Uniform();
    const int l = static_cast<int>(std::lower_bound(paper_cdf_.begin(),
                                                    paper_cdf_.end(), u) -
                                   paper_cdf_.begin()) +
                  1;
    const double r = l / paper_mean_;
    return base_ * (1.0 + 0.5 * noise_.delay_factor * r);
  }
  const double s = noise_.sigma;
  return base_ * std::exp(s * Normal(rng) - s * s / 2.0);
}

void MicroBatchTimes::Draw(Rng& rng, int ranks, int micro_batches,
                           std::vector<std::vector<double>>* t) const {
  t->assign(ranks, std::vector<double>(micro_batches));
  for (int n = 0; n < ranks; ++n) {
    const double slow = n < noise_.slow_ranks ? noise_.slow_factor : 1.0;
    for (int m = 0; m < micro_batches; ++m) (*t)[n][m] = slow * Sample(rng);
  }
}

StepTiming SimulateStep(const std::vector<std::vector<double>>& times,
                        double threshold, double comm_seconds) {
  StepTiming s;
  s.kept.resize(times.size());
  double slowest = 0, slowest_base = 0;
  for (size_t n = 0; n < times.size(); ++n) {
    double c = 0;
    s.kept[n].assign(times[n].size(), false);
    for (size_t m = 0; m < times[n].size(); ++m) {
      c += times[n][m];
      if (threshold <= 0 || c < threshold) {
        s.kept[n][m] = true;
        ++s.kept_count;
      }
    }
    slowest_base = std::max(slowest_base, c);
    slowest = std::max(slowest, threshold > 0 ? std::min(c, threshold) : c);
  }
  s.step_seconds = slowest + comm_seconds;
  s.baseline_seconds = slowest_base + comm_seconds;
  return s;
}

double AutoThreshold(
    const std::vector<std::vector<std::vector<double>>>& steps_times,
    double comm_seconds) {
  // Cumulative sums per step, rank.
  double lo = 1e300, hi = 0;
  std::vector<std::vector<std::vector<double>>> c = steps_times;
  for (auto& step : c) {
    for (auto& rank : step) {
      for (size_t m = 1; m < rank.size(); ++m) rank[m] += rank[m - 1];
      if (!rank.empty()) {
        lo = std::min(lo, rank.front());
        hi = std::max(hi, rank.back());
      }
    }
  }
  if (c.empty() || hi <= lo) return 0;
  double best_tau = hi, best_eff = 0;
  constexpr int kCandidates = 200;
  for (int k = 0; k <= kCandidates; ++k) {
    const double tau = lo + (hi - lo) * k / kCandidates;
    double eff_sum = 0;
    for (const auto& step : c) {
      double full = 0, cut = 0;
      int64_t dropped = 0, total = 0;
      for (const auto& rank : step) {
        full = std::max(full, rank.back());
        double last_below = 0;
        for (double v : rank) {
          ++total;
          if (v < tau) {
            last_below = v;
          } else {
            ++dropped;
          }
        }
        cut = std::max(cut, last_below);
      }
      const double step_time = full + comm_seconds;
      const double saved = (full - cut) / step_time;
      const double drop = static_cast<double>(dropped) / total;
      eff_sum += (1.0 - drop) / (1.0 - saved) - 1.0;
    }
    const double eff = eff_sum / c.size();
    if (eff > best_eff) {
      best_eff = eff;
      best_tau = tau;
    }
  }
  return best_eff > 0 ? best_tau : 0;  // 0: dropping does not pay
}

std::vector<double> MicroBatchTimes::Pmf(double dx, int bins) const {
  std::vector<double> pmf(bins, 0.0);
  if (noise_.type == DropNoise::Type::kPaper) {
    double prev = 0;
    for (size_t l = 1; l <= paper_cdf_.size(); ++l) {
      const double p = paper_cdf_[l - 1] - prev;
      prev = paper_cdf_[l - 1];
      const double t =
          base_ * (1.0 + 0.5 * noise_.delay_factor * l / paper_mean_);
      const int64_t b = static_cast<int64_t>(t / dx);
      if (b < bins) pmf[b] += p;
    }
    return pmf;
  }
  // LogNormal(−σ²/2, σ) × base: CDF differences per bin.
  const double s = noise_.sigma, m = -s * s / 2;
  auto cdf = [&](double t) {
    return t <= 0 ? 0.0 : Phi((std::log(t / base_) - m) / s);
  };
  for (int b = 0; b < bins; ++b) pmf[b] = cdf((b + 1) * dx) - cdf(b * dx);
  return pmf;
}

double PredictedSpeedup(const MicroBatchTimes& times, int ranks,
                        int micro_batches, double threshold,
                        double comm_seconds) {
  const int M = micro_batches;
  const double upper =
      M * times.mean() + 12.0 * std::sqrt(M * times.variance()) + times.mean();
  constexpr int kBins = 2048;
  const double dx = upper / kBins;
  const std::vector<double> one = times.Pmf(dx, kBins);
  // pmf of S_m by repeated convolution (bin b holds [b dx, (b+1) dx); the
  // sum of two bins' midpoints lands one bin up: index b1 + b2 + 1).
  std::vector<double> pmf = one, next(kBins);
  std::vector<double> kept_prob(M + 1, 0.0);
  auto cdf_at = [&](const std::vector<double>& p, double x) {
    double acc = 0;
    const double pos = x / dx - 0.5;  // midpoint convention
    for (int b = 0; b < kBins; ++b) {
      if (b + 1 <= pos + 0.5) {
        acc += p[b];
      } else {
        acc += p[b] * std::clamp(pos + 0.5 - b, 0.0, 1.0);
        break;
      }
    }
    return acc;
  };
  if (threshold > 0) kept_prob[1] = cdf_at(pmf, threshold);
  for (int m = 2; m <= M; ++m) {
    std::fill(next.begin(), next.end(), 0.0);
    for (int i = 0; i < kBins; ++i) {
      if (pmf[i] == 0) continue;
      for (int j = 0; i + j + 1 < kBins; ++j)
        next[i + j + 1] += pmf[i] * one[j];
    }
    pmf.swap(next);
    if (threshold > 0) kept_prob[m] = cdf_at(pmf, threshold);
  }
  // max over ranks: CDF F^N; expectations over bin midpoints.
  double e_max = 0, e_cut = 0, f = 0;
  for (int b = 0; b < kBins; ++b) {
    const double g0 = std::pow(f, ranks);
    f += pmf[b];
    const double g1 = std::pow(std::min(f, 1.0), ranks);
    const double x = (b + 0.5) * dx;
    e_max += x * (g1 - g0);
    e_cut += std::min(x, threshold > 0 ? threshold : x) * (g1 - g0);
  }
  if (threshold <= 0) return 1.0;
  double kept = 0;
  for (int m = 1; m <= M; ++m) kept += kept_prob[m];
  return (kept / M) * (e_max + comm_seconds) / (e_cut + comm_seconds);
}

}  // namespace ladle
