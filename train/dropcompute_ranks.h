// DropCompute with timing: real — the ranks of one synchronous data-parallel
// step as threads on the wall clock: on the CPU each with its own replica and
// single-threaded backend; on GPUs one per GPU (cuda:k .. cuda:k+N-1 from the
// trial's device k) with NCCL. Each rank works through its micro-batches,
// checking the clock before each and between its forward and backward; past
// τ it stops (a forward past τ is discarded). After each micro-batch it
// sleeps until the noise model's time for it has passed — the injected
// straggler delay. The all-reduce sums the ranks' gradients in rank order.
// Not thread-safe (Step runs its own threads).
#ifndef LADLE_TRAIN_DROPCOMPUTE_RANKS_H_
#define LADLE_TRAIN_DROPCOMPUTE_RANKS_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "kernels/backend.h"
#include "kernels/collective.h"
#include "kernels/models.h"
#include "kernels/params.h"
#include "kernels/tensor.h"
#include "spec/train_spec.h"
#include "train/trial_data.h"

namespace ladle {

class DropComputeRanks {
 public:
  struct Options {
    DropComputeSpec spec;
    ModelConfig model;
    int64_t micro_batch_size = 0;
    uint64_t seed = 0;  // dropout masks of each micro-batch
    int64_t num_features = 0, num_classes = 0;
  };
  // `backend` is the trial's (it and `train`, the training split on it, must
  // outlive the ranks). FAILED_PRECONDITION when GPU ranks need more GPUs
  // than the machine has.
  static absl::StatusOr<std::unique_ptr<DropComputeRanks>> Create(
      const Options& options, Backend* backend, const DeviceSplit& train,
      int64_t train_size);

  struct StepResult {
    int64_t kept = 0;     // micro-batches computed, all ranks
    double loss_sum = 0;  // of their rows
    double seconds = 0;   // wall clock, plus the spec's comm_seconds
  };
  // One global step `step` over rows [begin, begin + N·M·b) of `order`, with
  // micro-batch times `times` and threshold `tau` (0: none). The averaged
  // gradient (over `global_batch` rows, or the rows computed with
  // renormalize) lands in `params`' gradients.
  absl::StatusOr<StepResult> Step(ParamStore& params,
                                  const std::vector<int32_t>& order,
                                  int64_t begin, int64_t step,
                                  const std::vector<std::vector<double>>& times,
                                  double tau, int64_t global_batch);

  // The all-reduce, for the summary.
  std::string Describe() const;

 private:
  struct Rank {
    std::unique_ptr<Backend> be;
    std::unique_ptr<Model> model;
    Tensor<int32_t> idx, y;
    Tensor<float> x, loss, dlogits;
    const float* data_x = nullptr;  // the training split on this device
    const int32_t* data_y = nullptr;
    Tensor<float> own_x;  // GPU ranks off the trial's GPU
    Tensor<int32_t> own_y;
    std::vector<float> grad_sum;       // CPU ranks
    Tensor<float> grad_dev, loss_acc;  // GPU ranks
    int64_t kept = 0;
    double loss_sum = 0;
  };
  DropComputeRanks(const Options& options, Backend* backend)
      : o_(options), backend_(backend) {}
  absl::Status CreateRanks(const DeviceSplit& train, int64_t train_size);
  // Copies (CPU) or broadcasts (GPU) the weights to the ranks.
  absl::Status ShareWeights(ParamStore& params, std::vector<float>* weights);
  // One rank's micro-batches of the step.
  absl::Status RunRank(size_t n, const std::vector<int32_t>& order,
                       int64_t begin, int64_t step,
                       const std::vector<std::vector<double>>& times,
                       double tau, const std::vector<float>& weights,
                       std::chrono::steady_clock::time_point start);
  // Sums the ranks' gradients (rank order) into `params`' gradients / denom.
  absl::Status AllReduce(ParamStore& params, double denom);

  const Options o_;
  Backend* const backend_;
  std::vector<std::unique_ptr<Rank>> ranks_;
  std::unique_ptr<Collective> collective_;  // GPU ranks: NCCL
};

}  // namespace ladle

#endif  // LADLE_TRAIN_DROPCOMPUTE_RANKS_H_
