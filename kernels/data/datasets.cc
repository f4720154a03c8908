#include "kernels/data/datasets.h"

#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <numeric>

#include "absl/strings/str_cat.h"
#include "common/random.h"
#include "common/status_macros.h"
#include "kernels/cpu/gemm.h"

namespace ladle {
namespace {

constexpr float kFashionMean = 0.2860f;
constexpr float kFashionStd = 0.3530f;

std::vector<int32_t> Permutation(int64_t n, uint64_t seed) {
  std::vector<int32_t> p(n);
  std::iota(p.begin(), p.end(), 0);
  Rng rng(seed);
  for (int64_t i = n - 1; i > 0; --i) std::swap(p[i], p[rng.Below(i + 1)]);
  return p;
}

absl::Status CheckFraction(const char* name, double f) {
  if (!(f >= 0.0 && f < 1.0)) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, ": must be in [0, 1), got ", f));
  }
  return absl::OkStatus();
}

// Images [n, 784] as standardised floats, labels [n].
absl::Status LoadPair(const std::string& dir, const std::string& prefix,
                      Dataset* out) {
  ASSIGN_OR_RETURN(IdxFile images,
                   ReadIdxFile(dir + "/" + prefix + "-images-idx3-ubyte.gz"));
  ASSIGN_OR_RETURN(IdxFile labels,
                   ReadIdxFile(dir + "/" + prefix + "-labels-idx1-ubyte.gz"));
  if (images.dims.size() != 3 || labels.dims.size() != 1 ||
      images.dims[0] != labels.dims[0]) {
    return absl::DataLossError(absl::StrCat("fashion-mnist: ", dir, "/", prefix,
                                            " files have unexpected shapes"));
  }
  const int64_t n = images.dims[0], f = images.dims[1] * images.dims[2];
  out->num_features = f;
  out->num_classes = 10;
  out->features.resize(n * f);
  out->labels.resize(n);
  for (int64_t i = 0; i < n * f; ++i) {
    out->features[i] = (images.data[i] / 255.0f - kFashionMean) / kFashionStd;
  }
  for (int64_t i = 0; i < n; ++i) {
    if (labels.data[i] >= 10)
      return absl::DataLossError("fashion-mnist: label out of range");
    out->labels[i] = labels.data[i];
  }
  return absl::OkStatus();
}

Dataset Subset(const Dataset& d, const std::vector<int32_t>& index,
               size_t begin, size_t end) {
  Dataset s;
  s.num_features = d.num_features;
  s.num_classes = d.num_classes;
  s.features.resize((end - begin) * d.num_features);
  s.labels.resize(end - begin);
  for (size_t i = begin; i < end; ++i) {
    std::copy_n(d.features.begin() + int64_t{index[i]} * d.num_features,
                d.num_features,
                s.features.begin() + (i - begin) * d.num_features);
    s.labels[i - begin] = d.labels[index[i]];
  }
  return s;
}

// Builds a sorted, de-duplicated symmetric CSR from an undirected edge list (no
// self loops).
void BuildSymmetricCsr(int64_t n,
                       std::vector<std::pair<int32_t, int32_t>>& edges,
                       Graph* g) {
  std::vector<std::pair<int32_t, int32_t>> both;
  both.reserve(edges.size() * 2);
  for (auto [u, v] : edges) {
    if (u == v) continue;
    both.emplace_back(u, v);
    both.emplace_back(v, u);
  }
  std::sort(both.begin(), both.end());
  both.erase(std::unique(both.begin(), both.end()), both.end());
  g->row_ptr.assign(n + 1, 0);
  g->col_idx.resize(both.size());
  for (size_t i = 0; i < both.size(); ++i) {
    ++g->row_ptr[both[i].first + 1];
    g->col_idx[i] = both[i].second;
  }
  for (int64_t i = 0; i < n; ++i) g->row_ptr[i + 1] += g->row_ptr[i];
}

}  // namespace

