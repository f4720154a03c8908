// The GCN's subgraph sampler: deterministic in (seed, epoch, position), every
// node (nodes) or part (cluster) once per epoch, and subgraphs that are the
// induced graph of their nodes with the right rows gathered.
#include "train/subgraph_sampler.h"

#include <algorithm>
#include <set>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kernels/data/graph_sampling.h"

namespace ladle {
namespace {

class SubgraphSamplerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    CsbmConfig c;
    c.nodes = 600;
    c.feature_dim = 4;
    graph_ = *GenerateCsbm(c);
    backend_ = *CreateBackend(Device{DeviceKind::kCpu, 0}, 1);
  }
  std::unique_ptr<SubgraphSampler> Make(SamplerSpec::Type type,
                                        uint64_t seed = 7) {
    SamplerSpec spec;
    spec.type = type;
    spec.parts = 8;
    spec.parts_per_step = 3;
    spec.fraction = 0.25;
    const int64_t nnz = NormalizedAdjacency(graph_).values.size();
    return *SubgraphSampler::Create(spec, seed, graph_, nnz, backend_.get());
  }
  Graph graph_;
  std::unique_ptr<Backend> backend_;
};

TEST_F(SubgraphSamplerTest, AnEpochCoversEveryNodeOnce) {
  for (auto type : {SamplerSpec::Type::kNodes, SamplerSpec::Type::kCluster}) {
    auto s = Make(type);
    EXPECT_EQ(s->steps_per_epoch(), type == SamplerSpec::Type::kNodes ? 4 : 3);
    std::vector<int> seen(graph_.nodes, 0);
    for (int64_t pos = 0; pos < s->steps_per_epoch(); ++pos) {
      const std::vector<int32_t> nodes = s->Nodes(2, pos);
      EXPECT_TRUE(std::is_sorted(nodes.begin(), nodes.end()));
      EXPECT_FALSE(nodes.empty());
      for (int32_t v : nodes) ++seen[v];
    }
    EXPECT_THAT(seen, ::testing::Each(1));
  }
}

TEST_F(SubgraphSamplerTest, DrawsAreAFunctionOfSeedEpochAndPosition) {
  auto a = Make(SamplerSpec::Type::kCluster),
       b = Make(SamplerSpec::Type::kCluster);
  EXPECT_EQ(a->Nodes(5, 1), b->Nodes(5, 1));  // a resumed run draws the same
  EXPECT_NE(a->Nodes(5, 1), a->Nodes(6, 1));  // epochs reshuffle
  auto other = Make(SamplerSpec::Type::kCluster, 8);
  bool differs = false;
  for (int64_t e = 0; e < 4; ++e)
    differs |= other->Nodes(e, 0) != a->Nodes(e, 0);
  EXPECT_TRUE(differs);
}

TEST_F(SubgraphSamplerTest, LoadGathersTheInducedSubgraph) {
  auto s = Make(SamplerSpec::Type::kNodes);
  auto x = *Tensor<float>::FromHost(
      backend_.get(), {graph_.nodes, graph_.num_features}, graph_.features);
  std::vector<int32_t> masked(graph_.nodes, -1);
  for (int32_t v : graph_.train_nodes) masked[v] = graph_.labels[v];
  auto y = *Tensor<int32_t>::FromHost(backend_.get(), {graph_.nodes}, masked);
  const std::vector<int32_t> nodes = s->Nodes(0, 1);
  absl::StatusOr<SubgraphSampler::Subgraph> sub =
      s->Load(0, 1, x.data(), y.data());
  ASSERT_TRUE(sub.ok()) << sub.status();
  ASSERT_EQ(sub->rows, static_cast<int64_t>(nodes.size()));
  const std::set<int32_t> train(graph_.train_nodes.begin(),
                                graph_.train_nodes.end());
  int64_t training = 0;
  for (size_t i = 0; i < nodes.size(); ++i) {
    training += train.count(nodes[i]);
    EXPECT_EQ(sub->y[i], masked[nodes[i]]);
    EXPECT_EQ(sub->x[i * graph_.num_features],
              graph_.features[nodes[i] * graph_.num_features]);
  }
  EXPECT_EQ(sub->training_nodes, training);
  const Csr expected = NormalizedAdjacency(InducedSubgraph(graph_, nodes));
  EXPECT_EQ(sub->adjacency.rows, sub->rows);
  EXPECT_EQ(sub->adjacency.nnz, static_cast<int64_t>(expected.values.size()));
  EXPECT_EQ(std::vector<int32_t>(sub->adjacency.row_ptr,
                                 sub->adjacency.row_ptr + sub->rows + 1),
            expected.row_ptr);
}

}  // namespace
}  // namespace ladle
