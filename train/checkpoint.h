// Ladle checkpoints: a safetensors file with a model's parameters (named as
// the model names them), its optimizer's state ("optimizer.<state>.<param>"),
// the trainer's loss sums, and metadata (format, step, counters, the spec).
// `--resume` from one continues a trial bit for bit; `init.checkpoint` takes
// its parameters only.
#ifndef LADLE_TRAIN_CHECKPOINT_H_
#define LADLE_TRAIN_CHECKPOINT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "kernels/optim.h"
#include "kernels/params.h"
#include "spec/train_spec.h"

namespace ladle {

inline constexpr char kCheckpointFormat[] = "ladle-checkpoint-v1";

// Where a trial is: what a checkpoint keeps besides tensors.
struct TrainerCounters {
  int64_t step = 0;
  int64_t optimizer_steps = 0;
  // The running sums of the loss (log window, epoch, evaluation) and the
  // steps in them; empty sums when the checkpoint has none.
  std::vector<float> loss_sums;
  int64_t window_steps = 0, epoch_steps = 0;
};

// Writes the parameters, the optimizer's state and `counters` to `path`.
absl::Status WriteCheckpoint(const std::string& path, ParamStore& params,
                             Optimizer& optimizer,
                             const TrainerCounters& counters,
                             const TrainSpec& spec);

// Reads a checkpoint written for this model into `params` and `optimizer`;
// INVALID_ARGUMENT (naming `path` as --resume) for another format or a
// missing or misshapen tensor. Returns its counters.
absl::StatusOr<TrainerCounters> ReadCheckpoint(const std::string& path,
                                               ParamStore* params,
                                               Optimizer* optimizer);

// init.checkpoint: the parameters only (the optimizer and step start fresh).
absl::Status ReadInitialParams(const std::string& path, ParamStore* params);

}  // namespace ladle

#endif  // LADLE_TRAIN_CHECKPOINT_H_
