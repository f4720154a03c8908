// Runs one trial of a TrainSpec: loads data, builds the model on the chosen
// device, trains, evaluates, and writes metrics.jsonl, summary.json and
// model.safetensors under out_dir.
//
// Same spec, seed and CPU thread count give identical losses and accuracies
// (timings differ). A stop request (SIGTERM in ladle-train) is honoured between
// steps: a checkpoint is written and the result says preempted; resuming from
// it continues the same trajectory.
#ifndef LADLE_TRAIN_TRAINER_H_
#define LADLE_TRAIN_TRAINER_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "kernels/params.h"
#include "nlohmann/json.hpp"
#include "spec/train_spec.h"

namespace ladle {

struct TrainOptions {
  std::string out_dir;      // created if missing
  std::string resume_from;  // checkpoint (.safetensors) to continue from; empty
                            // = fresh start
  // Where a stop writes its checkpoint; empty: out_dir/checkpoint.safetensors.
  std::string checkpoint_path;
  // Polled between steps; when it becomes true the trial checkpoints and stops.
  // May be null.
  const std::atomic<bool>* stop_requested = nullptr;
  // > 0: behave as if a stop was requested before this global step (tests,
  // preemption drills).
  int64_t stop_at_step = 0;
  bool log_progress = true;  // one stderr line per metrics line
};

struct TrainResult {
  bool preempted =
      false;  // stopped on request; checkpoint_path holds the state
  std::string checkpoint_path;  // written on preemption
  nlohmann::ordered_json
      summary;  // as written to summary.json (empty when preempted)
};

absl::StatusOr<TrainResult> RunTrial(const TrainSpec& spec,
                                     const TrainOptions& options);

struct EvalScores {
  double val_accuracy = 0, val_loss = 0, test_accuracy = 0, test_loss = 0;
};

// Loads a spec's data and builds its model once, then scores parameter sets
// on the validation and test splits (full graph for GCNs). For model soups
// and checks of model surgery. Not thread-safe.
class Evaluator {
 public:
  // `scratch_dir` takes the (empty) metrics file a trial opens.
  static absl::StatusOr<std::unique_ptr<Evaluator>> Create(
      const TrainSpec& spec, const std::string& scratch_dir);
  ~Evaluator();

  // The model's parameters: names, shapes and offsets in the flat vector.
  const std::vector<ParamInfo>& params() const;
  // Length of the flat vector (offsets are aligned, so it may exceed the sum
  // of the shapes).
  int64_t flat_size() const;
  // `flat`: all parameters, laid out as params() says.
  absl::StatusOr<EvalScores> Evaluate(const std::vector<float>& flat);

 private:
  struct Impl;
  explicit Evaluator(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace ladle

#endif  // LADLE_TRAIN_TRAINER_H_
