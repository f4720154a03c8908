#include "train/subgraph_sampler.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "common/random.h"
#include "common/status_macros.h"
#include "kernels/data/graph_sampling.h"

namespace ladle {

SubgraphSampler::SubgraphSampler(const SamplerSpec& spec, uint64_t seed,
                                 Graph graph, Backend* backend)
    : spec_(spec), seed_(seed), graph_(std::move(graph)), backend_(backend) {}

absl::StatusOr<std::unique_ptr<SubgraphSampler>> SubgraphSampler::Create(
    const SamplerSpec& spec, uint64_t seed, Graph graph, int64_t max_nnz,
    Backend* backend) {
  std::unique_ptr<SubgraphSampler> s(
      new SubgraphSampler(spec, seed, std::move(graph), backend));
  const Graph& g = s->graph_;
  s->train_mask_.assign(g.nodes, 0);
  for (int32_t n : g.train_nodes) s->train_mask_[n] = 1;
  if (spec.type == SamplerSpec::Type::kCluster) {
    ASSIGN_OR_RETURN(s->part_of_,
                     MetisPartition(g, spec.parts, spec.partition_seed));
    s->groups_ = spec.parts;
    s->chunks_ = (spec.parts + spec.parts_per_step - 1) / spec.parts_per_step;
  } else {
    s->chunks_ = static_cast<int64_t>(std::ceil(1.0 / spec.fraction));
    s->groups_ = s->chunks_;
  }
  // Sized for the whole graph: any subgraph fits.
  const int64_t n = g.nodes, nnz = max_nnz;
  ASSIGN_OR_RETURN(s->row_ptr_, Tensor<int32_t>::Zeros(backend, {n + 1}));
  ASSIGN_OR_RETURN(s->col_idx_, Tensor<int32_t>::Zeros(backend, {nnz}));
  ASSIGN_OR_RETURN(s->values_, Tensor<float>::Zeros(backend, {nnz}));
  ASSIGN_OR_RETURN(s->idx_, Tensor<int32_t>::Zeros(backend, {n}));
  ASSIGN_OR_RETURN(s->x_, Tensor<float>::Zeros(backend, {n, g.num_features}));
  ASSIGN_OR_RETURN(s->y_, Tensor<int32_t>::Zeros(backend, {n}));
  return s;
}

std::vector<int32_t> SubgraphSampler::Nodes(int64_t epoch, int64_t pos) const {
  Rng rng(
      SplitMix64(seed_ * 0xD1B54A32D192ED03ULL + static_cast<uint64_t>(epoch)));
  std::vector<int32_t> nodes;
  if (!part_of_.empty()) {
    std::vector<int32_t> order(groups_);
    std::iota(order.begin(), order.end(), 0);
    for (int64_t i = groups_ - 1; i > 0; --i)
      std::swap(order[i], order[rng.Below(i + 1)]);
    const int64_t q = spec_.parts_per_step;
    std::vector<char> chosen(groups_, 0);
    for (int64_t i = pos * q; i < std::min(groups_, (pos + 1) * q); ++i)
      chosen[order[i]] = 1;
    for (int32_t v = 0; v < graph_.nodes; ++v)
      if (chosen[part_of_[v]]) nodes.push_back(v);
  } else {
    const int64_t n = graph_.nodes;
    std::vector<int32_t> order(n);
    std::iota(order.begin(), order.end(), 0);
    for (int64_t i = n - 1; i > 0; --i)
      std::swap(order[i], order[rng.Below(i + 1)]);
    const int64_t chunk = (n + chunks_ - 1) / chunks_;
    const int64_t b = std::min(n, pos * chunk), e = std::min(n, b + chunk);
    nodes.assign(order.begin() + b, order.begin() + e);
    std::sort(nodes.begin(), nodes.end());
  }
  return nodes;
}

absl::StatusOr<SubgraphSampler::Subgraph> SubgraphSampler::Load(
    int64_t epoch, int64_t pos, const float* x, const int32_t* y) {
  const std::vector<int32_t> nodes = Nodes(epoch, pos);
  const Csr a = NormalizedAdjacency(InducedSubgraph(graph_, nodes));
  const int64_t n = static_cast<int64_t>(nodes.size());
  if (n == 0) return absl::InternalError("sampler drew an empty subgraph");
  RETURN_IF_ERROR(row_ptr_.CopyFromHost(a.row_ptr.data(), n + 1));
  RETURN_IF_ERROR(col_idx_.CopyFromHost(a.col_idx.data(), a.col_idx.size()));
  RETURN_IF_ERROR(values_.CopyFromHost(a.values.data(), a.values.size()));
  RETURN_IF_ERROR(idx_.CopyFromHost(nodes.data(), n));
  RETURN_IF_ERROR(
      backend_->GatherRows(x, idx_.data(), n, graph_.num_features, x_.data()));
  RETURN_IF_ERROR(backend_->GatherLabels(y, idx_.data(), n, y_.data()));
  Subgraph s;
  s.adjacency = CsrView{n,
                        n,
                        static_cast<int64_t>(a.values.size()),
                        row_ptr_.data(),
                        col_idx_.data(),
                        values_.data()};
  s.x = x_.data();
  s.y = y_.data();
  s.rows = n;
  for (int32_t v : nodes) s.training_nodes += train_mask_[v];
  return s;
}

}  // namespace ladle
