// ladle-export-data: writes a dataset exactly as ladle-train sees it (same
// split, same standardisation, same graph) to a safetensors file, so a baseline
// in another framework trains on identical data.
//
//   ladle-export-data --spec trial.yaml --out data.safetensors
//
// Dense datasets: train_x, train_y, val_x, val_y, test_x, test_y.
// Graph datasets: x, y, adj_row_ptr, adj_col_idx, adj_values (Â = D^-1/2 (A+I)
// D^-1/2), train_nodes, val_nodes, test_nodes.
#include <iostream>

#include "CLI/CLI.hpp"
#include "common/status_macros.h"
#include "kernels/data/datasets.h"
#include "kernels/safetensors.h"
#include "spec/train_spec.h"

namespace {

struct Options {
  std::string spec_path;
  std::string out_path;
};

absl::Status Export(const Options& o) {
  ASSIGN_OR_RETURN(ladle::TrainSpec spec, ladle::LoadTrainSpec(o.spec_path));
  ladle::SafeTensorsFile f;
  auto add_dense = [&](const std::string& name, const ladle::Dataset& d) {
    f.tensors.push_back(ladle::SafeTensor::FromFloats(
        name + "_x", {d.size(), d.num_features}, d.features.data()));
    f.tensors.push_back(
        ladle::SafeTensor::FromInts(name + "_y", {d.size()}, d.labels.data()));
  };
  if (!spec.data.is_graph()) {
    ASSIGN_OR_RETURN(
        ladle::DenseSplits d,
        ladle::LoadFashionMnist(spec.data.path, spec.data.val_fraction,
                                spec.data.seed, spec.data.limit));
    add_dense("train", d.train);
    add_dense("val", d.val);
    add_dense("test", d.test);
  } else {
    ladle::Graph g;
    if (spec.data.kind == ladle::DataSpec::Kind::kCsbm) {
      ASSIGN_OR_RETURN(g, ladle::GenerateCsbm(spec.data.csbm));
    } else {
      ASSIGN_OR_RETURN(g, ladle::BuildFashionMnistKnn(spec.data.knn));
    }
    const ladle::Csr a = ladle::NormalizedAdjacency(g);
    using ladle::SafeTensor;
    f.tensors.push_back(SafeTensor::FromFloats("x", {g.nodes, g.num_features},
                                               g.features.data()));
    f.tensors.push_back(SafeTensor::FromInts("y", {g.nodes}, g.labels.data()));
    f.tensors.push_back(
        SafeTensor::FromInts("adj_row_ptr", {a.rows + 1}, a.row_ptr.data()));
    f.tensors.push_back(SafeTensor::FromInts(
        "adj_col_idx", {int64_t(a.col_idx.size())}, a.col_idx.data()));
    f.tensors.push_back(SafeTensor::FromFloats(
        "adj_values", {int64_t(a.values.size())}, a.values.data()));
    for (auto [name, nodes] : {std::pair{"train_nodes", &g.train_nodes},
                               std::pair{"val_nodes", &g.val_nodes},
                               std::pair{"test_nodes", &g.test_nodes}}) {
      f.tensors.push_back(
          SafeTensor::FromInts(name, {int64_t(nodes->size())}, nodes->data()));
    }
  }
  f.metadata["spec"] = ladle::SpecToJson(spec).dump();
  return ladle::WriteSafeTensors(o.out_path, f);
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app{"ladle-export-data: write a trial's dataset to safetensors"};
  app.add_option("--spec", o.spec_path, "trial spec (YAML)")->required();
  app.add_option("--out", o.out_path, "output .safetensors file")->required();
  CLI11_PARSE(app, argc, argv);
  const absl::Status st = Export(o);
  if (!st.ok()) {
    std::cerr << "ladle-export-data: " << st.message() << "\n";
    return absl::IsInvalidArgument(st) ? 2 : 1;
  }
  return 0;
}
