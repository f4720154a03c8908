#include "train/trainer.h"

#include <memory>

#include "common/status_macros.h"
#include "train/trial.h"

namespace ladle {

struct Evaluator::Impl {
  Impl(const TrainSpec& spec, const TrainOptions& options)
      : trial(spec, options) {}
  Trial trial;
};

Evaluator::Evaluator(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Evaluator::~Evaluator() = default;

absl::StatusOr<std::unique_ptr<Evaluator>> Evaluator::Create(
    const TrainSpec& spec, const std::string& scratch_dir) {
  TrainSpec eval_spec = spec;
  eval_spec.task = TrainTask::kTrain;
  eval_spec.fuse = {};
  eval_spec.init_checkpoint.clear();
  eval_spec.epochs = 0;
  eval_spec.sampler = {};  // evaluation is on the full graph anyway
  TrainOptions options;
  options.out_dir = scratch_dir;
  options.log_progress = false;
  auto impl = std::make_unique<Impl>(eval_spec, options);
  RETURN_IF_ERROR(impl->trial.Prepare());
  return std::unique_ptr<Evaluator>(new Evaluator(std::move(impl)));
}

const std::vector<ParamInfo>& Evaluator::params() const {
  return impl_->trial.param_infos();
}

int64_t Evaluator::flat_size() const { return impl_->trial.param_total(); }

absl::StatusOr<EvalScores> Evaluator::Evaluate(const std::vector<float>& flat) {
  return impl_->trial.EvaluateParams(flat);
}

absl::StatusOr<TrainResult> RunTrial(const TrainSpec& spec,
                                     const TrainOptions& options) {
  Trial trial(spec, options);
  return trial.Run();
}

}  // namespace ladle
