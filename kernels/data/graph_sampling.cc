#include "kernels/data/graph_sampling.h"

#include <metis.h>

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace ladle {

absl::StatusOr<std::vector<int32_t>> MetisPartition(const Graph& g,
                                                    int64_t parts,
                                                    uint64_t seed) {
  if (parts < 1 || parts > g.nodes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "train.sampler.parts: must be in [1, ", g.nodes, "], got ", parts));
  }
  std::vector<int32_t> part(g.nodes, 0);
  if (parts == 1) return part;
  idx_t n = static_cast<idx_t>(g.nodes), ncon = 1,
        nparts = static_cast<idx_t>(parts), objval = 0;
  std::vector<idx_t> xadj(g.row_ptr.begin(), g.row_ptr.end());
  std::vector<idx_t> adjncy(g.col_idx.begin(), g.col_idx.end());
  std::vector<idx_t> out(g.nodes, 0);
  idx_t options[METIS_NOPTIONS];
  METIS_SetDefaultOptions(options);
  options[METIS_OPTION_SEED] = static_cast<idx_t>(seed & 0x7fffffff);
  const int rc = METIS_PartGraphKway(
      &n, &ncon, xadj.data(), adjncy.data(), nullptr, nullptr, nullptr, &nparts,
      nullptr, nullptr, options, &objval, out.data());
  if (rc != METIS_OK) {
    return absl::InternalError(absl::StrCat("METIS_PartGraphKway failed (", rc,
                                            ") for ", parts, " parts"));
  }
  for (int64_t i = 0; i < g.nodes; ++i) part[i] = static_cast<int32_t>(out[i]);
  return part;
}

Graph InducedSubgraph(const Graph& g, const std::vector<int32_t>& nodes) {
  Graph s;
  s.nodes = static_cast<int64_t>(nodes.size());
  s.num_features = g.num_features;
  s.num_classes = g.num_classes;
  std::vector<int32_t> local(g.nodes, -1);
  for (size_t i = 0; i < nodes.size(); ++i)
    local[nodes[i]] = static_cast<int32_t>(i);
  s.row_ptr.assign(s.nodes + 1, 0);
  for (size_t i = 0; i < nodes.size(); ++i) {
    const int32_t u = nodes[i];
    for (int32_t p = g.row_ptr[u]; p < g.row_ptr[u + 1]; ++p) {
      const int32_t v = local[g.col_idx[p]];
      if (v >= 0) s.col_idx.push_back(v);  // ascending: nodes are sorted
    }
    s.row_ptr[i + 1] = static_cast<int32_t>(s.col_idx.size());
  }
  return s;
}

}  // namespace ladle