absl::StatusOr<IdxFile> ReadIdxFile(const std::string& path) {
  if (!std::filesystem::exists(path)) {
    return absl::NotFoundError(absl::StrCat(
        path,
        " not found: install Debian's dataset-fashion-mnist package "
        "(./scripts/install-deps.sh does) or set data.path"));
  }
  gzFile f = gzopen(path.c_str(), "rb");
  if (f == nullptr)
    return absl::NotFoundError(absl::StrCat("cannot open ", path));
  std::vector<uint8_t> bytes;
  uint8_t buf[1 << 16];
  int got;
  while ((got = gzread(f, buf, sizeof(buf))) > 0)
    bytes.insert(bytes.end(), buf, buf + got);
  const bool read_error = got < 0;
  gzclose(f);
  if (read_error)
    return absl::DataLossError(absl::StrCat(path, ": corrupt gzip data"));
  if (bytes.size() < 4 || bytes[0] != 0 || bytes[1] != 0 || bytes[2] != 0x08) {
    return absl::DataLossError(
        absl::StrCat(path, ": not an unsigned-byte IDX file"));
  }
  const int ndims = bytes[3];
  if (bytes.size() < 4 + 4 * static_cast<size_t>(ndims)) {
    return absl::DataLossError(absl::StrCat(path, ": truncated header"));
  }
  IdxFile idx;
  int64_t count = 1;
  for (int i = 0; i < ndims; ++i) {
    const uint8_t* p = bytes.data() + 4 + 4 * i;
    const int64_t d = (int64_t{p[0]} << 24) | (p[1] << 16) | (p[2] << 8) | p[3];
    idx.dims.push_back(d);
    count *= d;
  }
  const size_t header = 4 + 4 * ndims;
  if (bytes.size() != header + count) {
    return absl::DataLossError(absl::StrCat(path, ": expected ", count,
                                            " bytes of data, found ",
                                            bytes.size() - header));
  }
  idx.data.assign(bytes.begin() + header, bytes.end());
  return idx;
}

absl::StatusOr<DenseSplits> LoadFashionMnist(const std::string& dir,
                                             double val_fraction, uint64_t seed,
                                             int64_t limit) {
  RETURN_IF_ERROR(CheckFraction("data.val_fraction", val_fraction));
  if (!std::filesystem::is_directory(dir)) {
    return absl::NotFoundError(
        absl::StrCat("fashion-mnist: directory ", dir,
                     " not found: install Debian's dataset-fashion-mnist "
                     "package (./scripts/install-deps.sh "
                     "does) or set data.path"));
  }
  Dataset all_train;
  DenseSplits s;
  RETURN_IF_ERROR(LoadPair(dir, "train", &all_train));
  RETURN_IF_ERROR(LoadPair(dir, "t10k", &s.test));
  std::vector<int32_t> perm = Permutation(all_train.size(), seed);
  size_t n = perm.size();
  if (limit > 0 && static_cast<size_t>(limit) < n) n = limit;
  const size_t n_val = static_cast<size_t>(std::llround(n * val_fraction));
  s.train = Subset(all_train, perm, 0, n - n_val);
  s.val = Subset(all_train, perm, n - n_val, n);
  return s;
}

double Graph::EdgeHomophily() const {
  if (col_idx.empty()) return 0.0;
  int64_t same = 0;
  for (int64_t u = 0; u < nodes; ++u) {
    for (int32_t p = row_ptr[u]; p < row_ptr[u + 1]; ++p)
      same += labels[u] == labels[col_idx[p]];
  }
  return static_cast<double>(same) / col_idx.size();
}

Csr NormalizedAdjacency(const Graph& g) {
  Csr a;
  a.rows = a.cols = g.nodes;
  a.row_ptr.assign(g.nodes + 1, 0);
  std::vector<double> inv_sqrt_deg(g.nodes);
  for (int64_t u = 0; u < g.nodes; ++u) {
    const int64_t deg = g.row_ptr[u + 1] - g.row_ptr[u] + 1;  // + self loop
    inv_sqrt_deg[u] = 1.0 / std::sqrt(static_cast<double>(deg));
    a.row_ptr[u + 1] = a.row_ptr[u] + deg;
  }
  a.col_idx.resize(a.row_ptr.back());
  a.values.resize(a.row_ptr.back());
  for (int64_t u = 0; u < g.nodes; ++u) {
    int32_t out = a.row_ptr[u];
    bool self_done = false;
    auto emit = [&](int32_t v) {
      a.col_idx[out] = v;
      a.values[out] = static_cast<float>(inv_sqrt_deg[u] * inv_sqrt_deg[v]);
      ++out;
    };
    for (int32_t p = g.row_ptr[u]; p < g.row_ptr[u + 1]; ++p) {
      if (!self_done && g.col_idx[p] > u) {
        emit(static_cast<int32_t>(u));
        self_done = true;
      }
      emit(g.col_idx[p]);
    }
    if (!self_done) emit(static_cast<int32_t>(u));
  }
  return a;
}

