#include "server/experiment.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/random.h"
#include "common/status_macros.h"
#include "train/spec.h"
#include "train/yaml_reader.h"

namespace ladle {
namespace {

using Json = nlohmann::json;

// YAML -> JSON with YAML's scalar typing (ints, floats, booleans, strings).
Json ToJson(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Map: {
      Json j = Json::object();
      for (const auto& kv : n)
        j[kv.first.as<std::string>()] = ToJson(kv.second);
      return j;
    }
    case YAML::NodeType::Sequence: {
      Json j = Json::array();
      for (const auto& e : n) j.push_back(ToJson(e));
      return j;
    }
    case YAML::NodeType::Scalar: {
      if (n.Tag() == "!") return n.Scalar();  // quoted: always a string
      int64_t i;
      double d;
      bool b;
      if (YAML::convert<int64_t>::decode(n, i)) return i;
      // Non-finite numbers stay text so the trial validator rejects them by
      // name (JSON has no NaN: it would silently become null, i.e. "use the
      // default").
      if (YAML::convert<double>::decode(n, d))
        return std::isfinite(d) ? Json(d) : Json(n.Scalar());
      if (YAML::convert<bool>::decode(n, b)) return b;
      return n.Scalar();
    }
    default:
      return nullptr;
  }
}

bool ValidName(const std::string& s) {
  if (s.empty() || s.size() > 128) return false;
  for (char c : s) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' ||
          c == '.')) {
      return false;
    }
  }
  return true;
}

absl::Status ParseGrid(const YAML::Node& node, ExperimentSpec* spec) {
  if (!node.IsMap())
    return Invalid("sweep.grid", "must map keys to lists of values");
  for (const auto& kv : node) {
    const std::string key = kv.first.as<std::string>();
    const std::string path = "sweep.grid." + key;
    if (!kv.second.IsSequence() || kv.second.size() == 0) {
      return Invalid(path, "must be a non-empty list of values");
    }
    std::vector<Json> values;
    for (const auto& v : kv.second) values.push_back(ToJson(v));
    spec->grid.emplace_back(key, std::move(values));
  }
  return absl::OkStatus();
}

absl::Status ParseRandom(MapReader& sweep, const ParseOptions& options,
                         ExperimentSpec* spec) {
  MapReader r(sweep.Child("random"), "sweep.random");
  RETURN_IF_ERROR(r.CheckIsMap());
  if (!r.Has("count")) return Invalid("sweep.random.count", "is required");
  RETURN_IF_ERROR(r.Int("count", &spec->random_count, 1, options.max_jobs));
  RETURN_IF_ERROR(r.Seed("seed", &spec->random_seed));
  const YAML::Node space = r.Child("space");
  if (!space.IsMap() || space.size() == 0) {
    return Invalid("sweep.random.space",
                   "must map keys to distributions, e.g. "
                   "{train.optimizer.lr: {loguniform: [1e-4, 1e-2]}}");
  }
  for (const auto& kv : space) {
    SearchDimension dim;
    dim.key = kv.first.as<std::string>();
    const std::string path = "sweep.random.space." + dim.key;
    if (!kv.second.IsMap() || kv.second.size() != 1) {
      return Invalid(
          path,
          "must be one of {uniform: [lo, hi]}, {loguniform: [lo, hi]}, "
          "{randint: [lo, hi]}, {choice: [values...]}");
    }
    const std::string dist = kv.second.begin()->first.as<std::string>();
    const YAML::Node args = kv.second.begin()->second;
    if (dist == "choice") {
      dim.kind = SearchDimension::Kind::kChoice;
      if (!args.IsSequence() || args.size() == 0)
        return Invalid(path + ".choice", "must be a non-empty list");
      for (const auto& v : args) dim.choices.push_back(ToJson(v));
    } else {
      if (dist == "uniform") {
        dim.kind = SearchDimension::Kind::kUniform;
      } else if (dist == "loguniform") {
        dim.kind = SearchDimension::Kind::kLogUniform;
      } else if (dist == "randint") {
        dim.kind = SearchDimension::Kind::kRandInt;
      } else {
        return Invalid(path,
                       "unknown distribution '" + dist +
                           "'; use uniform, loguniform, randint or choice");
      }
      double lo, hi;
      if (!args.IsSequence() || args.size() != 2 ||
          !YAML::convert<double>::decode(args[0], lo) ||
          !YAML::convert<double>::decode(args[1], hi) || !std::isfinite(lo) ||
          !std::isfinite(hi)) {
        return Invalid(path + "." + dist,
                       "must be [low, high] with finite numbers");
      }
      if (!(lo <= hi))
        return Invalid(path + "." + dist, "low must not exceed high");
      if (dim.kind == SearchDimension::Kind::kLogUniform && lo <= 0) {
        return Invalid(path + ".loguniform", "bounds must be > 0");
      }
      if (dim.kind == SearchDimension::Kind::kRandInt &&
          (lo != std::floor(lo) || hi != std::floor(hi))) {
        return Invalid(path + ".randint", "bounds must be integers");
      }
      dim.low = lo;
      dim.high = hi;
    }
    spec->random_space.push_back(std::move(dim));
  }
  return r.Finish();
}

