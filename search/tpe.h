// The Tree-structured Parzen Estimator sampler (Bergstra et al., "Algorithms
// for Hyper-Parameter Optimization", NIPS 2011), univariate, with the choices
// Optuna's default TPESampler makes (3.1): random until n_startup_trials
// trials completed; then the best γ(n) = min(⌈0.1·n⌉, 25) trials form l(x)
// and the rest g(x); each parameter draws n_ei_candidates from l and keeps
// the one with the largest log l(x) − log g(x).
//
// Each density is a mixture of one truncated normal per observation plus a
// prior (centred, σ = the range, weight prior_weight); an observation's σ is
// the larger gap to its sorted neighbours (the outermost use their inner gap),
// clipped to [range / min(100, 1 + components), range]. Observations are
// weighted by age: all 1 below 25, else a ramp from 1/n up for the older
// ones and 1 for the newest 25. Log-uniform dimensions are modelled in log
// space; integers over [low − ½, high + ½] with the probability mass of
// [x − ½, x + ½]; choices as weighted histograms (each observation's row puts
// 1 on its choice plus prior_weight/(n + 1) on every choice, and the prior
// row is uniform). A parameter only counts trials that have it (a
// conditional parameter, or one added to the space later).
//
// Deterministic: the proposals depend on the seed, the number of Asks and the
// Tells in order, so replaying stored results reproduces them.
//
// Thread safety: none.
#ifndef LADLE_SEARCH_TPE_H_
#define LADLE_SEARCH_TPE_H_

#include <cstdint>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "common/random.h"
#include "nlohmann/json.hpp"
#include "spec/experiment.h"  // SearchDimension

namespace ladle {

struct TpeOptions {
  int n_startup_trials = 10;
  int n_ei_candidates = 24;
  double prior_weight = 1.0;
  bool maximize = true;
  uint64_t seed = 0;
};

// INVALID_ARGUMENT naming the knob.
absl::Status CheckTpeOptions(const TpeOptions& options);

// γ(n): how many of n completed trials form the good density.
int TpeGamma(int n);
// The weights of n observations, oldest first.
std::vector<double> TpeWeights(int n);

// A mixture of truncated normals on [low, high]: the observations in order,
// then the prior. `step` > 0: values are multiples of it (integers: 1) and
// densities are the mass of [x − step/2, x + step/2].
struct ParzenEstimator {
  std::vector<double> mus, sigmas, weights;
  double low = 0, high = 1, step = 0;
  // Per component: log weight − log of its mass inside [low, high].
  std::vector<double> log_scale;

  static ParzenEstimator Build(const std::vector<double>& observations,
                               double low, double high, double prior_weight,
                               double step = 0);
  double LogPdf(double x) const;
  double Sample(Rng& rng) const;
};

// A weighted histogram over n choices (the mixture of its rows, collapsed).
struct CategoricalEstimator {
  std::vector<double> probabilities;

  static CategoricalEstimator Build(const std::vector<int>& observations,
                                    int choices, double prior_weight);
  double LogPdf(int choice) const;
  int Sample(Rng& rng) const;
};

class Tpe {
 public:
  // `space` must be valid (as ParseSweep checks); `options` must pass
  // CheckTpeOptions.
  Tpe(std::vector<SearchDimension> space, TpeOptions options);

  // A completed trial: its parameters {key: value} and its metric (a NaN,
  // e.g. a failed trial, is not a result and is ignored).
  void Tell(const nlohmann::json& params, double value);
  // The next trial's parameters {key: value}.
  nlohmann::json Ask();
  size_t completed() const { return trials_.size(); }

 private:
  // One dimension's proposal from the good and bad trials' values of it.
  nlohmann::json Propose(const SearchDimension& d,
                         const std::vector<const nlohmann::json*>& good,
                         const std::vector<const nlohmann::json*>& bad,
                         Rng& rng) const;

  std::vector<SearchDimension> space_;
  TpeOptions options_;
  std::vector<std::pair<nlohmann::json, double>> trials_;  // in Tell order
  uint64_t asks_ = 0;
};

}  // namespace ladle

#endif  // LADLE_SEARCH_TPE_H_