void SplitNodes(int64_t n, double train_fraction, double val_fraction,
                uint64_t seed, std::vector<int32_t>* train,
                std::vector<int32_t>* val, std::vector<int32_t>* test) {
  std::vector<int32_t> perm = Permutation(n, seed);
  const int64_t n_train = std::llround(n * train_fraction);
  const int64_t n_val =
      std::min<int64_t>(n - n_train, std::llround(n * val_fraction));
  train->assign(perm.begin(), perm.begin() + n_train);
  val->assign(perm.begin() + n_train, perm.begin() + n_train + n_val);
  test->assign(perm.begin() + n_train + n_val, perm.end());
  std::sort(train->begin(), train->end());
  std::sort(val->begin(), val->end());
  std::sort(test->begin(), test->end());
}

absl::StatusOr<Graph> GenerateCsbm(const CsbmConfig& c) {
  if (c.nodes < 2 || c.nodes > (int64_t{1} << 30)) {
    return absl::InvalidArgumentError(
        absl::StrCat("data.nodes: must be in [2, 2^30], got ", c.nodes));
  }
  if (c.classes < 2 || c.classes > c.nodes) {
    return absl::InvalidArgumentError(
        absl::StrCat("data.classes: must be in [2, nodes], got ", c.classes));
  }
  if (!(c.avg_degree > 0 && c.avg_degree < c.nodes)) {
    return absl::InvalidArgumentError("data.avg_degree: must be in (0, nodes)");
  }
  if (!(c.homophily >= 0 && c.homophily <= 1)) {
    return absl::InvalidArgumentError("data.homophily: must be in [0, 1]");
  }
  if (c.feature_dim < 1)
    return absl::InvalidArgumentError("data.feature_dim: must be >= 1");
  if (!(c.separation >= 0))
    return absl::InvalidArgumentError("data.separation: must be >= 0");
  RETURN_IF_ERROR(CheckFraction("data.train_fraction", c.train_fraction));
  RETURN_IF_ERROR(CheckFraction("data.val_fraction", c.val_fraction));
  if (c.train_fraction + c.val_fraction >= 1.0) {
    return absl::InvalidArgumentError(
        "data.train_fraction + data.val_fraction: must be < 1");
  }

  Rng rng(c.seed);
  Graph g;
  g.nodes = c.nodes;
  g.num_classes = c.classes;
  g.num_features = c.feature_dim;
  g.labels.resize(c.nodes);
  std::vector<std::vector<int32_t>> by_class(c.classes);
  for (int64_t i = 0; i < c.nodes; ++i) {
    g.labels[i] = static_cast<int32_t>(rng.Below(c.classes));
    by_class[g.labels[i]].push_back(static_cast<int32_t>(i));
  }
  for (int64_t k = 0; k < c.classes; ++k) {
    if (by_class[k].empty())
      by_class[k].push_back(static_cast<int32_t>(rng.Below(c.nodes)));
  }
  // Class means: random unit directions scaled by the separation.
  std::vector<double> means(c.classes * c.feature_dim);
  for (int64_t k = 0; k < c.classes; ++k) {
    double norm = 0;
    for (int64_t j = 0; j < c.feature_dim; ++j) {
      means[k * c.feature_dim + j] = rng.Normal();
      norm += means[k * c.feature_dim + j] * means[k * c.feature_dim + j];
    }
    norm = std::sqrt(norm);
    for (int64_t j = 0; j < c.feature_dim; ++j)
      means[k * c.feature_dim + j] *= c.separation / norm;
  }
  g.features.resize(c.nodes * c.feature_dim);
  for (int64_t i = 0; i < c.nodes; ++i) {
    for (int64_t j = 0; j < c.feature_dim; ++j) {
      g.features[i * c.feature_dim + j] = static_cast<float>(
          means[g.labels[i] * c.feature_dim + j] + rng.Normal());
    }
  }
  const int64_t m = std::llround(c.nodes * c.avg_degree / 2.0);
  std::vector<std::pair<int32_t, int32_t>> edges;
  edges.reserve(m);
  for (int64_t e = 0; e < m; ++e) {
    const int32_t u = static_cast<int32_t>(rng.Below(c.nodes));
    int32_t v;
    if (rng.Uniform() < c.homophily) {
      const auto& same = by_class[g.labels[u]];
      v = same[rng.Below(same.size())];
    } else {
      do {
        v = static_cast<int32_t>(rng.Below(c.nodes));
      } while (g.labels[v] == g.labels[u]);
    }
    edges.emplace_back(u, v);
  }
  BuildSymmetricCsr(c.nodes, edges, &g);
  SplitNodes(c.nodes, c.train_fraction, c.val_fraction, c.seed ^ 0x5eed,
             &g.train_nodes, &g.val_nodes, &g.test_nodes);
  return g;
}