// All grid points (cartesian product, first key slowest), each a {key: value}
// object.
std::vector<Json> GridPoints(const ExperimentSpec& spec) {
  std::vector<Json> points = {Json::object()};
  for (const auto& [key, values] : spec.grid) {
    std::vector<Json> next;
    next.reserve(points.size() * values.size());
    for (const Json& p : points) {
      for (const Json& v : values) {
        Json q = p;
        q[key] = v;
        next.push_back(std::move(q));
      }
    }
    points = std::move(next);
  }
  return points;
}

std::vector<Json> RandomPoints(const ExperimentSpec& spec) {
  if (spec.random_count == 0) return {Json::object()};
  Rng rng(spec.random_seed);
  std::vector<Json> points;
  for (int64_t i = 0; i < spec.random_count; ++i) {
    Json p = Json::object();
    for (const SearchDimension& d : spec.random_space) {
      const double u = rng.Uniform();
      switch (d.kind) {
        case SearchDimension::Kind::kUniform:
          p[d.key] = d.low + (d.high - d.low) * u;
          break;
        case SearchDimension::Kind::kLogUniform:
          p[d.key] = std::exp(std::log(d.low) +
                              (std::log(d.high) - std::log(d.low)) * u);
          break;
        case SearchDimension::Kind::kRandInt:
          p[d.key] = static_cast<int64_t>(d.low) +
                     static_cast<int64_t>(std::floor(u * (d.high - d.low + 1)));
          break;
        case SearchDimension::Kind::kChoice:
          p[d.key] = d.choices[static_cast<size_t>(u * d.choices.size())];
          break;
      }
    }
    points.push_back(std::move(p));
  }
  return points;
}

