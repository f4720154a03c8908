// Loads one YAML document into a yaml-cpp node tree using libyaml's parser.
//
// yaml-cpp's own scanner matches characters through its regex engine and took
// ~75% of parsing an experiment spec (a submit's largest single cost after
// gRPC); libyaml's C scanner does the same work several times faster. The tree
// is the one YAML::Load builds, so every reader keeps working unchanged:
// plain scalars carry tag "?" and quoted ones "!" (explicit tags are kept),
// plain ~/null/Null/NULL and empty values are Null nodes, aliases share their
// anchor's node, duplicate keys are kept in order, and only the first
// document counts.
//
// Errors: INVALID_ARGUMENT "spec: malformed YAML at line L, column C: ..."
// (1-based), or "spec: nested deeper than N levels" (N = kMaxYamlDepth: specs
// are shallow, and readers recurse).
#ifndef LADLE_TRAIN_YAML_LOAD_H_
#define LADLE_TRAIN_YAML_LOAD_H_

#include <string>

#include "absl/status/statusor.h"
#include "yaml-cpp/yaml.h"

namespace ladle {

inline constexpr int kMaxYamlDepth = 256;

absl::StatusOr<YAML::Node> LoadYaml(const std::string& text);

}  // namespace ladle

#endif  // LADLE_TRAIN_YAML_LOAD_H_
