#include "spec/sweep.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "common/random.h"
#include "common/status_macros.h"
#include "spec/yaml_reader.h"

namespace ladle {
namespace {

using Json = nlohmann::json;

absl::Status ParseGrid(const YamlNode& node, ExperimentSpec* spec) {
  if (!node.IsMap())
    return Invalid("sweep.grid", "must map keys to lists of values");
  for (const YamlNode::Pair& kv : node.pairs()) {
    std::string key;
    if (!KeyText(kv.first, &key))
      return Invalid("sweep.grid",
                     "keys must be dotted paths, e.g. train.seed");
    const std::string path = "sweep.grid." + key;
    if (!kv.second.IsSequence() || kv.second.size() == 0) {
      return Invalid(path, "must be a non-empty list of values");
    }
    std::vector<Json> values;
    for (const YamlNode& v : kv.second.items()) {
      ASSIGN_OR_RETURN(Json value, YamlToJson(v, path));
      values.push_back(std::move(value));
    }
    spec->grid.emplace_back(key, std::move(values));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ParseSpace(const YamlNode& space, const std::string& where,
                        std::vector<SearchDimension>* dims) {
  if (!space.IsMap() || space.size() == 0) {
    return Invalid(where,
                   "must map keys to distributions, e.g. "
                   "{train.optimizer.lr: {loguniform: [1e-4, 1e-2]}}");
  }
  for (const YamlNode::Pair& kv : space.pairs()) {
    SearchDimension dim;
    if (!KeyText(kv.first, &dim.key)) {
      return Invalid(where,
                     "keys must be dotted paths, e.g. train.optimizer.lr");
    }
    const std::string path = where + "." + dim.key;
    if (!kv.second.IsMap() || kv.second.size() != 1) {
      return Invalid(
          path,
          "must be one of {uniform: [lo, hi]}, {loguniform: [lo, hi]}, "
          "{randint: [lo, hi]}, {choice: [values...]}");
    }
    std::string dist;
    if (!KeyText(kv.second.pairs().front().first, &dist)) dist = "?";
    const YamlNode& args = kv.second.pairs().front().second;
    if (dist == "choice") {
      dim.kind = SearchDimension::Kind::kChoice;
      if (!args.IsSequence() || args.size() == 0)
        return Invalid(path + ".choice", "must be a non-empty list");
      for (const YamlNode& v : args.items()) {
        ASSIGN_OR_RETURN(Json choice, YamlToJson(v, path + ".choice"));
        dim.choices.push_back(std::move(choice));
      }
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
          !args.items()[0].IsScalar() || !args.items()[1].IsScalar() ||
          !DecodeDouble(args.items()[0].scalar(), &lo) ||
          !DecodeDouble(args.items()[1].scalar(), &hi) || !std::isfinite(lo) ||
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
    dims->push_back(std::move(dim));
  }
  return absl::OkStatus();
}

namespace {

absl::Status ParseRandom(MapReader& sweep, const ParseOptions& options,
                         ExperimentSpec* spec) {
  MapReader r(sweep.Child("random"), "sweep.random");
  RETURN_IF_ERROR(r.CheckIsMap());
  if (!r.Has("count")) return Invalid("sweep.random.count", "is required");
  RETURN_IF_ERROR(r.Int("count", &spec->random_count, 1, options.max_jobs));
  RETURN_IF_ERROR(r.Seed("seed", &spec->random_seed));
  RETURN_IF_ERROR(
      ParseSpace(r.Child("space"), "sweep.random.space", &spec->random_space));
  return r.Finish();
}

}  // namespace

absl::StatusOr<Json> YamlToJson(const YamlNode& n, const std::string& path) {
  switch (n.type()) {
    case YamlNode::Type::kMap: {
      Json j = Json::object();
      std::string key;
      for (const YamlNode::Pair& kv : n.pairs()) {
        if (!KeyText(kv.first, &key)) {
          return Invalid(path,
                         "keys must be plain strings, not lists or mappings");
        }
        ASSIGN_OR_RETURN(j[key], YamlToJson(kv.second, Join(path, key)));
      }
      return j;
    }
    case YamlNode::Type::kSequence: {
      Json j = Json::array();
      for (const YamlNode& e : n.items()) {
        ASSIGN_OR_RETURN(Json v, YamlToJson(e, path));
        j.push_back(std::move(v));
      }
      return j;
    }
    case YamlNode::Type::kScalar: {
      const std::string& text = n.scalar();
      if (n.tag() == "!") return Json(text);  // quoted: always a string
      int64_t i;
      double d;
      bool b;
      if (DecodeInt64(text, &i)) return Json(i);
      // Non-finite numbers stay text so the trial validator rejects them by
      // name (JSON has no NaN: it would silently become null, i.e. "use the
      // default").
      if (DecodeDouble(text, &d))
        return std::isfinite(d) ? Json(d) : Json(text);
      if (DecodeBool(text, &b)) return Json(b);
      return Json(text);
    }
    default:
      return Json(nullptr);
  }
}

absl::Status ParseSweep(const YamlNode& node, const ParseOptions& options,
                        ExperimentSpec* spec) {
  MapReader sweep(node, "sweep");
  RETURN_IF_ERROR(sweep.CheckIsMap());
  if (sweep.Has("grid")) RETURN_IF_ERROR(ParseGrid(sweep.Child("grid"), spec));
  if (sweep.Has("random")) RETURN_IF_ERROR(ParseRandom(sweep, options, spec));
  return sweep.Finish();
}

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

Json SampleDimension(const SearchDimension& d, double u) {
  switch (d.kind) {
    case SearchDimension::Kind::kUniform:
      return d.low + (d.high - d.low) * u;
    case SearchDimension::Kind::kLogUniform:
      return std::exp(std::log(d.low) +
                      (std::log(d.high) - std::log(d.low)) * u);
    case SearchDimension::Kind::kRandInt:
      return static_cast<int64_t>(d.low) +
             static_cast<int64_t>(std::floor(u * (d.high - d.low + 1)));
    case SearchDimension::Kind::kChoice:
      return d.choices[std::min(d.choices.size() - 1,
                                static_cast<size_t>(u * d.choices.size()))];
  }
  return Json();
}

std::vector<Json> RandomPoints(const ExperimentSpec& spec) {
  if (spec.random_count == 0) return {Json::object()};
  Rng rng(spec.random_seed);
  std::vector<Json> points;
  for (int64_t i = 0; i < spec.random_count; ++i) {
    Json p = Json::object();
    for (const SearchDimension& d : spec.random_space)
      p[d.key] = SampleDimension(d, rng.Uniform());
    points.push_back(std::move(p));
  }
  return points;
}

absl::StatusOr<TrainSpec> ResolveTrial(const ExperimentSpec& spec,
                                       const Json& point, int index) {
  Json trial = spec.trial;
  for (auto& [key, value] : point.items()) {
    absl::Status st = SetPath(trial, key, value);
    if (!st.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("sweep point ", index, ": ", st.message()));
    }
  }
  absl::StatusOr<TrainSpec> parsed = ParseTrainSpecJson(trial);
  if (!parsed.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("sweep point ", index, " ",
                                                   point.dump(), ": trial.",
                                                   parsed.status().message()));
  }
  return parsed;
}

std::vector<Json> SweepPoints(const ExperimentSpec& spec) {
  std::vector<Json> points;
  for (const Json& r : RandomPoints(spec)) {
    for (const Json& g : GridPoints(spec)) {
      Json p = r;
      p.update(g);
      points.push_back(std::move(p));
    }
  }
  return points;
}

}  // namespace ladle
