#include "train/trial_data.h"

#include "common/status_macros.h"

namespace ladle {
namespace {

DenseSplits GraphAsDense(const Graph& g) {
  DenseSplits d;
  auto take = [&](const std::vector<int32_t>& nodes, Dataset* out) {
    out->num_features = g.num_features;
    out->num_classes = g.num_classes;
    for (int32_t n : nodes) {
      out->features.insert(
          out->features.end(), g.features.begin() + int64_t{n} * g.num_features,
          g.features.begin() + int64_t{n + 1} * g.num_features);
      out->labels.push_back(g.labels[n]);
    }
  };
  take(g.train_nodes, &d.train);
  take(g.val_nodes, &d.val);
  take(g.test_nodes, &d.test);
  return d;
}

absl::Status LoadDense(DenseSplits d, Backend* backend, TrialData* out) {
  out->num_features = d.train.num_features;
  out->num_classes = d.train.num_classes;
  out->train_size = d.train.size();
  auto load = [&](Dataset& src, DeviceSplit* dst) -> absl::Status {
    dst->size = src.size();
    ASSIGN_OR_RETURN(
        dst->x, Tensor<float>::FromHost(backend, {src.size(), src.num_features},
                                        src.features));
    ASSIGN_OR_RETURN(
        dst->y, Tensor<int32_t>::FromHost(backend, {src.size()}, src.labels));
    dst->host_labels = std::move(src.labels);
    return absl::OkStatus();
  };
  RETURN_IF_ERROR(load(d.train, &out->train));
  RETURN_IF_ERROR(load(d.val, &out->val));
  return load(d.test, &out->test);
}

absl::Status LoadGraph(const Graph& g, Backend* be, TrialData* out) {
  out->num_features = g.num_features;
  out->num_classes = g.num_classes;
  out->train_size = static_cast<int64_t>(g.train_nodes.size());
  const Csr a = NormalizedAdjacency(g);
  out->adjacency.rows = a.rows;
  out->adjacency.cols = a.cols;
  ASSIGN_OR_RETURN(out->adjacency.row_ptr,
                   Tensor<int32_t>::FromHost(be, {a.rows + 1}, a.row_ptr));
  ASSIGN_OR_RETURN(
      out->adjacency.col_idx,
      Tensor<int32_t>::FromHost(be, {int64_t(a.col_idx.size())}, a.col_idx));
  ASSIGN_OR_RETURN(
      out->adjacency.values,
      Tensor<float>::FromHost(be, {int64_t(a.values.size())}, a.values));
  ASSIGN_OR_RETURN(
      out->graph_x,
      Tensor<float>::FromHost(be, {g.nodes, g.num_features}, g.features));
  auto load = [&](const std::vector<int32_t>& nodes,
                  DeviceSplit* dst) -> absl::Status {
    std::vector<int32_t> masked(g.nodes, -1);
    for (int32_t n : nodes) masked[n] = g.labels[n];
    ASSIGN_OR_RETURN(dst->y, Tensor<int32_t>::FromHost(be, {g.nodes}, masked));
    dst->host_labels = g.labels;
    dst->nodes = nodes;
    dst->size = static_cast<int64_t>(nodes.size());
    return absl::OkStatus();
  };
  RETURN_IF_ERROR(load(g.train_nodes, &out->train));
  RETURN_IF_ERROR(load(g.val_nodes, &out->val));
  return load(g.test_nodes, &out->test);
}

}  // namespace

absl::StatusOr<TrialData> LoadTrialData(const TrainSpec& spec,
                                        Backend* backend) {
  TrialData data;
  const bool gcn = spec.model.type == ModelConfig::Type::kGcn;
  if (!spec.data.is_graph()) {
    ASSIGN_OR_RETURN(DenseSplits d,
                     LoadFashionMnist(spec.data.path, spec.data.val_fraction,
                                      spec.data.seed, spec.data.limit));
    RETURN_IF_ERROR(LoadDense(std::move(d), backend, &data));
  } else {
    Graph g;
    if (spec.data.kind == DataSpec::Kind::kCsbm) {
      ASSIGN_OR_RETURN(g, GenerateCsbm(spec.data.csbm));
    } else {
      ASSIGN_OR_RETURN(g, BuildFashionMnistKnn(spec.data.knn));
    }
    if (gcn) {
      RETURN_IF_ERROR(LoadGraph(g, backend, &data));
      if (spec.sampler.type != SamplerSpec::Type::kFull)
        data.host_graph = std::move(g);
    } else {
      RETURN_IF_ERROR(LoadDense(GraphAsDense(g), backend, &data));
    }
  }
  if (data.train_size == 0)
    return absl::InvalidArgumentError("data: the training split is empty");
  return data;
}

}  // namespace ladle
