#include "spec/experiment.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/status_macros.h"
#include "spec/kind.h"
#include "spec/sweep.h"
#include "spec/yaml_reader.h"

namespace ladle {
namespace {

using Json = nlohmann::json;

// A name is display text (the UI, `ladle list`, reports escape it): 1-128
// bytes, no control characters, no whitespace at either end.
bool ValidName(const std::string& s) {
  if (s.empty() || s.size() > 128) return false;
  for (char c : s) {
    const unsigned char u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) return false;
  }
  return s.front() != ' ' && s.back() != ' ';
}

// name, kind and the kind's own section.
absl::Status ParseNameAndKind(MapReader& top, ExperimentSpec* spec) {
  if (!top.Has("name"))
    return Invalid("name", "is required (a short title, e.g. lr-sweep)");
  RETURN_IF_ERROR(top.String("name", &spec->name));
  if (!ValidName(spec->name)) {
    return Invalid("name",
                   "use 1-128 characters without control characters or "
                   "spaces at either end, got '" +
                       spec->name + "'");
  }
  RETURN_IF_ERROR(
      top.String("kind", &spec->kind, KindRegistry::Global().Names()));
  const ExperimentKind* kind = FindKind(spec->kind);
  if (kind == nullptr) return absl::OkStatus();
  for (absl::string_view key : kind->top_level_keys()) {
    if (!top.Has(key)) continue;
    const std::string name(key);
    ASSIGN_OR_RETURN(spec->kind_keys[name], YamlToJson(top.Child(key), name));
  }
  if (!kind->has_section()) return absl::OkStatus();
  const YamlNode& section = top.Child(spec->kind);
  if (!section.IsNull() && !section.IsMap()) {
    return Invalid(spec->kind, "must be a mapping");
  }
  if (!section.IsNull()) {
    ASSIGN_OR_RETURN(spec->kind_config, YamlToJson(section, spec->kind));
  } else {
    spec->kind_config = Json::object();
  }
  return absl::OkStatus();
}

// resources, max_retries, priority, timeout_seconds.
absl::Status ParseScheduling(MapReader& top, ExperimentSpec* spec) {
  MapReader res(top.Child("resources"), "resources");
  RETURN_IF_ERROR(res.CheckIsMap());
  double gpus = 0;
  int64_t cpu = 1;
  RETURN_IF_ERROR(res.Double("gpus", &gpus, 0, 64));
  RETURN_IF_ERROR(res.Int("cpu_slots", &cpu, 0, 1024));
  // Below one GPU: a share of one device, in thousandths.
  const int share = gpus < 1 ? static_cast<int>(std::lround(gpus * 1000)) : 0;
  if ((gpus >= 1 && gpus != std::floor(gpus)) ||
      (gpus > 0 && gpus < 1 && (share < 1 || share > 999))) {
    return Invalid(
        "resources.gpus",
        absl::StrCat("a whole number of GPUs, or a fraction of one "
                     "in [0.001, 0.999] (0.25: four such jobs share a "
                     "GPU); got ",
                     gpus));
  }
  if (gpus == 0 && cpu == 0)
    return Invalid("resources", "ask for at least one GPU or CPU slot");
  spec->resources = {static_cast<int>(gpus >= 1 ? gpus : 0),
                     static_cast<int>(cpu)};
  spec->resources.gpu_share_milli = share;
  if (res.Has("memory_bytes")) {
    RETURN_IF_ERROR(ParseByteSize(res.Child("memory_bytes"),
                                  "resources.memory_bytes",
                                  &spec->resources.memory_bytes));
  }
  RETURN_IF_ERROR(res.Finish());
  int64_t retries = spec->max_retries, priority = 0;
  RETURN_IF_ERROR(top.Int("max_retries", &retries, 0, 100));
  RETURN_IF_ERROR(top.Int("priority", &priority, -1000, 1000));
  // A week at most: longer is almost surely a unit mistake (ms for s).
  RETURN_IF_ERROR(
      top.Int("timeout_seconds", &spec->timeout_seconds, 0, 7 * 24 * 3600));
  spec->max_retries = static_cast<int>(retries);
  spec->priority = static_cast<int>(priority);
  return absl::OkStatus();
}

// Refuses a sweep past options.max_jobs before expanding anything.
absl::Status CheckSweepSize(const ExperimentSpec& spec,
                            const ParseOptions& options) {
  int64_t jobs = std::max<int64_t>(1, spec.random_count);
  for (const auto& [key, values] : spec.grid) {
    jobs *= static_cast<int64_t>(values.size());
    if (jobs > options.max_jobs) break;
  }
  if (jobs <= options.max_jobs) return absl::OkStatus();
  return Invalid(
      "sweep",
      absl::StrCat("expands to more than ", options.max_jobs,
                   " jobs (the server's limit, --max_jobs_per_experiment); "
                   "shrink the grid or the random count"));
}

}  // namespace

