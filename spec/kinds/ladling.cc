// kind: ladling — Graph Ladling model soups (Jaiswal et al. 2023). Per sweep
// point and repeat s:
//   ingredient k (k = 0..K-1)  the trial's GCN trained on sampled subgraphs
//                              (ladling.sampler), its own sampling seed; init
//                              seed shared (1000s+1) or its own (1000s+k+1)
//   soup                       task soup over all K       (deps: ingredients)
//   baseline                   the same GCN on the full graph, same epochs
// Its table: ingredients, best ingredient, uniform / greedy / interpolation
// soups and the full-graph baseline: accuracy and wall time.
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/status_macros.h"
#include "spec/kinds/builtin.h"
#include "spec/sweep.h"
#include "spec/yaml_reader.h"

namespace ladle {
namespace {

using Json = nlohmann::json;

struct LadlingOptions {
  std::vector<int64_t> seeds = {1};
  int64_t ingredients = 4, alpha_steps = 20;
  bool shared_init = true;
  Json sampler = {{"type", "cluster"}, {"parts", 16}, {"parts_per_step", 4}};
};

absl::Status IntIn(const Json& value, const char* path, int64_t lo, int64_t hi,
                   int64_t* out) {
  if (!value.is_number_integer() || value.get<int64_t>() < lo ||
      value.get<int64_t>() > hi) {
    return Invalid(path,
                   absl::StrCat("must be an integer in [", lo, ", ", hi, "]"));
  }
  *out = value.get<int64_t>();
  return absl::OkStatus();
}

absl::StatusOr<LadlingOptions> ParseKindOptions(const Json& section) {
  LadlingOptions o;
  for (auto& [key, value] : section.items()) {
    if (key == "seeds") {
      RETURN_IF_ERROR(ParseSeeds(value, "ladling.seeds", &o.seeds));
    } else if (key == "ingredients") {
      RETURN_IF_ERROR(
          IntIn(value, "ladling.ingredients", 2, 256, &o.ingredients));
    } else if (key == "alpha_steps") {
      RETURN_IF_ERROR(
          IntIn(value, "ladling.alpha_steps", 1, 1000, &o.alpha_steps));
    } else if (key == "init") {
      if (value != "shared" && value != "different") {
        return Invalid("ladling.init", "must be shared or different");
      }
      o.shared_init = value == "shared";
    } else if (key == "sampler") {
      if (!value.is_object()) {
        return Invalid("ladling.sampler",
                       "must be a train.sampler mapping, e.g. {type: "
                       "cluster, parts: 16, parts_per_step: 4}");
      }
      o.sampler = value;
    } else {
      return Invalid("ladling." + key,
                     "unknown key; known: ingredients, sampler, init, seeds, "
                     "alpha_steps");
    }
  }
  return o;
}

// The ingredient trial (the point's trial with the sampler set, validated as
// ladle-train will see it) and the full-graph trial of one sweep point.
absl::Status ResolvePoint(const ExperimentSpec& spec, const LadlingOptions& o,
                          const Json& point, int index, TrainSpec* ingredient,
                          TrainSpec* full) {
  ExperimentSpec with_sampler = spec;
  RETURN_IF_ERROR(SetPath(with_sampler.trial, "train.sampler", o.sampler));
  ASSIGN_OR_RETURN(*ingredient, ResolveTrial(with_sampler, point, index));
  ASSIGN_OR_RETURN(*full, ResolveTrial(spec, point, index));
  if (ingredient->model.type != ModelConfig::Type::kGcn) {
    return Invalid("trial.model.type", "kind ladling trains gcn models");
  }
  if (ingredient->sampler.type == SamplerSpec::Type::kFull) {
    return Invalid("ladling.sampler",
                   "ingredients need a sampler (cluster or nodes); full "
                   "graph is what the baseline does");
  }
  full->sampler = {};
  return absl::OkStatus();
}

// The jobs of repeat s of one sweep point.
void PlanRepeat(const ExperimentSpec& spec, const LadlingOptions& o,
                const Json& point, const TrainSpec& ingredient,
                const TrainSpec& full, int64_t s,
                std::vector<PlannedJob>* jobs) {
  auto add = [&](const std::string& role, const std::string& kind,
                 const TrainSpec& t, std::vector<int> deps,
                 int64_t ingredient_index) {
    PlannedJob job;
    job.index = static_cast<int>(jobs->size());
    job.kind = kind;
    job.params = point;
    job.params["role"] = role;
    job.params["repeat"] = s;
    if (ingredient_index >= 0) job.params["ingredient"] = ingredient_index;
    job.spec = SpecText(t);
    job.deps = std::move(deps);
    job.resources = spec.resources;
    jobs->push_back(std::move(job));
    return jobs->back().index;
  };
  const uint64_t base = 1000 * static_cast<uint64_t>(s);
  std::vector<int> ids;
  TrainSpec soup = full;
  soup.task = TrainTask::kSoup;
  soup.soup.alpha_steps = o.alpha_steps;
  for (int64_t k = 0; k < o.ingredients; ++k) {
    TrainSpec t = ingredient;
    t.seed = o.shared_init ? base + 1 : base + k + 1;
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

struct Row {
  std::vector<double> val, test, wall;
  void Add(double v, double t, double w) {
    val.push_back(v);
    test.push_back(t);
    wall.push_back(w);
  }
};

// Rows of one sweep point's table, and the wall times of its parallel path.
struct PointRows {
  std::map<std::string, Row> rows;
  std::vector<double> parallel_wall, baseline_wall;
};

void AddRepeat(const std::vector<const JobView*>& list, PointRows* out) {
  const JobView* best = nullptr;
  double best_val = NAN, slowest_ingredient = 0;
  bool all_ingredients = true;
  for (const JobView* j : list) {
    const std::string role = j->params["role"].get<std::string>();
    if (j->state != "succeeded" || !j->summary.is_object()) {
      if (role == "ingredient") all_ingredients = false;
      continue;
    }
    const TrialSummary s = TrialSummary::Of(j->summary);
    const double wall = OrZero(s.wall_seconds);
    if (role == "ingredient") {
      out->rows["ingredient"].Add(s.val_accuracy, s.test_accuracy, wall);
      slowest_ingredient = std::max(slowest_ingredient, wall);
      if (best == nullptr || s.val_accuracy > best_val) {
        best = j;
        best_val = s.val_accuracy;
      }
    } else if (role == "baseline") {
      out->rows["full-graph baseline"].Add(s.val_accuracy, s.test_accuracy,
                                           wall);
      out->baseline_wall.push_back(wall);
    } else if (role == "soup") {
      const Json& soups =
          j->summary.value(summary_keys::kSoups, Json::object());
      for (const char* kind : {"uniform", "greedy", "interpolation"}) {
        if (!soups.contains(kind)) continue;
        out->rows[std::string(kind) + " soup"].Add(
            JsonNumber(soups[kind], summary_keys::kValAccuracy),
            JsonNumber(soups[kind], summary_keys::kTestAccuracy), wall);
      }
      if (all_ingredients)
        out->parallel_wall.push_back(slowest_ingredient + wall);
    }
  }
  if (best != nullptr) {
    const TrialSummary s = TrialSummary::Of(best->summary);
    out->rows["best ingredient (by val)"].Add(s.val_accuracy, s.test_accuracy,
                                              OrZero(s.wall_seconds));
  }
}

ReportTable PointTable(const std::string& point, const PointRows& p) {
  ReportTable t;
  t.title = "Graph Ladling, " + point;
  t.columns = {"model", "n", "val_accuracy", "test_accuracy", "wall seconds"};
  for (const char* name :
       {"ingredient", "best ingredient (by val)", "uniform soup", "greedy soup",
        "interpolation soup", "full-graph baseline"}) {
    auto it = p.rows.find(name);
    if (it == p.rows.end()) continue;
    t.rows.push_back({name, absl::StrCat(it->second.val.size()),
                      MeanStd(it->second.val), MeanStd(it->second.test),
                      MeanStd(it->second.wall, 2)});
  }
  t.notes = {
      absl::StrFormat(
          "parallel path (slowest ingredient + soup, ingredients on "
          "separate workers): %s s; full-graph baseline: %s s",
          MeanStd(p.parallel_wall, 2), MeanStd(p.baseline_wall, 2)),
      "soups: uniform = mean of all ingredients; greedy = best first, add "
      "if val accuracy does not drop; interpolation = best first, "
      "α·soup + (1−α)·next with α on a grid maximising val accuracy. mean ± "
      "sample std over repeats (ingredients: over all ingredients)."};
  return t;
}

class LadlingKind final : public ExperimentKind {
 public:
  absl::string_view name() const override { return "ladling"; }

  absl::StatusOr<std::vector<PlannedJob>> Plan(
      const ExperimentSpec& spec) const override {
    ASSIGN_OR_RETURN(const LadlingOptions o,
                     ParseKindOptions(spec.kind_config));
    std::vector<PlannedJob> jobs;
    const std::vector<Json> points = SweepPoints(spec);
    for (size_t pi = 0; pi < points.size(); ++pi) {
      TrainSpec ingredient, full;
      RETURN_IF_ERROR(ResolvePoint(spec, o, points[pi], static_cast<int>(pi),
                                   &ingredient, &full));
      for (int64_t s : o.seeds)
        PlanRepeat(spec, o, points[pi], ingredient, full, s, &jobs);
    }
    return jobs;
  }

  std::vector<ReportTable> Tables(
      const ExperimentSpec& spec,
      const std::vector<JobView>& jobs) const override {
    // point -> repeat -> jobs of that repeat
    std::map<std::string, std::map<int64_t, std::vector<const JobView*>>> by;
    for (const JobView& j : jobs) {
      if (!j.params.is_object() || !j.params.contains("role")) continue;
      by[PointOf(j.params, {"role", "repeat", "ingredient"})]
        [j.params.value("repeat", int64_t{0})]
            .push_back(&j);
    }
    std::vector<ReportTable> tables;
    for (const auto& [point, repeats] : by) {
      PointRows rows;
      for (const auto& [repeat, list] : repeats) AddRepeat(list, &rows);
      tables.push_back(PointTable(point, rows));
    }
    return tables;
  }

  // Test accuracy of ingredients, soups and baseline as bars, per point.
  std::vector<Chart> Charts(const ExperimentSpec& spec,
                            const std::vector<JobView>& jobs) const override {
    std::vector<Chart> out;
    for (const ReportTable& t : Tables(spec, jobs)) {
      BarChart b{t.title + ": test accuracy", "test accuracy", {}};
      for (const auto& r : t.rows) {
        Bar bar;
        bar.value = NAN;
        bar.error = 0;
        bar.label = r[0];
        std::sscanf(r[3].c_str(), "%lf ± %lf", &bar.value, &bar.error);
        if (std::isfinite(bar.value)) b.bars.push_back(bar);
      }
      if (!b.bars.empty()) out.push_back({b, 820, 420});
    }
    return out;
  }
};

}  // namespace

std::unique_ptr<ExperimentKind> NewLadlingKind() {
  return std::make_unique<LadlingKind>();
}

}  // namespace ladle
