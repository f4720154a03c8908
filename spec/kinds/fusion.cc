// kind: fusion — Deep Fusion (Mazzawi et al. 2023). Per sweep point and repeat
// (seed s):
//   narrow_a, narrow_b   the trial's (narrow) model, seeds 1000s+1, 1000s+2
//   fuse                 task fuse of a and b       (deps: narrow_a, narrow_b)
//   fused                the wide model from the fusion, continue_epochs
//   self_fuse            task fuse of a with itself (deps: narrow_a)
//   self_fused           the wide model from it, continue_epochs
//   wide_scratch         the wide model from random init (seed 1000s+3) for
//                        epochs + continue_epochs
// Arms are chosen with fusion.arms (default fused, self_fused, wide_scratch).
// Its table: per sweep point and arm, accuracy mean ± std over repeats,
// training FLOPs with the narrow models counted, and FLOPs to a common target
// (which needs the val_accuracy curves).
#include <algorithm>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/status_macros.h"
#include "spec/kinds/builtin.h"
#include "spec/sweep.h"
#include "spec/widen.h"
#include "spec/yaml_reader.h"

namespace ladle {
namespace {

using Json = nlohmann::json;

struct FusionOptions {
  std::vector<int64_t> seeds = {1, 2, 3};
  int64_t continue_epochs = 2;
  std::vector<std::string> arms = {"fused", "self_fused", "wide_scratch"};

  bool Has(const char* arm) const {
    return std::find(arms.begin(), arms.end(), arm) != arms.end();
  }
};

absl::Status ParseArms(const Json& value, std::vector<std::string>* arms) {
  if (!value.is_array() || value.empty()) {
    return Invalid("fusion.arms",
                   "must list some of fused, self_fused, wide_scratch, "
                   "fused_full_ln");
  }
  arms->clear();
  for (const Json& v : value) {
    const std::string a = v.is_string() ? v.get<std::string>() : "";
    if (a != "fused" && a != "self_fused" && a != "wide_scratch" &&
        a != "fused_full_ln") {
      return Invalid("fusion.arms",
                     "unknown arm " + v.dump() +
                         "; use fused, self_fused, wide_scratch, "
                         "fused_full_ln (resmlp)");
    }
    arms->push_back(a);
  }
  return absl::OkStatus();
}

absl::StatusOr<FusionOptions> ParseKindOptions(const Json& section) {
  FusionOptions o;
  for (auto& [key, value] : section.items()) {
    if (key == "seeds") {
      RETURN_IF_ERROR(ParseSeeds(value, "fusion.seeds", &o.seeds));
    } else if (key == "continue_epochs") {
      if (!value.is_number_integer() || value.get<int64_t>() < 1 ||
          value.get<int64_t>() > 100000) {
        return Invalid("fusion.continue_epochs",
                       "must be an integer in [1, 100000]");
      }
      o.continue_epochs = value.get<int64_t>();
    } else if (key == "arms") {
      RETURN_IF_ERROR(ParseArms(value, &o.arms));
    } else {
      return Invalid("fusion." + key,
                     "unknown key; known: seeds, continue_epochs, arms");
    }
  }
  return o;
}

std::string InputOf(int index) {
  return absl::StrFormat("inputs/%04d/model.safetensors", index);
}

// Adds the jobs of one repeat (seed s) of one sweep point.
class RepeatPlanner {
 public:
  RepeatPlanner(const ExperimentSpec& spec, const FusionOptions& options,
                const Json& point, const TrainSpec& narrow, int64_t s,
                std::vector<PlannedJob>* jobs)
      : spec_(spec),
        o_(options),
        point_(point),
        narrow_(narrow),
        s_(s),
        jobs_(jobs) {}

