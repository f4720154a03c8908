#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "gtest/gtest.h"
#include "kernels/data/datasets.h"
#include "kernels/data/graph_sampling.h"

namespace ladle {
namespace {

TEST(FashionMnist, LoadsSplitsAndStandardises) {
  auto d = LoadFashionMnist(kFashionMnistDir, 0.1, 1);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->train.size(), 54000);
  EXPECT_EQ(d->val.size(), 6000);
  EXPECT_EQ(d->test.size(), 10000);
  EXPECT_EQ(d->train.num_features, 784);
  double sum = 0, sq = 0;
  for (float v : d->train.features) {
    sum += v;
    sq += v * v;
  }
  const double n = d->train.features.size();
  EXPECT_NEAR(sum / n, 0.0, 0.01);
  EXPECT_NEAR(std::sqrt(sq / n - (sum / n) * (sum / n)), 1.0, 0.01);
  std::vector<int> counts(10);
  for (int32_t y : d->test.labels) ++counts[y];
  for (int c : counts) EXPECT_EQ(c, 1000);  // the test set is balanced
  // Same seed, same split; another seed, another split.
  auto again = LoadFashionMnist(kFashionMnistDir, 0.1, 1, 1000);
  auto other = LoadFashionMnist(kFashionMnistDir, 0.1, 2, 1000);
  ASSERT_TRUE(again.ok() && other.ok());
  EXPECT_EQ(again->train.size(), 900);
  EXPECT_TRUE(std::equal(again->train.labels.begin(), again->train.labels.end(),
                         d->train.labels.begin()));
  EXPECT_NE(again->train.labels, other->train.labels);
}

TEST(FashionMnist, MissingDataNamesThePackage) {
  auto d = LoadFashionMnist("/nonexistent/fmnist", 0.1, 1);
  ASSERT_EQ(d.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(d.status().message().find("dataset-fashion-mnist"),
            std::string::npos);
  EXPECT_EQ(LoadFashionMnist(kFashionMnistDir, 1.5, 1).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(FashionMnist, CorruptIdxIsDataLoss) {
  const std::string path = ::testing::TempDir() + "/bad-idx";
  std::ofstream(path) << "not an idx file";
  EXPECT_EQ(ReadIdxFile(path).status().code(), absl::StatusCode::kDataLoss);
}

void ExpectValidSplit(const Graph& g) {
  std::set<int32_t> all;
  for (const auto* s : {&g.train_nodes, &g.val_nodes, &g.test_nodes})
    all.insert(s->begin(), s->end());
  EXPECT_EQ(static_cast<int64_t>(all.size()), g.nodes);
  EXPECT_EQ(static_cast<int64_t>(g.train_nodes.size() + g.val_nodes.size() +
                                 g.test_nodes.size()),
            g.nodes);
}

void ExpectSymmetricNoSelfLoops(const Graph& g) {
  std::set<std::pair<int32_t, int32_t>> edges;
  for (int64_t u = 0; u < g.nodes; ++u) {
    for (int32_t p = g.row_ptr[u]; p < g.row_ptr[u + 1]; ++p) {
      ASSERT_NE(g.col_idx[p], u);
      edges.insert({static_cast<int32_t>(u), g.col_idx[p]});
    }
  }
  for (auto [u, v] : edges) ASSERT_TRUE(edges.count({v, u})) << u << "-" << v;
}

TEST(Csbm, MatchesItsParameters) {
  CsbmConfig c;
  c.nodes = 5000;
  c.classes = 4;
  c.avg_degree = 8;
  c.homophily = 0.7;
  auto g = GenerateCsbm(c);
  ASSERT_TRUE(g.ok()) << g.status();
  ExpectSymmetricNoSelfLoops(*g);
  ExpectValidSplit(*g);
  EXPECT_NEAR(2.0 * g->num_edges() / g->nodes, 8.0, 0.3);
  EXPECT_NEAR(g->EdgeHomophily(), 0.7, 0.03);
  auto again = GenerateCsbm(c);
  EXPECT_EQ(again->col_idx, g->col_idx);
  EXPECT_EQ(again->features, g->features);
  c.homophily = 1.5;
  EXPECT_EQ(GenerateCsbm(c).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(Csbm, NormalizedAdjacencyIsSymmetricWithSelfLoops) {
  CsbmConfig c;
  c.nodes = 200;
  auto g = GenerateCsbm(c);
  ASSERT_TRUE(g.ok());
  const Csr a = NormalizedAdjacency(*g);
  std::map<std::pair<int, int>, float> entries;
  for (int64_t r = 0; r < a.rows; ++r) {
    bool self = false;
    for (int32_t p = a.row_ptr[r]; p < a.row_ptr[r + 1]; ++p) {
      entries[{static_cast<int>(r), a.col_idx[p]}] = a.values[p];
      self |= a.col_idx[p] == r;
      if (p > a.row_ptr[r]) {
        EXPECT_LT(a.col_idx[p - 1], a.col_idx[p]);
      }
    }
    EXPECT_TRUE(self);
    const double deg = a.row_ptr[r + 1] - a.row_ptr[r];
    const float self_value =
        entries[{static_cast<int>(r), static_cast<int>(r)}];
    EXPECT_FLOAT_EQ(self_value, 1.0 / deg);
  }
  for (auto& [k, v] : entries)
    EXPECT_FLOAT_EQ(v, (entries[{k.second, k.first}]));
}

TEST(GraphSampling, MetisPartsCoverTheGraphAndCutFewEdges) {
  CsbmConfig c;
  c.nodes = 3000;
  c.homophily = 0.9;
  const Graph g = *GenerateCsbm(c);
  auto parts = MetisPartition(g, 8, 1);
  ASSERT_TRUE(parts.ok()) << parts.status();
  std::map<int32_t, int> sizes;
  for (int32_t p : *parts) ++sizes[p];
  ASSERT_EQ(sizes.size(), 8u);
  for (const auto& [p, n] : sizes) {
    EXPECT_GE(p, 0);
    EXPECT_NEAR(n, 3000 / 8, 3000 / 8 * 0.1) << "part " << p;  // balanced
  }
  int64_t cut = 0;
  for (int64_t u = 0; u < g.nodes; ++u)
    for (int32_t e = g.row_ptr[u]; e < g.row_ptr[u + 1]; ++e)
      cut += (*parts)[u] != (*parts)[g.col_idx[e]];
  // A random 8-way split cuts 7/8 of the edges; METIS far fewer.
  EXPECT_LT(static_cast<double>(cut) / g.col_idx.size(), 0.6);
  EXPECT_EQ(*MetisPartition(g, 8, 1), *parts);  // deterministic for a seed
  EXPECT_FALSE(MetisPartition(g, 0, 1).ok());
}

TEST(GraphSampling, InducedSubgraphKeepsExactlyTheInnerEdges) {
  CsbmConfig c;
  c.nodes = 500;
  const Graph g = *GenerateCsbm(c);
  std::vector<int32_t> nodes;
  for (int32_t v = 0; v < 500; v += 3) nodes.push_back(v);
  const Graph s = InducedSubgraph(g, nodes);
  ASSERT_EQ(s.nodes, static_cast<int64_t>(nodes.size()));
  std::set<std::pair<int32_t, int32_t>> want, got;
  for (size_t i = 0; i < nodes.size(); ++i)
    for (int32_t e = g.row_ptr[nodes[i]]; e < g.row_ptr[nodes[i] + 1]; ++e)
      if (g.col_idx[e] % 3 == 0)
        want.insert({static_cast<int32_t>(i), g.col_idx[e] / 3});
  for (int64_t u = 0; u < s.nodes; ++u)
    for (int32_t e = s.row_ptr[u]; e < s.row_ptr[u + 1]; ++e)
      got.insert({static_cast<int32_t>(u), s.col_idx[e]});
  EXPECT_EQ(got, want);
  for (const auto& [u, v] : got) EXPECT_TRUE(got.count({v, u}));  // symmetric
}

TEST(FashionMnistKnn, BuildsAHomophilousGraph) {
  KnnConfig c;
  c.nodes = 2000;
  c.k = 5;
  auto g = BuildFashionMnistKnn(c);
  ASSERT_TRUE(g.ok()) << g.status();
  ExpectSymmetricNoSelfLoops(*g);
  ExpectValidSplit(*g);
  EXPECT_GE(g->num_edges(), 2000 * 5 / 2);
  EXPECT_LE(g->num_edges(), 2000 * 5);
  // Nearest neighbours in pixel space mostly share the class.
  EXPECT_GT(g->EdgeHomophily(), 0.65);
}

}  // namespace
}  // namespace ladle
