// Experiment specs: an experiment (a named spec: kind + base trial + sweep)
// is expanded by its kind's planner (spec/kind.h) into jobs. Pure domain
// logic: no gRPC, no SQLite, no kernels.
//
//   name: lr-sweep
//   kind: train                      # or any registered kind (spec/kind.h)
//   trial: { ...a ladle-train spec... }
//   sweep:
//     grid:   {train.optimizer.lr: [0.001, 0.003], train.seed: [1, 2, 3]}
//     random: {count: 8, seed: 7,
//              space: {train.optimizer.lr: {loguniform: [1e-4, 1e-2]}}}
//   resources: {gpus: 0, cpu_slots: 1, memory_bytes: 4GiB}
//   max_retries: 2
//   priority: 0
//   timeout_seconds: 3600            # per attempt; 0 (default): none
//
// With both grid and random, every random sample is crossed with every grid
// point. Each job's trial spec is the base trial with the point's keys set,
// validated as ladle-train would.
#ifndef LADLE_SPEC_EXPERIMENT_H_
#define LADLE_SPEC_EXPERIMENT_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "spec/resources.h"
#include "spec/search_spec.h"

namespace ladle {

struct ExperimentSpec {
  std::string name;
  std::string kind = "train";
  nlohmann::json trial;  // the base trial spec
  // grid: key -> values, in the order written.
  std::vector<std::pair<std::string, std::vector<nlohmann::json>>> grid;
  int64_t random_count = 0;
  uint64_t random_seed = 1;
  std::vector<SearchDimension> random_space;
  // An adaptive search instead of a sweep (`search:`); has_search false:
  // none.
  bool has_search = false;
  SearchSpec search;
  Resources resources;
  int max_retries = 2;
  int priority = 0;
  int64_t timeout_seconds = 0;  // per attempt; 0: none
  // The kind's own section (`fusion:`, `command:`, ...), as written; its
  // planner validates it. Null for kind train.
  nlohmann::json kind_config;
  // The kind's own top-level keys (ExperimentKind::top_level_keys(): command's
  // params, seed_param, ranks) that the spec sets, as written: an object.
  nlohmann::json kind_keys = nlohmann::json::object();
  std::string source;  // the spec text as submitted
  // The code archive its jobs run in (kind command): set by the coordinator
  // from the submit request, not read from the spec text. Empty: none.
  std::string code_sha256;
};

struct ParseOptions {
  int64_t max_jobs = 10'000;  // a sweep expanding past this is rejected
};

// Parses and validates an experiment spec (YAML or JSON). INVALID_ARGUMENT
// names the field.
absl::StatusOr<ExperimentSpec> ParseExperimentSpec(
    const std::string& text, const ParseOptions& options = {});

// A job an experiment expands into.
struct PlannedJob {
  int index = 0;
  std::string kind = "train";
  nlohmann::json params;  // the sweep point: {"train.optimizer.lr": 0.001, ...}
  // The resolved trial spec as compact JSON text (SpecText: ladle-train's
  // SpecToJson form, in its key layout: model, data, train, ...), stored as
  // is. Planners write it (big sweeps on every core).
  std::string spec;
  std::vector<int> deps;  // indices of jobs that must succeed first
  Resources resources;
};

// Sets `value` at the dotted `path` of `doc`, creating mappings on the way.
absl::Status SetPath(nlohmann::json& doc, const std::string& path,
                     const nlohmann::json& value);

// A size in bytes at `path`: an integer, or a number with a unit (KB, MB, GB,
// TB: powers of 1000; KiB, MiB, GiB, TiB: of 1024), e.g. "4GiB", "512 MB";
// 1 MiB to 1 PB. INVALID_ARGUMENT naming `path` otherwise.
absl::Status ParseByteSize(const YamlNode& node, const std::string& path,
                           int64_t* bytes);

}  // namespace ladle

#endif  // LADLE_SPEC_EXPERIMENT_H_