  void Plan() {
    TrainSpec a = narrow_;
    a.seed = Seed(1);
    const int ia = Add("narrow_a", "train", a, {});
    int ib = -1;
    if (o_.Has("fused") || o_.Has("fused_full_ln")) {
      TrainSpec b = narrow_;
      b.seed = Seed(2);
      ib = Add("narrow_b", "train", b, {});
    }
    if (o_.Has("fused")) FuseAndTrain("fused", ia, ib, a.seed);
    if (o_.Has("self_fused")) FuseAndTrain("self_fused", ia, ia, a.seed);
    if (o_.Has("fused_full_ln")) FuseAndTrain("fused_full_ln", ia, ib, a.seed);
    if (o_.Has("wide_scratch")) {
      TrainSpec w = narrow_;
      w.model = WidenedConfig(narrow_.model);
      w.epochs = narrow_.epochs + o_.continue_epochs;
      w.max_steps = 0;
      w.seed = Seed(3);
      Add("wide_scratch", "train", w, {});
    }
  }

 private:
  uint64_t Seed(int k) const { return 1000 * static_cast<uint64_t>(s_) + k; }

  int Add(const std::string& role, const std::string& kind, const TrainSpec& t,
          std::vector<int> deps) {
    PlannedJob job;
    job.index = static_cast<int>(jobs_->size());
    job.kind = kind;
    job.params = point_;
    job.params["role"] = role;
    job.params["repeat"] = s_;
    job.spec = SpecText(t);
    job.deps = std::move(deps);
    job.resources = spec_.resources;
    jobs_->push_back(std::move(job));
    return jobs_->back().index;
  }

  // The fuse job of x and y, then the wide model trained on from it.
  void FuseAndTrain(const std::string& arm, int x, int y, uint64_t seed) {
    const bool full_ln = arm == "fused_full_ln";
    TrainSpec f = narrow_;
    f.task = TrainTask::kFuse;
    f.fuse = {InputOf(x), InputOf(y), full_ln ? "full" : "grouped"};
    f.seed = seed;
    const std::string fuse_role = arm == "fused"        ? "fuse"
                                  : arm == "self_fused" ? "self_fuse"
                                                        : "fuse_full_ln";
    const int fi = Add(fuse_role, "fuse", f,
                       x == y ? std::vector<int>{x} : std::vector<int>{x, y});
    TrainSpec w = narrow_;
    w.model = WidenedConfig(narrow_.model, full_ln ? FusionLayerNorm::kFull
                                                   : FusionLayerNorm::kGrouped);
    w.init_checkpoint = InputOf(fi);
    w.epochs = o_.continue_epochs;
    w.max_steps = 0;
    w.seed = Seed(4);
    Add(arm, "train", w, {fi});
  }

