#include "train/dropcompute_schedule.h"

#include <algorithm>

#include "common/random.h"
#include "spec/result_table.h"

namespace ladle {
namespace {

DropNoise NoiseOf(const DropComputeSpec& d) {
  DropNoise noise;
  noise.type = d.noise == "paper" ? DropNoise::Type::kPaper
                                  : DropNoise::Type::kLogNormal;
  noise.sigma = d.sigma;
  noise.delay_factor = d.delay_factor;
  noise.slow_ranks = static_cast<int>(d.slow_ranks);
  noise.slow_factor = d.slow_factor;
  return noise;
}

}  // namespace

DropComputeSchedule::DropComputeSchedule(const DropComputeSpec& spec,
                                         uint64_t seed,
                                         int64_t micro_batch_size,
                                         double base_seconds)
    : spec_(spec),
      seed_(seed),
      micro_batch_size_(micro_batch_size),
      base_seconds_(base_seconds),
      times_(NoiseOf(spec), base_seconds) {}

void DropComputeSchedule::Draw(int64_t step,
                               std::vector<std::vector<double>>* t) const {
  Rng rng(SplitMix64(seed_ * 0xDC0FFEEULL ^
                     SplitMix64(static_cast<uint64_t>(step) + 1)));
  times_.Draw(rng, static_cast<int>(spec_.ranks),
              static_cast<int>(spec_.micro_batches), t);
}

double DropComputeSchedule::ThresholdAt(int64_t step) {
  using T = DropComputeSpec::Threshold;
  if (spec_.threshold == T::kNone) return 0;
  if (spec_.threshold == T::kSeconds) return spec_.threshold_value;
  if (step < spec_.calibration_steps) return 0;
  if (tau_ < 0) {
    std::vector<std::vector<std::vector<double>>> cal(spec_.calibration_steps);
    std::vector<double> all;
    for (int64_t s = 0; s < spec_.calibration_steps; ++s) {
      Draw(s, &cal[s]);
      for (const auto& r : cal[s]) all.insert(all.end(), r.begin(), r.end());
    }
    std::sort(all.begin(), all.end());
    median_ = all[all.size() / 2];
    tau_ = spec_.threshold == T::kAuto ? AutoThreshold(cal, spec_.comm_seconds)
                                       : spec_.threshold_value * median_;
  }
  return tau_;
}

bool DropComputeSchedule::Measured(int64_t step) const {
  return spec_.threshold == DropComputeSpec::Threshold::kNone ||
         spec_.threshold == DropComputeSpec::Threshold::kSeconds ||
         step >= spec_.calibration_steps;
}

std::vector<int32_t> DropComputeSchedule::KeptRows(
    int64_t step, const std::vector<int32_t>& order, int64_t begin) {
  std::vector<std::vector<double>> t;
  Draw(step, &t);
  const StepTiming st = SimulateStep(t, ThresholdAt(step), spec_.comm_seconds);
  const int64_t b = micro_batch_size_;
  std::vector<int32_t> rows;
  rows.reserve(spec_.ranks * spec_.micro_batches * b);
  for (int64_t n = 0; n < spec_.ranks; ++n) {
    for (int64_t m = 0; m < spec_.micro_batches; ++m) {
      if (!st.kept[n][m]) continue;
      const int64_t first = begin + (n * spec_.micro_batches + m) * b;
      rows.insert(rows.end(), order.begin() + first, order.begin() + first + b);
    }
  }
  sim_seconds_ += st.step_seconds;
  if (Measured(step)) {  // after calibration: what the threshold does
    steps_ += 1;
    step_seconds_ += st.step_seconds;
    baseline_seconds_ += st.baseline_seconds;
    kept_ += st.kept_count;
    total_ += spec_.ranks * spec_.micro_batches;
  }
  return rows;
}

void DropComputeSchedule::RecordRealStep(int64_t step, double step_seconds,
                                         int64_t kept) {
  sim_seconds_ += step_seconds;
  if (!Measured(step)) return;
  steps_ += 1;
  step_seconds_ += step_seconds;
  kept_ += kept;
  total_ += spec_.ranks * spec_.micro_batches;
}

nlohmann::ordered_json DropComputeSchedule::Summary(
    int64_t step, const std::string& all_reduce) {
  const DropComputeSpec& d = spec_;
  nlohmann::ordered_json j;
  const double tau = ThresholdAt(std::max(step, d.calibration_steps));
  j["ranks"] = d.ranks;
  j["micro_batches"] = d.micro_batches;
  j["micro_batch_size"] = micro_batch_size_;
  j["timing"] = d.timing;
  if (d.timing == "real") j["all_reduce"] = all_reduce;
  j["threshold"] = d.threshold_text;
  j[summary_keys::kThresholdSeconds] = tau;
  j["base_micro_batch_seconds"] = base_seconds_;
  j["median_micro_batch_seconds"] = median_ > 0 ? median_ : base_seconds_;
  j["measured_steps"] = steps_;
  const double drop =
      total_ > 0 ? 1.0 - static_cast<double>(kept_) / total_ : 0.0;
  j[summary_keys::kDropRate] = drop;
  const double t_tau = steps_ > 0 ? step_seconds_ / steps_ : 0;
  const double t_base = steps_ > 0 ? baseline_seconds_ / steps_ : 0;
  j[summary_keys::kMeanStepSeconds] = t_tau;
  j["mean_step_seconds_without_threshold"] = t_base;
  if (d.timing == "real") {
    // Wall-clock steps; the speedup is against the τ = none run (the report
    // divides), so none is given here.
    j["timing"] = "real";
    j["mean_step_seconds_without_threshold"] = nullptr;
    j[summary_keys::kMeasuredSpeedup] = nullptr;
  } else {
    j[summary_keys::kMeasuredSpeedup] =
        t_tau > 0 ? (1.0 - drop) * t_base / t_tau : 1.0;
  }
  j[summary_keys::kPredictedSpeedup] =
      PredictedSpeedup(times_, static_cast<int>(d.ranks),
                       static_cast<int>(d.micro_batches), tau, d.comm_seconds);
  j["simulated_train_seconds"] = sim_seconds_;
  return j;
}

}  // namespace ladle
