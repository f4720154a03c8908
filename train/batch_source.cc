#include "train/batch_source.h"

#include <algorithm>

#include "common/status_macros.h"

namespace ladle {
namespace {

class FullGraph final : public BatchSource {
 public:
  explicit FullGraph(const TrialData& data) : data_(data) {}
  absl::StatusOr<std::optional<StepBatch>> Next(int64_t,
                                                const std::vector<int32_t>&,
                                                int64_t, int64_t) override {
    StepBatch b;
    b.x = data_.graph_x.data();
    b.y = data_.train.y.data();
    b.rows = data_.adjacency.rows;
    b.counted = data_.train_size;
    return std::optional<StepBatch>(b);
  }

 private:
  const TrialData& data_;
};

class SampledGraph final : public BatchSource {
 public:
  SampledGraph(SubgraphSampler* sampler, const TrialData& data)
      : sampler_(sampler), data_(data) {}
  absl::StatusOr<std::optional<StepBatch>> Next(int64_t step,
                                                const std::vector<int32_t>&,
                                                int64_t, int64_t) override {
    const int64_t per_epoch = sampler_->steps_per_epoch();
    ASSIGN_OR_RETURN(
        SubgraphSampler::Subgraph sub,
        sampler_->Load(step / per_epoch, step % per_epoch, data_.graph_x.data(),
                       data_.train.y.data()));
    StepBatch b;
    b.x = sub.x;
    b.y = sub.y;
    b.rows = sub.rows;
    // No training node drawn: a zero gradient.
    b.counted = std::max<int64_t>(sub.training_nodes, 1);
    b.graph = sub.adjacency;
    return std::optional<StepBatch>(b);
  }

 private:
  SubgraphSampler* const sampler_;
  const TrialData& data_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<DenseBatches>> DenseBatches::Create(
    Backend* backend, const DeviceSplit& train, int64_t num_features,
    int64_t max_rows) {
  std::unique_ptr<DenseBatches> d(
      new DenseBatches(backend, train, num_features));
  ASSIGN_OR_RETURN(d->idx_, Tensor<int32_t>::Zeros(backend, {max_rows}));
  ASSIGN_OR_RETURN(d->x_,
                   Tensor<float>::Zeros(backend, {max_rows, num_features}));
  ASSIGN_OR_RETURN(d->y_, Tensor<int32_t>::Zeros(backend, {max_rows}));
  return d;
}

void DenseBatches::KeepMicroBatches(DropComputeSchedule* schedule,
                                    int64_t global_batch, bool renormalize) {
  schedule_ = schedule;
  global_batch_ = global_batch;
  renormalize_ = renormalize;
}

absl::StatusOr<StepBatch> DenseBatches::Gather(const int32_t* idx,
                                               int64_t rows) {
  RETURN_IF_ERROR(idx_.CopyFromHost(idx, rows));
  RETURN_IF_ERROR(backend_->GatherRows(train_.x.data(), idx_.data(), rows,
                                       num_features_, x_.data()));
  RETURN_IF_ERROR(
      backend_->GatherLabels(train_.y.data(), idx_.data(), rows, y_.data()));
  StepBatch b;
  b.x = x_.data();
  b.y = y_.data();
  b.rows = b.counted = rows;
  return b;
}

absl::StatusOr<std::optional<StepBatch>> DenseBatches::Next(
    int64_t step, const std::vector<int32_t>& order, int64_t begin,
    int64_t end) {
  if (schedule_ == nullptr) {
    ASSIGN_OR_RETURN(StepBatch b, Gather(order.data() + begin, end - begin));
    return std::optional<StepBatch>(b);
  }
  // The micro-batches this step keeps, as rows of the global batch.
  const std::vector<int32_t> kept = schedule_->KeptRows(step, order, begin);
  const int64_t rows = static_cast<int64_t>(kept.size());
  if (rows == 0) return std::optional<StepBatch>();  // all dropped: no update
  ASSIGN_OR_RETURN(StepBatch b, Gather(kept.data(), rows));
  b.counted = renormalize_ ? rows : global_batch_;  // dropped rows are zeros
  return std::optional<StepBatch>(b);
}

std::unique_ptr<BatchSource> FullGraphBatches(const TrialData& data) {
  return std::make_unique<FullGraph>(data);
}

std::unique_ptr<BatchSource> SampledGraphBatches(SubgraphSampler* sampler,
                                                 const TrialData& data) {
  return std::make_unique<SampledGraph>(sampler, data);
}

}  // namespace ladle