class TrainPlanner final : public Planner {
 public:
  absl::StatusOr<std::vector<PlannedJob>> Plan(
      const ExperimentSpec& spec) override {
    std::vector<PlannedJob> jobs;
    const std::vector<Json> grid = GridPoints(spec);
    const std::vector<Json> random = RandomPoints(spec);
    for (const Json& r : random) {
      for (const Json& g : grid) {
        PlannedJob job;
        job.index = static_cast<int>(jobs.size());
        job.params = r;
        job.params.update(g);
        Json trial = spec.trial;
        for (auto& [key, value] : job.params.items()) {
          absl::Status st = SetPath(trial, key, value);
          if (!st.ok()) {
            return absl::InvalidArgumentError(
                absl::StrCat("sweep point ", job.index, ": ", st.message()));
          }
        }
        absl::StatusOr<TrainSpec> parsed = ParseTrainSpec(trial.dump());
        if (!parsed.ok()) {
          return absl::InvalidArgumentError(
              absl::StrCat("sweep point ", job.index, " ", job.params.dump(),
                           ": trial.", parsed.status().message()));
        }
        job.spec = SpecToJson(*parsed);
        job.resources = spec.resources;
        jobs.push_back(std::move(job));
      }
    }
    return jobs;
  }
};

}  // namespace

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
  ASSIGN_OR_RETURN(YAML::Node root,
                   LoadYamlMapping(text, "name, kind, trial, sweep"));
  ExperimentSpec spec;
  spec.source = text;
  try {
    MapReader top(root, "");
    if (!top.Has("name"))
      return Invalid("name", "is required (letters, digits, '.', '_', '-')");
    RETURN_IF_ERROR(top.String("name", &spec.name));
    if (!ValidName(spec.name)) {
      return Invalid("name",
                     "use 1-128 letters, digits, '.', '_' or '-', got '" +
                         spec.name + "'");
    }
    RETURN_IF_ERROR(top.String("kind", &spec.kind, {"train"}));
    const YAML::Node trial = top.Child("trial");
    if (!trial.IsDefined() || trial.IsNull())
      return Invalid("trial", "is required: a ladle-train spec");
    if (!trial.IsMap())
      return Invalid("trial", "must be a mapping (a ladle-train spec)");
    spec.trial = ToJson(trial);

    MapReader sweep(top.Child("sweep"), "sweep");
    RETURN_IF_ERROR(sweep.CheckIsMap());
    if (sweep.Has("grid"))
      RETURN_IF_ERROR(ParseGrid(sweep.Child("grid"), &spec));
    if (sweep.Has("random"))
      RETURN_IF_ERROR(ParseRandom(sweep, options, &spec));
    RETURN_IF_ERROR(sweep.Finish());

    MapReader res(top.Child("resources"), "resources");
    RETURN_IF_ERROR(res.CheckIsMap());
    int64_t gpus = 0, cpu = 1;
    RETURN_IF_ERROR(res.Int("gpus", &gpus, 0, 64));
    RETURN_IF_ERROR(res.Int("cpu_slots", &cpu, 0, 1024));
    if (gpus + cpu == 0)
      return Invalid("resources", "ask for at least one GPU or CPU slot");
    RETURN_IF_ERROR(res.Finish());
    spec.resources = {static_cast<int>(gpus), static_cast<int>(cpu)};
    int64_t retries = spec.max_retries, priority = 0;
    RETURN_IF_ERROR(top.Int("max_retries", &retries, 0, 100));
    RETURN_IF_ERROR(top.Int("priority", &priority, -1000, 1000));
    // A week at most: longer is almost surely a unit mistake (ms for s).
    RETURN_IF_ERROR(
        top.Int("timeout_seconds", &spec.timeout_seconds, 0, 7 * 24 * 3600));
    spec.max_retries = static_cast<int>(retries);
    spec.priority = static_cast<int>(priority);
    RETURN_IF_ERROR(top.Finish());
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("spec: ", e.msg));
  }
  // Size check before expanding anything.
  int64_t jobs = std::max<int64_t>(1, spec.random_count);
  for (const auto& [key, values] : spec.grid) {
    jobs *= static_cast<int64_t>(values.size());
    if (jobs > options.max_jobs) break;
  }
  if (jobs > options.max_jobs) {
    return Invalid(
        "sweep",
        absl::StrCat("expands to more than ", options.max_jobs,
                     " jobs (the server's limit, --max_jobs_per_experiment); "
                     "shrink the grid or the random count"));
  }
  return spec;
}

absl::StatusOr<std::unique_ptr<Planner>> PlannerFor(const std::string& kind) {
  if (kind == "train") return std::unique_ptr<Planner>(new TrainPlanner());
  return absl::NotFoundError(
      absl::StrCat("kind: no planner for '", kind, "'; known kinds: train"));
}

}  // namespace ladle
