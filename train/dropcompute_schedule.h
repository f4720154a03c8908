// The DropCompute side of a trial that is not the training itself: the noise
// model's micro-batch times of each step (a function of seed and step only,
// so resumed runs and recomputed thresholds see the same draws), the
// threshold τ (calibrated on the first steps' draws for `auto` and multiples
// of the median), which micro-batches a simulated step keeps, and the
// statistics its summary reports. Not thread-safe.
#ifndef LADLE_TRAIN_DROPCOMPUTE_SCHEDULE_H_
#define LADLE_TRAIN_DROPCOMPUTE_SCHEDULE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "nlohmann/json.hpp"
#include "spec/train_spec.h"
#include "train/dropcompute.h"

namespace ladle {

class DropComputeSchedule {
 public:
  // `base_seconds`: one micro-batch's compute time (given or measured).
  DropComputeSchedule(const DropComputeSpec& spec, uint64_t seed,
                      int64_t micro_batch_size, double base_seconds);

  // Micro-batch times of `step`: [rank][micro-batch] seconds.
  void Draw(int64_t step, std::vector<std::vector<double>>* t) const;
  // τ at `step`: 0 (none) before the calibration steps are done.
  double ThresholdAt(int64_t step);
  // Whether `step` counts in the statistics (after calibration).
  bool Measured(int64_t step) const;

  // timing: simulated. The rows of the global batch starting at `begin` of
  // `order` that `step` keeps (whole micro-batches, rank by rank); records
  // the step's simulated times.
  std::vector<int32_t> KeptRows(int64_t step, const std::vector<int32_t>& order,
                                int64_t begin);
  // timing: real. Records a step measured on the wall clock.
  void RecordRealStep(int64_t step, double step_seconds, int64_t kept);

  // The summary's `dropcompute` section after `step` steps; `all_reduce`
  // describes the collective of timing: real.
  nlohmann::ordered_json Summary(int64_t step, const std::string& all_reduce);

 private:
  const DropComputeSpec spec_;
  const uint64_t seed_;
  const int64_t micro_batch_size_;
  const double base_seconds_;
  MicroBatchTimes times_;
  double median_ = 0, tau_ = -1;
  double sim_seconds_ = 0, step_seconds_ = 0, baseline_seconds_ = 0;
  int64_t steps_ = 0, kept_ = 0, total_ = 0;
};

}  // namespace ladle

#endif  // LADLE_TRAIN_DROPCOMPUTE_SCHEDULE_H_