  const ExperimentSpec& spec_;
  const FusionOptions& o_;
  const Json& point_;
  const TrainSpec& narrow_;
  const int64_t s_;
  std::vector<PlannedJob>* jobs_;
};

// First FLOPs count at which the job's val_accuracy reached `target`, or NAN.
double FlopsToTarget(const JobView& j, double prior_flops, double target) {
  const TrialSummary s = TrialSummary::Of(j.summary);
  const double steps = OrZero(s.steps);
  const double flops = OrZero(s.train_flops);
  std::vector<std::pair<int64_t, double>> curve;
  for (const MetricPoint& p : j.metrics) {
    if (p.name == "val_accuracy") curve.emplace_back(p.step, p.value);
  }
  std::sort(curve.begin(), curve.end());
  if (steps == 0) {  // evaluation only: its summary is the curve
    return s.val_accuracy >= target ? prior_flops : NAN;
  }
  for (const auto& [step, v] : curve) {
    if (v >= target) return prior_flops + flops * (step / steps);
  }
  return s.val_accuracy >= target ? prior_flops + flops : NAN;
}

using Roles = std::map<std::string, const JobView*>;
using Repeats = std::map<int64_t, Roles>;  // repeat -> role -> job

const JobView* Succeeded(const Roles& roles, const char* role) {
  auto it = roles.find(role);
  if (it == roles.end()) return nullptr;
  const JobView* j = it->second;
  return j->state == "succeeded" && j->summary.is_object() ? j : nullptr;
}

// The final val accuracy every wide arm reaches on average (the lowest of
// their means), so each arm's cost to get there is defined; NAN without any.
double CommonTarget(const Repeats& repeats) {
  std::map<std::string, std::vector<double>> final_val;
  for (const auto& [repeat, roles] : repeats) {
    for (const char* arm :
         {"fused", "self_fused", "fused_full_ln", "wide_scratch"}) {
      if (const JobView* j = Succeeded(roles, arm))
        final_val[arm].push_back(TrialSummary::Of(j->summary).val_accuracy);
    }
  }
  double target = NAN;
  for (const auto& [arm, v] : final_val) {
    target = std::isnan(target) ? Mean(v) : std::min(target, Mean(v));
  }
  return target;
}

struct Arm {
  std::vector<double> test, val, flops, to_target;
};

std::map<std::string, Arm> CollectArms(const Repeats& repeats, double target) {
  std::map<std::string, Arm> arms;
  for (const auto& entry : repeats) {
    const Roles& roles = entry.second;  // lambdas cannot capture bindings
    const JobView* a = Succeeded(roles, "narrow_a");
    const JobView* b = Succeeded(roles, "narrow_b");
    auto flops = [](const JobView* j) {
      return j ? OrZero(TrialSummary::Of(j->summary).train_flops) : NAN;
    };
    const double fa = flops(a), fb = flops(b);
    for (const JobView* n : {a, b}) {
      if (n == nullptr) continue;
      const TrialSummary s = TrialSummary::Of(n->summary);
      Arm& arm = arms["narrow"];
      arm.test.push_back(s.test_accuracy);
      arm.val.push_back(s.val_accuracy);
      arm.flops.push_back(OrZero(s.train_flops));
    }
    auto add = [&](const std::string& name, const char* role, double prior) {
      const JobView* j = Succeeded(roles, role);
      if (j == nullptr || std::isnan(prior)) return;
      const TrialSummary s = TrialSummary::Of(j->summary);
      Arm& arm = arms[name];
      arm.test.push_back(s.test_accuracy);
      arm.val.push_back(s.val_accuracy);
      arm.flops.push_back(prior + OrZero(s.train_flops));
      if (!std::isnan(target))
        arm.to_target.push_back(FlopsToTarget(*j, prior, target));
    };
    add("fused_at_init", "fuse", fa + fb);
    add("fused", "fused", fa + fb);
    add("self_fused", "self_fused", fa);
    add("full_ln_at_init", "fuse_full_ln", fa + fb);
    add("fused_full_ln", "fused_full_ln", fa + fb);
    add("wide_scratch", "wide_scratch", 0.0);
  }
  return arms;
}

// "12.34 ± 0.56 (2/3 reached)", "not reached" or "-".
std::string ToTargetCell(const std::string& name, const Arm& arm) {
  if (arm.to_target.empty() || name == "narrow") return "-";
  std::vector<double> g;
  for (double f : arm.to_target) {
    if (!std::isnan(f)) g.push_back(f / 1e9);
  }
  if (g.empty()) return "not reached";
  return absl::StrFormat("%s (%d/%d reached)", MeanStd(g, 2), g.size(),
                         arm.to_target.size());
}

ReportTable PointTable(const std::string& point, const Repeats& repeats) {
  const double target = CommonTarget(repeats);
  const std::map<std::string, Arm> arms = CollectArms(repeats, target);
  ReportTable t;
  t.title = "Deep Fusion, " + point;
  t.columns = {"arm",
               "n",
               "test_accuracy",
               "val_accuracy",
               "train GFLOPs (narrow counted)",
               absl::StrFormat("GFLOPs to val %.4f", target)};
  for (const char* name :
       {"narrow", "fused_at_init", "fused", "self_fused", "full_ln_at_init",
        "fused_full_ln", "wide_scratch"}) {
    auto it = arms.find(name);
    if (it == arms.end()) continue;
    const Arm& arm = it->second;
    std::vector<double> gflops;
    for (double f : arm.flops) gflops.push_back(f / 1e9);
    t.rows.push_back({name, absl::StrCat(arm.test.size()), MeanStd(arm.test),
                      MeanStd(arm.val), MeanStd(gflops, 2),
                      ToTargetCell(name, arm)});
  }
  t.notes = {
      "narrow: each narrow model (two per repeat); fused_at_init: the fused "
      "wide model before training (exactly the mean of the two narrow "
      "models' logits); fused / self_fused: trained on from the fusion of "
      "two narrow models / of one with itself; wide_scratch: the wide model "
      "from random init for the narrow epochs + continue_epochs; "
      "*_full_ln (resmlp): fused with one LayerNorm over the full width "
      "(not exact) instead of per-half LayerNorms.",
      "FLOPs count 2 per multiply-add of forward + backward training steps; "
      "the fused arms include their narrow models' training. mean ± sample "
      "std over repeats."};
  return t;
}

// Columns hold "mean ± std" text; parsed back for the chart.
void ParseMeanStd(const std::string& s, double* m, double* e) {
  *m = NAN;
  *e = 0;
  std::sscanf(s.c_str(), "%lf ± %lf", m, e);
}

class FusionKind final : public ExperimentKind {
 public:
  absl::string_view name() const override { return "fusion"; }
  std::vector<std::string> TableMetrics() const override {
    return {"val_accuracy"};
  }

