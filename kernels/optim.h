// Optimizers (SGD with momentum/Nesterov, AdamW) over a ParamStore, and
// learning-rate schedules.
//
// An optimizer owns its state buffers (momentum / Adam moments), allocated at
// construction in the backend's memory, and exposes them by name for
// checkpoints. Weight decay applies only to parameters marked `decay`
// (matrices), as most training recipes do. Not thread-safe.
#ifndef LADLE_KERNELS_OPTIM_H_
#define LADLE_KERNELS_OPTIM_H_

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "kernels/params.h"
#include "spec/config.h"

namespace ladle {

// Learning rate at 0-based `step` of `total_steps`.
float LearningRate(const OptimizerConfig& opt, const ScheduleConfig& sched,
                   int64_t step, int64_t total_steps);

class Optimizer {
 public:
  virtual ~Optimizer() = default;
  // Applies one update with learning rate `lr`; the internal step count
  // advances by one.
  virtual absl::Status Step(float lr) = 0;
  // Named state tensors (e.g. "adamw.exp_avg") laid out like
  // ParamStore::params().
  virtual std::vector<std::pair<std::string, Tensor<float>*>> State() = 0;
  int64_t steps_taken() const { return steps_; }
  void set_steps_taken(int64_t steps) { steps_ = steps; }

 protected:
  int64_t steps_ = 0;
};

absl::StatusOr<std::unique_ptr<Optimizer>> CreateOptimizer(
    const OptimizerConfig& config, ParamStore* params, Backend* backend);

}  // namespace ladle

#endif  // LADLE_KERNELS_OPTIM_H_
