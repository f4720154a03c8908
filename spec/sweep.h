// Sweeps of an experiment spec: the `sweep:` section (grid and random search),
// its points, and the trial spec of one point. Shared by every kind's planner.
//
// Points are JSON objects {dotted key: value}. With both grid and random,
// every random sample is crossed with every grid point (random slowest, first
// grid key slowest within it).
#ifndef LADLE_SPEC_SWEEP_H_
#define LADLE_SPEC_SWEEP_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "spec/experiment.h"
#include "spec/train_spec.h"
#include "spec/yaml_load.h"

namespace ladle {

// YAML -> JSON with YAML's scalar typing (ints, floats, booleans, strings;
// non-finite numbers stay text so validators refuse them by name). A
// collection used as a mapping key is INVALID_ARGUMENT naming `path`.
absl::StatusOr<nlohmann::json> YamlToJson(const YamlNode& node,
                                          const std::string& path);

// Reads the `sweep:` mapping (grid, random) into `spec`; INVALID_ARGUMENT
// names the key.
absl::Status ParseSweep(const YamlNode& sweep, const ParseOptions& options,
                        ExperimentSpec* spec);

// A mapping of dotted keys to distributions ({uniform: [lo, hi]},
// {loguniform: [lo, hi]}, {randint: [lo, hi]}, {choice: [values...]}), as
// sweep.random.space and search.space take it; INVALID_ARGUMENT names `where`
// and the key.
absl::Status ParseSpace(const YamlNode& space, const std::string& where,
                        std::vector<SearchDimension>* dims);

// All grid points (cartesian product, first key slowest); {{}} without a grid.
std::vector<nlohmann::json> GridPoints(const ExperimentSpec& spec);
// The value of `d` at uniform `u` in [0, 1): uniform, log-uniform, an integer
// in [low, high], or a choice.
nlohmann::json SampleDimension(const SearchDimension& d, double u);
// The random samples, deterministic in random_seed; {{}} without random.
std::vector<nlohmann::json> RandomPoints(const ExperimentSpec& spec);
// Every sweep point: random samples crossed with grid points.
std::vector<nlohmann::json> SweepPoints(const ExperimentSpec& spec);

// The trial of one sweep point: the base trial with the point's keys set,
// validated as ladle-train would. INVALID_ARGUMENT names the point (`index`)
// and the key.
absl::StatusOr<TrainSpec> ResolveTrial(const ExperimentSpec& spec,
                                       const nlohmann::json& point, int index);

}  // namespace ladle

#endif  // LADLE_SPEC_SWEEP_H_