absl::StatusOr<Graph> BuildFashionMnistKnn(const KnnConfig& c) {
  if (c.nodes < 2 || c.nodes > 70000) {
    return absl::InvalidArgumentError(
        absl::StrCat("data.nodes: must be in [2, 70000], got ", c.nodes));
  }
  if (c.k < 1 || c.k >= c.nodes)
    return absl::InvalidArgumentError("data.k: must be in [1, nodes)");
  RETURN_IF_ERROR(CheckFraction("data.train_fraction", c.train_fraction));
  RETURN_IF_ERROR(CheckFraction("data.val_fraction", c.val_fraction));
  ASSIGN_OR_RETURN(DenseSplits s, LoadFashionMnist(c.dir, 0.0, 0));
  // Pool train and test images; take a seeded subset.
  Dataset all = std::move(s.train);
  all.features.insert(all.features.end(), s.test.features.begin(),
                      s.test.features.end());
  all.labels.insert(all.labels.end(), s.test.labels.begin(),
                    s.test.labels.end());
  std::vector<int32_t> perm = Permutation(all.size(), c.seed);
  Dataset d = Subset(all, perm, 0, c.nodes);
  const int64_t n = c.nodes, f = d.num_features;

  // Squared distances ||xi||^2 - 2 xi.xj + ||xj||^2 by blocks of rows with a
  // GEMM.
  std::vector<float> sq(n);
  for (int64_t i = 0; i < n; ++i) {
    double s2 = 0;
    for (int64_t j = 0; j < f; ++j)
      s2 += double{d.features[i * f + j]} * d.features[i * f + j];
    sq[i] = static_cast<float>(s2);
  }
  constexpr int64_t kBlock = 512;
  std::vector<float> dots(kBlock * n);
  std::vector<std::pair<int32_t, int32_t>> edges;
  edges.reserve(n * c.k);
  std::vector<std::pair<float, int32_t>> cand(n);
  for (int64_t r0 = 0; r0 < n; r0 += kBlock) {
    const int64_t rows = std::min(kBlock, n - r0);
    RETURN_IF_ERROR(CpuSgemm(DefaultCpuGemmLibrary(), false, true, rows, n, f,
                             1.0f, d.features.data() + r0 * f,
                             d.features.data(), 0.0f, dots.data()));
    for (int64_t i = 0; i < rows; ++i) {
      const int64_t u = r0 + i;
      for (int64_t v = 0; v < n; ++v) {
        cand[v] = {v == u ? INFINITY : sq[v] - 2 * dots[i * n + v],
                   static_cast<int32_t>(v)};
      }
      std::nth_element(cand.begin(), cand.begin() + c.k, cand.end());
      for (int64_t j = 0; j < c.k; ++j)
        edges.emplace_back(static_cast<int32_t>(u), cand[j].second);
    }
  }
  Graph g;
  g.nodes = n;
  g.num_features = f;
  g.num_classes = d.num_classes;
  g.features = std::move(d.features);
  g.labels = std::move(d.labels);
  BuildSymmetricCsr(n, edges, &g);
  SplitNodes(n, c.train_fraction, c.val_fraction, c.seed ^ 0x5eed,
             &g.train_nodes, &g.val_nodes, &g.test_nodes);
  return g;
}

}  // namespace ladle
