// DropCompute's timing side: simulated steps, the automatic threshold, and
// the analytic prediction of the effective speedup against measurement.
#include "train/dropcompute.h"

#include <cmath>
#include <iostream>
#include <random>

#include "gtest/gtest.h"

namespace ladle {
namespace {

struct Measured {
  double speedup = 0, drop = 0, tau = 0;
};

// Calibrates τ on `calib` steps (auto), then measures on `steps` fresh steps:
// speedup = (kept / total) · mean T_base / mean T_τ on the same draws.
Measured Simulate(const DropNoise& noise, int ranks, int m, uint64_t seed,
                  int calib = 50, int steps = 1000) {
  MicroBatchTimes times(noise, 0.01);
  Rng rng(seed);
  std::vector<std::vector<std::vector<double>>> cal(calib);
  for (auto& t : cal) times.Draw(rng, ranks, m, &t);
  Measured r;
  r.tau = AutoThreshold(cal, 0.0);
  double base = 0, cut = 0;
  int64_t kept = 0;
  std::vector<std::vector<double>> t;
  for (int s = 0; s < steps; ++s) {
    times.Draw(rng, ranks, m, &t);
    const StepTiming st = SimulateStep(t, r.tau, 0.0);
    base += st.baseline_seconds;
    cut += st.step_seconds;
    kept += st.kept_count;
  }
  const double frac = static_cast<double>(kept) / (int64_t{steps} * ranks * m);
  r.drop = 1 - frac;
  r.speedup = frac * base / cut;
  return r;
}

TEST(DropCompute, NoThresholdKeepsEverything) {
  const std::vector<std::vector<double>> t = {{1, 2, 3}, {3, 3, 3}};
  const StepTiming s = SimulateStep(t, 0, 0.5);
  EXPECT_EQ(s.kept_count, 6);
  EXPECT_DOUBLE_EQ(s.step_seconds, 9.5);
  EXPECT_DOUBLE_EQ(s.baseline_seconds, 9.5);
  const StepTiming c = SimulateStep(t, 5.5, 0.5);
  // Rank 0: C = 1, 3, 6 → keeps 2; rank 1: C = 3, 6, 9 → keeps 1.
  EXPECT_EQ(c.kept_count, 3);
  EXPECT_DOUBLE_EQ(c.step_seconds, 6.0);
  EXPECT_TRUE(c.kept[0][1] && !c.kept[0][2] && c.kept[1][0] && !c.kept[1][1]);
}

TEST(DropCompute, MeasuredSpeedupMatchesTheAnalyticPrediction) {
  const uint64_t seed = std::random_device{}();
  SCOPED_TRACE(::testing::Message() << "seed " << seed);
  for (int ranks : {8, 32, 128}) {
    DropNoise noise;
    noise.sigma = 0.6;
    const Measured r = Simulate(noise, ranks, 12, seed + ranks);
    MicroBatchTimes times(noise, 0.01);
    const double predicted = PredictedSpeedup(times, ranks, 12, r.tau, 0.0);
    EXPECT_GT(r.tau, 0) << ranks;
    std::cout << "N=" << ranks << " M=12 lognormal σ=0.6: τ*=" << r.tau
              << " s, drop " << r.drop << ", speedup measured " << r.speedup
              << ", predicted " << predicted << "\n";
    EXPECT_NEAR(r.speedup / predicted, 1.0, 0.10)
        << "N=" << ranks << " measured " << r.speedup << " predicted "
        << predicted << " drop " << r.drop;
  }
}

TEST(DropCompute, SpeedupGrowsWithTheNumberOfRanks) {
  DropNoise noise;
  noise.type = DropNoise::Type::kPaper;
  double last = 1.0;
  for (int ranks : {4, 16, 64, 256}) {
    const Measured r = Simulate(noise, ranks, 8, 7, 50, 300);
    EXPECT_GT(r.speedup, last) << "N=" << ranks;
    last = r.speedup;
  }
  EXPECT_GT(last, 1.05);  // a real gain at 256 ranks
}

TEST(DropCompute, PaperNoiseIsNormalisedAndHeavyTailed) {
  DropNoise noise;
  noise.type = DropNoise::Type::kPaper;
  MicroBatchTimes times(noise, 1.0);
  EXPECT_NEAR(times.mean(), 1.5, 1e-9);  // base (1 + 0.5 · E[r]), E[r] = 1
  Rng rng(3);
  std::vector<std::vector<double>> t;
  double sum = 0, max = 0;
  for (int i = 0; i < 200; ++i) {
    times.Draw(rng, 10, 10, &t);
    for (auto& r : t)
      for (double v : r) {
        sum += v;
        max = std::max(max, v);
      }
  }
  EXPECT_NEAR(sum / 20000, 1.5, 0.05);
  EXPECT_GT(max, 4.0);  // the tail reaches several times the mean
}

}  // namespace
}  // namespace ladle
