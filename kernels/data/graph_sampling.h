// Subgraph training for GCNs (ClusterGCN-style): METIS partitions of a graph
// and induced subgraphs. Host-side, deterministic for a given seed.
#ifndef LADLE_KERNELS_DATA_GRAPH_SAMPLING_H_
#define LADLE_KERNELS_DATA_GRAPH_SAMPLING_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "kernels/data/datasets.h"

namespace ladle {

// Part id (0..parts-1) of every node: METIS k-way partition (libmetis),
// minimising the edges cut, with METIS's own seed set to `seed`.
absl::StatusOr<std::vector<int32_t>> MetisPartition(const Graph& g,
                                                    int64_t parts,
                                                    uint64_t seed);

// The subgraph induced by `nodes` (sorted, unique), renumbered 0..n-1 in that
// order: adjacency only (features, labels and splits stay with the caller).
Graph InducedSubgraph(const Graph& g, const std::vector<int32_t>& nodes);

}  // namespace ladle

#endif  // LADLE_KERNELS_DATA_GRAPH_SAMPLING_H_