absl::Status ParseByteSize(const YamlNode& node, const std::string& path,
                           int64_t* bytes) {
  const std::string text = node.IsScalar() ? node.scalar() : "";
  size_t end = 0;
  double value = -1;
  try {
    value = std::stod(text, &end);
  } catch (const std::exception&) {
    end = 0;
  }
  std::string unit = text.substr(end);
  unit.erase(0, unit.find_first_not_of(' '));
  static const std::pair<const char*, double> kUnits[] = {
      {"", 1},
      {"B", 1},
      {"KB", 1e3},
      {"MB", 1e6},
      {"GB", 1e9},
      {"TB", 1e12},
      {"KiB", 1024.0},
      {"MiB", 1048576.0},
      {"GiB", 1073741824.0},
      {"TiB", 1099511627776.0}};
  double scale = 0;
  for (const auto& [name, s] : kUnits)
    if (unit == name) scale = s;
  const double b = value * scale;
  if (end == 0 || scale == 0 || !(b >= 1 << 20) || b > 1e15) {
    return Invalid(path,
                   "must be a size from 1MiB to 1PB, e.g. 4GiB, 512MB or "
                   "a number of bytes; got '" +
                       text + "'");
  }
  *bytes = static_cast<int64_t>(b);
  return absl::OkStatus();
}

absl::Status SetPath(Json& doc, const std::string& path, const Json& value) {
  std::vector<std::string> parts = absl::StrSplit(path, '.');
  Json* node = &doc;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (parts[i].empty()) return Invalid(path, "empty segment in the key path");
    if (!node->is_object()) {
      if (!node->is_null()) {
        return Invalid(path,
                       absl::StrCat("'", parts[i - 1],
                                    "' is not a mapping in the trial spec"));
      }
      *node = Json::object();
    }
    if (i + 1 == parts.size()) {
      (*node)[parts[i]] = value;
    } else {
      node = &(*node)[parts[i]];
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<ExperimentSpec> ParseExperimentSpec(
    const std::string& text, const ParseOptions& options) {
  ASSIGN_OR_RETURN(YamlNode root,
                   LoadYamlMapping(text, "name, kind, trial, sweep, search"));
  ExperimentSpec spec;
  spec.source = text;
  MapReader top(root, "");
  RETURN_IF_ERROR(ParseNameAndKind(top, &spec));
  const ExperimentKind* kind = FindKind(spec.kind);
  if (kind == nullptr || kind->needs_trial()) {
    const YamlNode& trial = top.Child("trial");
    if (trial.IsNull())
      return Invalid("trial", "is required: a ladle-train spec");
    if (!trial.IsMap())
      return Invalid("trial", "must be a mapping (a ladle-train spec)");
    ASSIGN_OR_RETURN(spec.trial, YamlToJson(trial, "trial"));
  }
  RETURN_IF_ERROR(ParseSweep(top.Child("sweep"), options, &spec));
  if (top.Has("search")) {
    if (top.Has("sweep")) {
      return Invalid("search",
                     "use either sweep (a fixed set of points) or search (an "
                     "adaptive one), not both");
    }
    if (kind != nullptr && !kind->supports_search()) {
      return Invalid("search", "kind " + spec.kind +
                                   " does not take a search; kinds train and "
                                   "command do");
    }
    RETURN_IF_ERROR(
        ParseSearch(top.Child("search"), options.max_jobs, &spec.search));
    spec.has_search = true;
  }
  RETURN_IF_ERROR(ParseScheduling(top, &spec));
  RETURN_IF_ERROR(top.Finish());
  RETURN_IF_ERROR(CheckSweepSize(spec, options));
  return spec;
}

}  // namespace ladle
