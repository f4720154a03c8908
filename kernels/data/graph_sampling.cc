#include "kernels/data/graph_sampling.h"

#include <dlfcn.h>
#include <metis.h>

#include <algorithm>
#include <mutex>

#include "absl/strings/str_cat.h"

namespace ladle {
namespace {

// libmetis is loaded on first use, not linked: its GKlib has large
// thread-local buffers, and linked into a binary that static TLS is carved out
// of every thread's stack — enough to overflow the small stacks of the
// Prometheus exposer's civetweb threads (seen as a segfault in ladle-server).
struct Metis {
  int (*set_default_options)(idx_t*) = nullptr;
  int (*part_graph_kway)(idx_t*, idx_t*, idx_t*, idx_t*, idx_t*, idx_t*, idx_t*,
                         idx_t*, real_t*, real_t*, idx_t*, idx_t*,
                         idx_t*) = nullptr;
};

absl::StatusOr<const Metis*> LoadMetis() {
  static Metis metis;
  static std::string error;
  static std::once_flag once;
  std::call_once(once, [] {
    void* h = dlopen("libmetis.so.5", RTLD_NOW | RTLD_LOCAL);
    if (h == nullptr) {
      error = dlerror();
      return;
    }
    metis.set_default_options =
        reinterpret_cast<int (*)(idx_t*)>(dlsym(h, "METIS_SetDefaultOptions"));
    metis.part_graph_kway = reinterpret_cast<decltype(metis.part_graph_kway)>(
        dlsym(h, "METIS_PartGraphKway"));
    if (!metis.set_default_options || !metis.part_graph_kway)
      error = "libmetis.so.5 lacks METIS_PartGraphKway";
  });
  if (!error.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("METIS is needed for train.sampler type cluster: ", error,
                     " (apt-get install libmetis5)"));
  }
  return &metis;
}

}  // namespace

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
  absl::StatusOr<const Metis*> metis = LoadMetis();
  if (!metis.ok()) return metis.status();
  idx_t options[METIS_NOPTIONS];
  (*metis)->set_default_options(options);
  options[METIS_OPTION_SEED] = static_cast<idx_t>(seed & 0x7fffffff);
  const int rc = (*metis)->part_graph_kway(
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
