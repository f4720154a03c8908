// DropCompute (Giladi et al., NeurIPS 2023, arXiv 2306.10598): synchronous
// data parallelism where each of N ranks accumulates up to M micro-batches per
// step and stops once its compute time passes a threshold τ; dropped
// micro-batches contribute zero gradient (the all-reduce still divides by
// N·M), or, optionally, the gradient is renormalised by the computed count.
//
// This header holds the timing side, pure and deterministic: the noise models
// of micro-batch times, one simulated step, the automatic threshold, and the
// analytic prediction of the effective speedup. The trainer (trainer.cc)
// computes the gradients of the micro-batches a step keeps.
#ifndef LADLE_TRAIN_DROPCOMPUTE_H_
#define LADLE_TRAIN_DROPCOMPUTE_H_

#include <cstdint>
#include <vector>

#include "common/random.h"

namespace ladle {

struct DropNoise {
  enum class Type {
    kLogNormal,  // time = base × LogNormal(σ), normalised to mean 1
    kPaper,      // time = base × (1 + 0.5 · delay_factor · r), r from the
             // paper's heavy-tailed p(ℓ) ∝ (1/ℓ)·exp(−(ln ℓ − 4)²/2),
             // ℓ = 1..999, normalised to mean 1
  };
  Type type = Type::kLogNormal;
  double sigma = 0.5;         // lognormal
  double delay_factor = 1.0;  // paper
  int slow_ranks = 0;         // the first slow_ranks ranks are slower ...
  double slow_factor = 1.0;   // ... by this factor
};

// Draws micro-batch times (seconds) for one step: t[n][m] for N ranks.
class MicroBatchTimes {
 public:
  MicroBatchTimes(const DropNoise& noise, double base_seconds);
  void Draw(Rng& rng, int ranks, int micro_batches,
            std::vector<std::vector<double>>* t) const;
  // Mean and variance of one (non-slow) micro-batch time.
  double mean() const { return mean_; }
  double variance() const { return variance_; }
  // Probability mass of one (non-slow) micro-batch time in each of `bins`
  // bins of width dx starting at 0 (mass past the last bin is dropped).
  std::vector<double> Pmf(double dx, int bins) const;

 private:
  double Sample(Rng& rng) const;
  DropNoise noise_;
  double base_;
  std::vector<double> paper_cdf_;  // paper: CDF over ℓ = 1..999
  double paper_mean_ = 1;
  double mean_ = 0, variance_ = 0;
};

// One step's outcome under threshold τ (τ <= 0: none).
struct StepTiming {
  std::vector<std::vector<bool>> kept;  // [rank][micro-batch]
  int64_t kept_count = 0;
  double step_seconds = 0;      // max over ranks of min(C[n][M], τ) + comm
  double baseline_seconds = 0;  // the same draws without a threshold
};
StepTiming SimulateStep(const std::vector<std::vector<double>>& times,
                        double threshold, double comm_seconds);

// The paper's automatic threshold from calibration steps (no dropping):
// cumulative times C[s][n][m]; 200 candidates between the smallest first
// micro-batch time and the largest full time; maximises mean effective
// speedup (1 − drop)/(1 − saved/step) − 1. Returns τ*.
double AutoThreshold(
    const std::vector<std::vector<std::vector<double>>>& steps_times,
    double comm_seconds);

// Effective speedup (throughput of kept samples, relative; 1 = none) of a
// threshold, predicted from the noise model alone (no sampling): with
// micro-batch times i.i.d. and S_m the sum of m of them,
//   E[M̃]/M · E[T_base]/E[T_τ],   E[M̃] = Σ_m P(S_m < τ),
//   E[T_base] = E[max_n S_M] + comm,  E[T_τ] = E[min(max_n S_M, τ)] + comm,
// where the laws of S_m come from numerically convolving the micro-batch time
// density and max over N ranks has CDF F^N. (The paper's closed form replaces
// S_m by a normal; that underestimates the straggler tail of skewed noise at
// large N by over 10%.) Slow ranks are not modelled.
double PredictedSpeedup(const MicroBatchTimes& times, int ranks,
                        int micro_batches, double threshold,
                        double comm_seconds);

}  // namespace ladle

#endif  // LADLE_TRAIN_DROPCOMPUTE_H_
