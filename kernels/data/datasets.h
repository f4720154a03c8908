// Datasets on the host: Fashion-MNIST (IDX files from Debian's
// dataset-fashion-mnist), contextual stochastic block model graphs, and a k-NN
// graph over Fashion-MNIST pixels.
//
// Everything here is deterministic in its seed. Functions return errors instead
// of throwing; nothing is partially returned on error.
#ifndef LADLE_KERNELS_DATA_DATASETS_H_
#define LADLE_KERNELS_DATA_DATASETS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "spec/config.h"

namespace ladle {

// Row-major features and integer labels.
struct Dataset {
  int64_t num_features = 0;
  int64_t num_classes = 0;
  std::vector<float> features;  // [size, num_features]
  std::vector<int32_t> labels;  // [size]
  int64_t size() const { return static_cast<int64_t>(labels.size()); }
};

struct DenseSplits {
  Dataset train, val, test;
};

// Reads the four gzipped IDX files under `dir`. Pixels are scaled to [0,1] and
// standardised with the training set's mean and std (0.2860, 0.3530). The last
// `val_fraction` of a seeded permutation of the 60k training images becomes the
// validation set; the 10k test images are the test set. `limit` > 0 keeps only
// that many training images (before the split), for quick runs. A missing
// directory or file gives NOT_FOUND naming the Debian package.
absl::StatusOr<DenseSplits> LoadFashionMnist(const std::string& dir,
                                             double val_fraction, uint64_t seed,
                                             int64_t limit = 0);

// Raw reader for one IDX file (gzipped or not): dims and bytes.
struct IdxFile {
  std::vector<int64_t> dims;
  std::vector<uint8_t> data;
};
absl::StatusOr<IdxFile> ReadIdxFile(const std::string& path);

// An undirected graph with node features, labels and a train/val/test split of
// its nodes.
struct Graph {
  int64_t nodes = 0;
  int64_t num_features = 0;
  int64_t num_classes = 0;
  std::vector<int32_t> row_ptr,
      col_idx;  // symmetric adjacency, no self loops, sorted rows
  std::vector<float> features;  // [nodes, num_features]
  std::vector<int32_t> labels;  // [nodes]
  std::vector<int32_t> train_nodes, val_nodes, test_nodes;

  int64_t num_edges() const { return static_cast<int64_t>(col_idx.size()) / 2; }
  // Fraction of edges joining nodes of the same class.
  double EdgeHomophily() const;
};

// Â = D^-1/2 (A + I) D^-1/2 in CSR form.
struct Csr {
  int64_t rows = 0, cols = 0;
  std::vector<int32_t> row_ptr, col_idx;
  std::vector<float> values;
};
Csr NormalizedAdjacency(const Graph& g);

// A contextual SBM graph (CsbmConfig, spec/config.h).
absl::StatusOr<Graph> GenerateCsbm(const CsbmConfig& config);

// The k-NN graph over Fashion-MNIST pixels (KnnConfig, spec/config.h).
absl::StatusOr<Graph> BuildFashionMnistKnn(const KnnConfig& config);

// Seeded random split of n items into train/val/test index lists (val_fraction,
// test = rest).
void SplitNodes(int64_t n, double train_fraction, double val_fraction,
                uint64_t seed, std::vector<int32_t>* train,
                std::vector<int32_t>* val, std::vector<int32_t>* test);

}  // namespace ladle

#endif  // LADLE_KERNELS_DATA_DATASETS_H_
