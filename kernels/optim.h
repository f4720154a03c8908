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

namespace ladle {

struct OptimizerConfig {
  enum class Type { kSgd, kAdamW };
  Type type = Type::kAdamW;
  float lr = 1e-3f;
  float weight_decay = 0.0f;
  float momentum = 0.0f;                            // sgd
  bool nesterov = false;                            // sgd (needs momentum > 0)
  float beta1 = 0.9f, beta2 = 0.999f, eps = 1e-8f;  // adamw
};

struct ScheduleConfig {
  enum class Type { kConstant, kCosine, kLinear };
  Type type = Type::kConstant;
  int64_t warmup_steps = 0;  // linear warm-up from lr/warmup_steps to lr
  float min_lr = 0.0f;       // floor of cosine / linear decay
};

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
