// Where a training step's rows come from — the trial's data source: dense
// rows of the epoch's order (with DropCompute's schedule, only the
// micro-batches it keeps), the full graph, or a sampled subgraph. Sources own
// their device buffers (allocated when created, none per step). Not
// thread-safe.
#ifndef LADLE_TRAIN_BATCH_SOURCE_H_
#define LADLE_TRAIN_BATCH_SOURCE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "absl/status/statusor.h"
#include "kernels/backend.h"
#include "kernels/tensor.h"
#include "spec/train_spec.h"
#include "train/dropcompute_schedule.h"
#include "train/subgraph_sampler.h"
#include "train/trial_data.h"

namespace ladle {

// One step's input, in device memory valid until the source's next call.
struct StepBatch {
  const float* x = nullptr;
  const int32_t* y = nullptr;
  int64_t rows = 0;              // rows the model computes
  int64_t counted = 0;           // the loss's denominator
  std::optional<CsrView> graph;  // the graph to run on, when it changes
};

class BatchSource {
 public:
  virtual ~BatchSource() = default;
  // Step `step`'s batch; dense sources take rows [begin, end) of `order`
  // (the epoch's permutation). nullopt: nothing to compute this step (every
  // micro-batch dropped).
  virtual absl::StatusOr<std::optional<StepBatch>> Next(
      int64_t step, const std::vector<int32_t>& order, int64_t begin,
      int64_t end) = 0;
};

// Dense rows of the training split, gathered into buffers of `max_rows`.
class DenseBatches final : public BatchSource {
 public:
  // `backend` and `train` must outlive the source.
  static absl::StatusOr<std::unique_ptr<DenseBatches>> Create(
      Backend* backend, const DeviceSplit& train, int64_t num_features,
      int64_t max_rows);
  // From here on a step keeps only the micro-batches `schedule` keeps; the
  // loss is counted over `global_batch` rows (dropped ones are zeros) or,
  // with `renormalize`, over the rows kept. `schedule` must outlive this.
  void KeepMicroBatches(DropComputeSchedule* schedule, int64_t global_batch,
                        bool renormalize);

  absl::StatusOr<std::optional<StepBatch>> Next(
      int64_t step, const std::vector<int32_t>& order, int64_t begin,
      int64_t end) override;
  // Rows `idx[0..rows)` of the split, gathered.
  absl::StatusOr<StepBatch> Gather(const int32_t* idx, int64_t rows);

 private:
  DenseBatches(Backend* backend, const DeviceSplit& train, int64_t num_features)
      : backend_(backend), train_(train), num_features_(num_features) {}

  Backend* const backend_;
  const DeviceSplit& train_;
  const int64_t num_features_;
  Tensor<int32_t> idx_, y_;
  Tensor<float> x_;
  DropComputeSchedule* schedule_ = nullptr;
  int64_t global_batch_ = 0;
  bool renormalize_ = false;
};

// Every step the whole graph (a GCN without a sampler).
std::unique_ptr<BatchSource> FullGraphBatches(const TrialData& data);

// Every step a sampled subgraph; `sampler` must outlive the source.
std::unique_ptr<BatchSource> SampledGraphBatches(SubgraphSampler* sampler,
                                                 const TrialData& data);

}  // namespace ladle

#endif  // LADLE_TRAIN_BATCH_SOURCE_H_
