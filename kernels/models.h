// Models: MLP, ResMLP and GCN over a Backend, with hand-written backward
// passes.
//
// A model owns its parameters (ParamStore) and a workspace sized for
// `max_batch` rows, allocated at construction: Forward/Backward allocate
// nothing. Not thread-safe.
#ifndef LADLE_KERNELS_MODELS_H_
#define LADLE_KERNELS_MODELS_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "kernels/backend.h"
#include "kernels/params.h"
#include "kernels/tensor.h"
#include "spec/config.h"

namespace ladle {

class Model {
 public:
  virtual ~Model() = default;

  // Runs the model on x[batch, input_dim] (backend memory, must stay valid
  // until Backward). Returns logits[batch, classes], owned by the model and
  // valid until the next Forward. `dropout_seed` picks the dropout masks of a
  // training step.
  virtual absl::StatusOr<const float*> Forward(const float* x, int64_t batch,
                                               bool training,
                                               uint64_t dropout_seed) = 0;
  // Gradients of all parameters (overwritten) from dlogits of the last training
  // Forward.
  virtual absl::Status Backward(const float* dlogits) = 0;
  // Multiply-add FLOPs (2 per MAC) of one training step (forward + backward) on
  // `batch` rows.
  virtual double TrainFlops(int64_t batch) const = 0;
  // Graph models: run on `adj` (memory must stay valid while in use) instead
  // of the graph given at construction; at most that many nodes. Subgraph
  // training (ClusterGCN) switches between a sampled subgraph and the full
  // graph. Dense models: UNIMPLEMENTED.
  virtual absl::Status UseGraph(const CsrView& adj) {
    return absl::UnimplementedError("this model takes no graph");
  }

  ParamStore& params() { return params_; }
  int64_t input_dim() const { return input_dim_; }
  int64_t num_classes() const { return num_classes_; }
  int64_t max_batch() const { return max_batch_; }

 protected:
  Model(Backend* backend, int64_t input_dim, int64_t num_classes,
        int64_t max_batch)
      : backend_(backend),
        input_dim_(input_dim),
        num_classes_(num_classes),
        max_batch_(max_batch) {}
  absl::Status CheckBatch(int64_t batch) const;

  Backend* backend_;
  ParamStore params_;
  int64_t input_dim_, num_classes_, max_batch_;
};

// Builds an MLP or ResMLP. Parameters are initialised from `seed`.
absl::StatusOr<std::unique_ptr<Model>> CreateDenseModel(
    const ModelConfig& config, Backend* backend, int64_t input_dim,
    int64_t num_classes, int64_t max_batch, uint64_t seed);

// Builds a GCN over the normalised adjacency `adj` (rows = nodes). Forward
// always takes all nodes (batch = adj.rows). `adj` must outlive the model; it
// must be symmetric (Â is), since backward multiplies by Âᵀ = Â.
absl::StatusOr<std::unique_ptr<Model>> CreateGcnModel(
    const ModelConfig& config, Backend* backend, const DeviceCsr* adj,
    int64_t input_dim, int64_t num_classes, uint64_t seed);

}  // namespace ladle

#endif  // LADLE_KERNELS_MODELS_H_
