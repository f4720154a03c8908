#include "server/experiment.h"

#include <algorithm>
#include <cmath>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "common/random.h"
#include "common/status_macros.h"
#include "train/fusion.h"
#include "train/spec.h"
#include "train/yaml_reader.h"

namespace ladle {
namespace {

using Json = nlohmann::json;

// YAML -> JSON with YAML's scalar typing (ints, floats, booleans, strings).
// A collection used as a mapping key is refused, naming `path`.
absl::StatusOr<Json> ToJson(const YamlNode& n, const std::string& path) {
  switch (n.type()) {
    case YamlNode::Type::kMap: {
      Json j = Json::object();
      std::string key;
      for (const YamlNode::Pair& kv : n.pairs()) {
        if (!KeyText(kv.first, &key)) {
          return Invalid(path,
                         "keys must be plain strings, not lists or mappings");
        }
        ASSIGN_OR_RETURN(j[key], ToJson(kv.second, Join(path, key)));
      }
      return j;
    }
    case YamlNode::Type::kSequence: {
      Json j = Json::array();
      for (const YamlNode& e : n.items()) {
        ASSIGN_OR_RETURN(Json v, ToJson(e, path));
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
      ASSIGN_OR_RETURN(Json value, ToJson(v, path));
      values.push_back(std::move(value));
    }
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
  const YamlNode& space = r.Child("space");
  if (!space.IsMap() || space.size() == 0) {
    return Invalid("sweep.random.space",
                   "must map keys to distributions, e.g. "
                   "{train.optimizer.lr: {loguniform: [1e-4, 1e-2]}}");
  }
  for (const YamlNode::Pair& kv : space.pairs()) {
    SearchDimension dim;
    if (!KeyText(kv.first, &dim.key)) {
      return Invalid("sweep.random.space",
                     "keys must be dotted paths, e.g. train.optimizer.lr");
    }
    const std::string path = "sweep.random.space." + dim.key;
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
        ASSIGN_OR_RETURN(Json choice, ToJson(v, path + ".choice"));
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

// Resolves the trial of one sweep point: base trial + point, validated.
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
        job.resources = spec.resources;
        jobs.push_back(std::move(job));
      }
    }
    // Each point is validated like ladle-train would (the bulk of accepting
    // a big sweep): points are independent, so large sweeps use every core.
    // The first failing point by index is reported, as in a serial pass.
    std::vector<absl::Status> errors(jobs.size());
    auto resolve = [&](size_t begin, size_t end) {
      for (size_t i = begin; i < end; ++i) {
        try {  // an exception must not escape a thread
          absl::StatusOr<TrainSpec> parsed =
              ResolveTrial(spec, jobs[i].params, jobs[i].index);
          if (!parsed.ok()) {
            errors[i] = parsed.status();
            return;  // later points of this chunk do not matter
          }
          jobs[i].spec = SpecText(*parsed);
        } catch (const std::exception& e) {
          errors[i] = absl::InvalidArgumentError(
              absl::StrCat("sweep point ", jobs[i].index, ": ", e.what()));
          return;
        }
      }
    };
    const size_t threads =
        jobs.size() < 512
            ? 1
            : std::clamp<size_t>(std::thread::hardware_concurrency(), 1, 8);
    if (threads == 1) {
      resolve(0, jobs.size());
    } else {
      std::vector<std::thread> pool;
      const size_t chunk = (jobs.size() + threads - 1) / threads;
      for (size_t t = 0; t < threads; ++t) {
        const size_t begin = t * chunk;
        const size_t end = std::min(jobs.size(), begin + chunk);
        if (begin < end) pool.emplace_back(resolve, begin, end);
      }
      for (std::thread& th : pool) th.join();
    }
    for (const absl::Status& st : errors) RETURN_IF_ERROR(st);
    return jobs;
  }
};

// Every sweep point (random samples crossed with grid points).
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

// A kind section's list of repeat seeds: 1..100 integers >= 0.
absl::Status ParseSeeds(const Json& value, const std::string& path,
                        std::vector<int64_t>* seeds) {
  if (!value.is_array() || value.empty() || value.size() > 100) {
    return Invalid(path, "must be a list of 1 to 100 seeds");
  }
  seeds->clear();
  for (const Json& v : value) {
    if (!v.is_number_integer() || v.get<int64_t>() < 0 ||
        v.get<int64_t>() > (int64_t{1} << 40)) {
      return Invalid(path, "seeds are integers >= 0");
    }
    seeds->push_back(v.get<int64_t>());
  }
  return absl::OkStatus();
}

// kind: fusion. Per sweep point and repeat (seed s):
//   narrow_a, narrow_b   the trial's (narrow) model, seeds 1000s+1, 1000s+2
//   fuse                 task fuse of a and b           (deps: narrow_a,
//   narrow_b) fused                the wide model from the fusion,
//   continue_epochs self_fuse            task fuse of a with itself     (deps:
//   narrow_a) self_fused           the wide model from it, continue_epochs
//   wide_scratch         the wide model from random init (seed 1000s+3) for
//                        epochs + continue_epochs
// Arms are chosen with fusion.arms (default all).
class FusionPlanner final : public Planner {
 public:
  absl::StatusOr<std::vector<PlannedJob>> Plan(
      const ExperimentSpec& spec) override {
    std::vector<int64_t> seeds = {1, 2, 3};
    int64_t continue_epochs = 2;
    std::vector<std::string> arms = {"fused", "self_fused", "wide_scratch"};
    const Json& c = spec.kind_config;
    for (auto& [key, value] : c.items()) {
      if (key == "seeds") {
        RETURN_IF_ERROR(ParseSeeds(value, "fusion.seeds", &seeds));
      } else if (key == "continue_epochs") {
        if (!value.is_number_integer() || value.get<int64_t>() < 1 ||
            value.get<int64_t>() > 100000) {
          return Invalid("fusion.continue_epochs",
                         "must be an integer in [1, 100000]");
        }
        continue_epochs = value.get<int64_t>();
      } else if (key == "arms") {
        if (!value.is_array() || value.empty()) {
          return Invalid("fusion.arms",
                         "must list some of fused, self_fused, wide_scratch, "
                         "fused_full_ln");
        }
        arms.clear();
        for (const Json& v : value) {
          const std::string a = v.is_string() ? v.get<std::string>() : "";
          if (a != "fused" && a != "self_fused" && a != "wide_scratch" &&
              a != "fused_full_ln") {
            return Invalid("fusion.arms",
                           "unknown arm " + v.dump() +
                               "; use fused, self_fused, wide_scratch, "
                               "fused_full_ln (resmlp)");
          }
          arms.push_back(a);
        }
      } else {
        return Invalid("fusion." + key,
                       "unknown key; known: seeds, continue_epochs, arms");
      }
    }
    auto has = [&](const char* arm) {
      return std::find(arms.begin(), arms.end(), arm) != arms.end();
    };
    std::vector<PlannedJob> jobs;
    const std::vector<Json> points = SweepPoints(spec);
    for (size_t pi = 0; pi < points.size(); ++pi) {
      ASSIGN_OR_RETURN(TrainSpec narrow,
                       ResolveTrial(spec, points[pi], static_cast<int>(pi)));
      if (narrow.model.type == ModelConfig::Type::kGcn) {
        return Invalid("trial.model.type",
                       "kind fusion fuses mlp and resmlp models");
      }
      if (has("fused_full_ln") &&
          narrow.model.type != ModelConfig::Type::kResMlp) {
        return Invalid("fusion.arms",
                       "fused_full_ln (full-width LayerNorm) is for resmlp");
      }
      const ModelConfig wide = WidenedConfig(narrow.model);
      for (int64_t s : seeds) {
        auto add = [&](const std::string& role, const std::string& kind,
                       const TrainSpec& t, std::vector<int> deps) {
          PlannedJob job;
          job.index = static_cast<int>(jobs.size());
          job.kind = kind;
          job.params = points[pi];
          job.params["role"] = role;
          job.params["repeat"] = s;
          job.spec = SpecText(t);
          job.deps = std::move(deps);
          job.resources = spec.resources;
          jobs.push_back(std::move(job));
          return jobs.back().index;
        };
        auto input = [](int index) -> std::string {
          return absl::StrFormat("inputs/%04d/model.safetensors", index);
        };
        const bool need_b = has("fused") || has("fused_full_ln");
        TrainSpec a = narrow;
        a.seed = 1000 * static_cast<uint64_t>(s) + 1;
        const int ia = add("narrow_a", "train", a, {});
        int ib = -1;
        if (need_b) {
          TrainSpec b = narrow;
          b.seed = 1000 * static_cast<uint64_t>(s) + 2;
          ib = add("narrow_b", "train", b, {});
        }
        auto fuse_and_train = [&](const std::string& arm, int x, int y) {
          const bool full_ln = arm == "fused_full_ln";
          TrainSpec f = narrow;
          f.task = TrainTask::kFuse;
          f.fuse = {input(x), input(y), full_ln ? "full" : "grouped"};
          f.seed = a.seed;
          const std::string fuse_role = arm == "fused"        ? "fuse"
                                        : arm == "self_fused" ? "self_fuse"
                                                              : "fuse_full_ln";
          const int fi =
              add(fuse_role, "fuse", f,
                  x == y ? std::vector<int>{x} : std::vector<int>{x, y});
          TrainSpec w = narrow;
          w.model = full_ln
                        ? WidenedConfig(narrow.model, FusionLayerNorm::kFull)
                        : wide;
          w.init_checkpoint = input(fi);
          w.epochs = continue_epochs;
          w.max_steps = 0;
          w.seed = 1000 * static_cast<uint64_t>(s) + 4;
          add(arm, "train", w, {fi});
        };
        if (has("fused")) fuse_and_train("fused", ia, ib);
        if (has("self_fused")) fuse_and_train("self_fused", ia, ia);
        if (has("fused_full_ln")) fuse_and_train("fused_full_ln", ia, ib);
        if (has("wide_scratch")) {
          TrainSpec w = narrow;
          w.model = wide;
          w.epochs = narrow.epochs + continue_epochs;
          w.max_steps = 0;
          w.seed = 1000 * static_cast<uint64_t>(s) + 3;
          add("wide_scratch", "train", w, {});
        }
      }
    }
    return jobs;
  }
};

// kind: ladling. Per sweep point and repeat s:
//   ingredient k (k = 0..K-1)  the trial's GCN trained on sampled subgraphs
//                              (ladling.sampler), its own sampling seed; init
//                              seed shared (1000s+1) or its own (1000s+k+1)
//   soup                       task soup over all K       (deps: ingredients)
//   baseline                   the same GCN on the full graph, same epochs
class LadlingPlanner final : public Planner {
 public:
  absl::StatusOr<std::vector<PlannedJob>> Plan(
      const ExperimentSpec& spec) override {
    std::vector<int64_t> seeds = {1};
    int64_t ingredients = 4, alpha_steps = 20;
    bool shared_init = true;
    Json sampler = {{"type", "cluster"}, {"parts", 16}, {"parts_per_step", 4}};
    for (auto& [key, value] : spec.kind_config.items()) {
      if (key == "seeds") {
        RETURN_IF_ERROR(ParseSeeds(value, "ladling.seeds", &seeds));
      } else if (key == "ingredients") {
        if (!value.is_number_integer() || value.get<int64_t>() < 2 ||
            value.get<int64_t>() > 256) {
          return Invalid("ladling.ingredients",
                         "must be an integer in [2, 256]");
        }
        ingredients = value.get<int64_t>();
      } else if (key == "alpha_steps") {
        if (!value.is_number_integer() || value.get<int64_t>() < 1 ||
            value.get<int64_t>() > 1000) {
          return Invalid("ladling.alpha_steps",
                         "must be an integer in [1, 1000]");
        }
        alpha_steps = value.get<int64_t>();
      } else if (key == "init") {
        if (value != "shared" && value != "different") {
          return Invalid("ladling.init", "must be shared or different");
        }
        shared_init = value == "shared";
      } else if (key == "sampler") {
        if (!value.is_object()) {
          return Invalid("ladling.sampler",
                         "must be a train.sampler mapping, e.g. {type: "
                         "cluster, parts: 16, parts_per_step: 4}");
        }
        sampler = value;
      } else {
        return Invalid("ladling." + key,
                       "unknown key; known: ingredients, sampler, init, seeds, "
                       "alpha_steps");
      }
    }
    std::vector<PlannedJob> jobs;
    const std::vector<Json> points = SweepPoints(spec);
    for (size_t pi = 0; pi < points.size(); ++pi) {
      // The ingredient trial: the point's trial with the sampler set, so it
      // is validated as ladle-train will see it.
      Json point = points[pi];
      ExperimentSpec with_sampler = spec;
      absl::Status st = SetPath(with_sampler.trial, "train.sampler", sampler);
      if (!st.ok()) return st;
      ASSIGN_OR_RETURN(TrainSpec ingredient,
                       ResolveTrial(with_sampler, point, static_cast<int>(pi)));
      ASSIGN_OR_RETURN(TrainSpec full,
                       ResolveTrial(spec, point, static_cast<int>(pi)));
      if (ingredient.model.type != ModelConfig::Type::kGcn) {
        return Invalid("trial.model.type", "kind ladling trains gcn models");
      }
      if (ingredient.sampler.type == SamplerSpec::Type::kFull) {
        return Invalid("ladling.sampler",
                       "ingredients need a sampler (cluster or nodes); full "
                       "graph is what the baseline does");
      }
      full.sampler = {};
      for (int64_t s : seeds) {
        auto add = [&](const std::string& role, const std::string& kind,
                       const TrainSpec& t, std::vector<int> deps,
                       int64_t ingredient_index) {
          PlannedJob job;
          job.index = static_cast<int>(jobs.size());
          job.kind = kind;
          job.params = point;
          job.params["role"] = role;
          job.params["repeat"] = s;
          if (ingredient_index >= 0)
            job.params["ingredient"] = ingredient_index;
          job.spec = SpecText(t);
          job.deps = std::move(deps);
          job.resources = spec.resources;
          jobs.push_back(std::move(job));
          return jobs.back().index;
        };
        const uint64_t base = 1000 * static_cast<uint64_t>(s);
        std::vector<int> ids;
        TrainSpec soup = full;
        soup.task = TrainTask::kSoup;
        soup.soup.alpha_steps = alpha_steps;
        for (int64_t k = 0; k < ingredients; ++k) {
          TrainSpec t = ingredient;
          t.seed = shared_init ? base + 1 : base + k + 1;
          t.sampler.seed = base + k + 1;
          const int id = add("ingredient", "train", t, {}, k);
          ids.push_back(id);
          soup.soup.ingredients.push_back(
              absl::StrFormat("inputs/%04d/model.safetensors", id));
        }
        add("soup", "soup", soup, ids, -1);
        TrainSpec baseline = full;
        baseline.seed = base + 1;
        add("baseline", "train", baseline, {}, -1);
      }
    }
    return jobs;
  }
};

// kind: dropcompute. Per sweep point, ranks N, threshold τ and seed: one
// train job with train.dropcompute = {ranks: N, micro_batches, threshold: τ,
// and every other key of the dropcompute section (noise, sigma, ...)}.
class DropComputePlanner final : public Planner {
 public:
  absl::StatusOr<std::vector<PlannedJob>> Plan(
      const ExperimentSpec& spec) override {
    std::vector<int64_t> ranks = {4, 16, 64};
    std::vector<Json> thresholds = {"none", "auto"};
    std::vector<int64_t> seeds = {1, 2, 3};
    Json passthrough = Json::object();
    auto int_list = [](const Json& v, const char* key, int64_t lo, int64_t hi,
                       std::vector<int64_t>* out) -> absl::Status {
      if (!v.is_array() || v.empty() || v.size() > 100) {
        return Invalid(std::string("dropcompute.") + key,
                       "must be a list of 1 to 100 integers");
      }
      out->clear();
      for (const Json& e : v) {
        if (!e.is_number_integer() || e.get<int64_t>() < lo ||
            e.get<int64_t>() > hi) {
          return Invalid(
              std::string("dropcompute.") + key,
              absl::StrCat("items must be integers in [", lo, ", ", hi, "]"));
        }
        out->push_back(e.get<int64_t>());
      }
      return absl::OkStatus();
    };
    for (auto& [key, value] : spec.kind_config.items()) {
      if (key == "ranks") {
        RETURN_IF_ERROR(int_list(value, "ranks", 1, 4096, &ranks));
      } else if (key == "seeds") {
        RETURN_IF_ERROR(ParseSeeds(value, "dropcompute.seeds", &seeds));
      } else if (key == "thresholds") {
        if (!value.is_array() || value.empty() || value.size() > 100) {
          return Invalid("dropcompute.thresholds",
                         "must list thresholds: none, auto, seconds or "
                         "multiples of the median micro-batch time (6x)");
        }
        thresholds.clear();
        for (const Json& t : value) {
          thresholds.push_back(t.is_string() ? t : Json(t.dump()));
        }
      } else if (key == "ranks_per_step" || key == "threshold") {
        return Invalid("dropcompute." + key,
                       "unknown key; did you mean ranks / thresholds?");
      } else {
        passthrough[key] = value;  // validated as train.dropcompute.<key>
      }
    }
    std::vector<PlannedJob> jobs;
    const std::vector<Json> points = SweepPoints(spec);
    for (size_t pi = 0; pi < points.size(); ++pi) {
      for (int64_t n : ranks) {
        for (const Json& tau : thresholds) {
          for (int64_t seed : seeds) {
            Json point = points[pi];
            ExperimentSpec s = spec;
            Json dc = passthrough;
            dc["ranks"] = n;
            dc["threshold"] = tau;
            RETURN_IF_ERROR(SetPath(s.trial, "train.dropcompute", dc));
            RETURN_IF_ERROR(SetPath(s.trial, "train.seed", seed));
            absl::StatusOr<TrainSpec> t =
                ResolveTrial(s, point, static_cast<int>(jobs.size()));
            if (!t.ok()) {
              return absl::InvalidArgumentError(
                  absl::StrCat("dropcompute ranks ", n, ", threshold ",
                               tau.dump(), ": ", t.status().message()));
            }
            PlannedJob job;
            job.index = static_cast<int>(jobs.size());
            job.params = point;
            job.params["ranks"] = n;
            job.params["threshold"] = tau;
            job.params["train.seed"] = seed;
            job.spec = SpecText(*t);
            job.resources = spec.resources;
            jobs.push_back(std::move(job));
          }
        }
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
  ASSIGN_OR_RETURN(YamlNode root,
                   LoadYamlMapping(text, "name, kind, trial, sweep"));
  ExperimentSpec spec;
  spec.source = text;
  {
    MapReader top(root, "");
    if (!top.Has("name"))
      return Invalid("name", "is required (letters, digits, '.', '_', '-')");
    RETURN_IF_ERROR(top.String("name", &spec.name));
    if (!ValidName(spec.name)) {
      return Invalid("name",
                     "use 1-128 letters, digits, '.', '_' or '-', got '" +
                         spec.name + "'");
    }
    RETURN_IF_ERROR(top.String("kind", &spec.kind,
                               {"train", "fusion", "ladling", "dropcompute"}));
    if (spec.kind != "train") {
      const YamlNode& section = top.Child(spec.kind);
      if (!section.IsNull() && !section.IsMap()) {
        return Invalid(spec.kind, "must be a mapping");
      }
      if (!section.IsNull()) {
        ASSIGN_OR_RETURN(spec.kind_config, ToJson(section, spec.kind));
      } else {
        spec.kind_config = Json::object();
      }
    }
    const YamlNode& trial = top.Child("trial");
    if (trial.IsNull())
      return Invalid("trial", "is required: a ladle-train spec");
    if (!trial.IsMap())
      return Invalid("trial", "must be a mapping (a ladle-train spec)");
    ASSIGN_OR_RETURN(spec.trial, ToJson(trial, "trial"));

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
  if (kind == "fusion") return std::unique_ptr<Planner>(new FusionPlanner());
  if (kind == "ladling") return std::unique_ptr<Planner>(new LadlingPlanner());
  if (kind == "dropcompute")
    return std::unique_ptr<Planner>(new DropComputePlanner());
  return absl::NotFoundError(
      absl::StrCat("kind: no planner for '", kind,
                   "'; known kinds: train, fusion, ladling, dropcompute"));
}

}  // namespace ladle
