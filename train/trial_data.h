// A trial's data on its device, as the model trains and evaluates on it:
// dense splits (features and labels of each), or for a GCN the graph (its
// normalised adjacency, every node's features, each split's labels as a mask
// over all nodes). Datasets that are graphs train dense models on their
// nodes' features alone.
#ifndef LADLE_TRAIN_TRIAL_DATA_H_
#define LADLE_TRAIN_TRIAL_DATA_H_

#include <cstdint>
#include <optional>
#include <vector>

#include "absl/status/statusor.h"
#include "kernels/backend.h"
#include "kernels/data/datasets.h"
#include "kernels/tensor.h"
#include "spec/train_spec.h"

namespace ladle {

// One split on the device: features (dense) and labels.
struct DeviceSplit {
  Tensor<float> x;    // dense: [n, f]; gcn: unused
  Tensor<int32_t> y;  // dense: [n]; gcn: [nodes] with -1 outside the split
  std::vector<int32_t> host_labels;  // dense: labels; gcn: labels of all nodes
  std::vector<int32_t> nodes;        // gcn: the split's node ids
  int64_t size = 0;
};

struct TrialData {
  int64_t num_features = 0, num_classes = 0, train_size = 0;
  DeviceSplit train, val, test;
  DeviceCsr adjacency;    // gcn
  Tensor<float> graph_x;  // gcn: [nodes, features]
  // gcn with a train.sampler: the host graph the sampler draws from.
  std::optional<Graph> host_graph;
};

// Loads (or generates) the spec's dataset onto `backend`: as a graph for a
// GCN, else as dense splits. INVALID_ARGUMENT for an empty training split.
absl::StatusOr<TrialData> LoadTrialData(const TrainSpec& spec,
                                        Backend* backend);

}  // namespace ladle

#endif  // LADLE_TRAIN_TRIAL_DATA_H_
