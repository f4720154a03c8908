// One trial of a TrainSpec (behind RunTrial and Evaluator): sets up the
// device, data and model, runs the training loop (steps, epochs, logging,
// evaluation, a checkpoint on a stop request) and writes metrics.jsonl,
// summary.json and model.safetensors. Its parts are units of their own: the
// data (trial_data.h), sampled subgraphs (subgraph_sampler.h), checkpoints
// (checkpoint.h) and DropCompute (dropcompute_schedule.h,
// dropcompute_ranks.h). Internal to ladle_train; not thread-safe.
#ifndef LADLE_TRAIN_TRIAL_H_
#define LADLE_TRAIN_TRIAL_H_

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "kernels/backend.h"
#include "kernels/models.h"
#include "kernels/optim.h"
#include "kernels/tensor.h"
#include "nlohmann/json.hpp"
#include "spec/train_spec.h"
#include "train/batch_source.h"
#include "train/dropcompute_ranks.h"
#include "train/dropcompute_schedule.h"
#include "train/subgraph_sampler.h"
#include "train/trainer.h"
#include "train/trial_data.h"

namespace ladle {

class Trial {
  using Clock = std::chrono::steady_clock;
  using Json = nlohmann::ordered_json;

 public:
  Trial(const TrainSpec& spec, const TrainOptions& options)
      : spec_(spec), opt_(options) {}
  ~Trial() {
    if (metrics_ != nullptr) std::fclose(metrics_);
  }

  absl::StatusOr<TrainResult> Run();

  // Evaluation-only use (Evaluator): data and model, no training.
  absl::Status Prepare() { return Setup(); }
  const std::vector<ParamInfo>& param_infos() {
    return model_->params().infos();
  }
  int64_t param_total() { return model_->params().total(); }
  absl::StatusOr<EvalScores> EvaluateParams(const std::vector<float>& flat);

 private:
  absl::Status Setup();

  // The model, its batch (a GCN: every node; DropCompute: one global batch
  // of ranks × micro_batches × batch_size rows) and steps per epoch.
  absl::Status CreateModel();

  // Subgraph training (train.sampler): steps see sampled subgraphs, the
  // evaluation the full graph.
  absl::Status SetupSampler(Graph g);

  // DropCompute: the noise model around the base micro-batch time (given, or
  // measured here as the median of 5 forward+backward passes of one
  // micro-batch).
  absl::Status SetupDropCompute();

  // timing: real: the ranks run the step on the wall clock
  // (train/dropcompute_ranks.h); the optimizer steps on their gradient.
  absl::Status RealDropComputeStep(const std::vector<int32_t>& order,
                                   int64_t begin);

  // The training order of epoch `epoch`: a permutation that depends only on
  // (seed, epoch).
  std::vector<int32_t> EpochOrder(int64_t epoch) const;

  bool StopRequested() const;

  // One optimisation step on rows [begin, end) of `order` (dense) or the whole
  // graph (gcn).
  absl::Status Step(const std::vector<int32_t>& order, int64_t begin,
                    int64_t end);

  // Returns true when training ran to the end, false when stopped on request.
  absl::StatusOr<bool> TrainLoop(Clock::time_point t0);

  absl::Status LogTrain(Clock::time_point t0);

  void WriteMetric(const Json& line);

  // (accuracy, mean loss) on a split; empty splits give (0, 0).
  absl::StatusOr<std::pair<double, double>> Evaluate(const DeviceSplit& split);

  absl::Status WriteCheckpoint(const std::string& path);

  // --resume: parameters, optimizer state and counters, so the trial goes on
  // bit for bit.
  absl::Status LoadCheckpoint(const std::string& path);

  absl::Status WriteJsonFile(const std::string& name, const Json& j);

  const TrainSpec& spec_;
  const TrainOptions& opt_;
  std::unique_ptr<Backend> backend_;
  bool gcn_ = false;
  TrialData data_;
  int64_t batch_ = 0;
  std::unique_ptr<Model> model_;
  std::unique_ptr<Optimizer> optimizer_;
  std::unique_ptr<BatchSource> source_;  // a step's rows
  DenseBatches* dense_ = nullptr;        // source_, for dense models
  Tensor<int32_t> preds_;
  Tensor<float> row_loss_, dlogits_, loss_acc_;
  int64_t num_params_ = 0;
  int64_t steps_per_epoch_ = 1, total_steps_ = 0, step_ = 0, epochs_done_ = 0;
  int64_t resumed_from_ = 0;
  int64_t window_steps_ = 0, epoch_steps_ = 0;
  double window_samples_ = 0, window_seconds_ = 0;
  double samples_trained_ = 0, flops_trained_ = 0, train_seconds_ = 0;
  double last_epoch_loss_ = 0;
  // DropCompute (train.dropcompute).
  std::unique_ptr<DropComputeSchedule> schedule_;
  std::unique_ptr<DropComputeRanks> ranks_;  // timing: real
  // Subgraph sampling (gcn with train.sampler other than full).
  std::unique_ptr<SubgraphSampler> sampler_;  // gcn with train.sampler
  float last_lr_ = 0;
  FILE* metrics_ = nullptr;
};

}  // namespace ladle

#endif  // LADLE_TRAIN_TRIAL_H_
