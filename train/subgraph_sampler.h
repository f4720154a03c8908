// The sampled subgraphs a GCN trains on (train.sampler: cluster or nodes,
// ClusterGCN-style): the host graph, its METIS parts, and device buffers
// sized for the whole graph, so a training step allocates nothing on the
// device. Which nodes a step gets is a function of (seed, epoch, position)
// only, so a resumed run draws the same subgraphs. Not thread-safe.
#ifndef LADLE_TRAIN_SUBGRAPH_SAMPLER_H_
#define LADLE_TRAIN_SUBGRAPH_SAMPLER_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "kernels/backend.h"
#include "kernels/data/datasets.h"
#include "kernels/tensor.h"
#include "spec/train_spec.h"

namespace ladle {

class SubgraphSampler {
 public:
  // `graph` (its train split marks the nodes that count), `seed` the
  // sampler's (train.sampler.seed, else train.seed), `max_nnz` the nonzeros
  // of the whole graph's normalised adjacency. `backend` must outlive the
  // sampler.
  static absl::StatusOr<std::unique_ptr<SubgraphSampler>> Create(
      const SamplerSpec& spec, uint64_t seed, Graph graph, int64_t max_nnz,
      Backend* backend);

  // Steps per epoch: one per group of parts_per_step parts (cluster) or per
  // chunk of the nodes (nodes).
  int64_t steps_per_epoch() const { return chunks_; }

  // Nodes of step `pos` of `epoch`, sorted: cluster — the parts_per_step
  // parts at `pos` of this epoch's shuffled part order; nodes — chunk `pos` of
  // this epoch's shuffled node order.
  std::vector<int32_t> Nodes(int64_t epoch, int64_t pos) const;

  // Step (epoch, pos)'s subgraph on the device: its normalised adjacency, and
  // the features and labels of its nodes gathered from `x` [nodes, features]
  // and `y` [nodes] (device memory of the whole graph). Valid until the next
  // Load.
  struct Subgraph {
    CsrView adjacency;
    const float* x = nullptr;
    const int32_t* y = nullptr;
    int64_t rows = 0;            // its nodes
    int64_t training_nodes = 0;  // of them, in the training split
  };
  absl::StatusOr<Subgraph> Load(int64_t epoch, int64_t pos, const float* x,
                                const int32_t* y);

 private:
  SubgraphSampler(const SamplerSpec& spec, uint64_t seed, Graph graph,
                  Backend* backend);

  const SamplerSpec spec_;
  const uint64_t seed_;
  const Graph graph_;
  Backend* const backend_;
  std::vector<char> train_mask_;
  std::vector<int32_t> part_of_;  // cluster: METIS part of each node
  int64_t groups_ = 0, chunks_ = 1;
  Tensor<int32_t> row_ptr_, col_idx_, idx_, y_;
  Tensor<float> values_, x_;
};

}  // namespace ladle

#endif  // LADLE_TRAIN_SUBGRAPH_SAMPLER_H_