  absl::StatusOr<std::vector<PlannedJob>> Plan(
      const ExperimentSpec& spec) const override {
    ASSIGN_OR_RETURN(const FusionOptions options,
                     ParseKindOptions(spec.kind_config));
    std::vector<PlannedJob> jobs;
    const std::vector<Json> points = SweepPoints(spec);
    for (size_t pi = 0; pi < points.size(); ++pi) {
      ASSIGN_OR_RETURN(TrainSpec narrow,
                       ResolveTrial(spec, points[pi], static_cast<int>(pi)));
      if (narrow.model.type == ModelConfig::Type::kGcn) {
        return Invalid("trial.model.type",
                       "kind fusion fuses mlp and resmlp models");
      }
      if (options.Has("fused_full_ln") &&
          narrow.model.type != ModelConfig::Type::kResMlp) {
        return Invalid("fusion.arms",
                       "fused_full_ln (full-width LayerNorm) is for resmlp");
      }
      for (int64_t s : options.seeds) {
        RepeatPlanner(spec, options, points[pi], narrow, s, &jobs).Plan();
      }
    }
    return jobs;
  }

  std::vector<ReportTable> Tables(
      const ExperimentSpec& spec,
      const std::vector<JobView>& jobs) const override {
    std::map<std::string, Repeats> by;  // point -> repeat -> role -> job
    for (const JobView& j : jobs) {
      if (!j.params.is_object() || !j.params.contains("role")) continue;
      const int64_t repeat = j.params.value("repeat", int64_t{0});
      by[PointOf(j.params, {"role", "repeat"})][repeat]
        [j.params["role"].get<std::string>()] = &j;
    }
    std::vector<ReportTable> tables;
    for (const auto& [point, repeats] : by)
      tables.push_back(PointTable(point, repeats));
    return tables;
  }

  // Accuracy vs training FLOPs per arm, one figure per sweep point.
  std::vector<Chart> Charts(const ExperimentSpec& spec,
                            const std::vector<JobView>& jobs) const override {
    std::vector<Chart> out;
    for (const ReportTable& t : Tables(spec, jobs)) {
      LineChart c{t.title + ": accuracy vs training FLOPs",
                  "training GFLOPs (narrow models counted)",
                  "test accuracy",
                  {},
                  false};
      for (const auto& r : t.rows) {
        double acc, acc_sd, gf, gf_sd;
        ParseMeanStd(r[2], &acc, &acc_sd);
        ParseMeanStd(r[4], &gf, &gf_sd);
        if (!std::isfinite(acc) || !std::isfinite(gf)) continue;
        ChartSeries s;
        s.name = r[0];
        s.x = {gf};
        s.y = {acc};
        s.lo = {acc - acc_sd};
        s.hi = {acc + acc_sd};
        s.markers = true;
        s.line = false;
        c.series.push_back(s);
      }
      if (!c.series.empty()) out.push_back({c});
    }
    return out;
  }
};

}  // namespace

std::unique_ptr<ExperimentKind> NewFusionKind() {
  return std::make_unique<FusionKind>();
}

}  // namespace ladle
