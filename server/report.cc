#include "server/report.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "absl/strings/str_format.h"

namespace ladle {
namespace {

using Json = nlohmann::json;

double Num(const Json& j, const char* key, double fallback = NAN) {
  return j.is_object() && j.contains(key) && j[key].is_number()
             ? j[key].get<double>()
             : fallback;
}

double Mean(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x;
  return v.empty() ? NAN : s / v.size();
}

// The sweep point of a job: its params without the keys the planner added.
std::string PointOf(const Json& params,
                    std::initializer_list<const char*> drop) {
  Json p = params.is_object() ? params : Json::object();
  for (const char* k : drop) p.erase(k);
  return p.empty() ? "(base)" : p.dump();
}

std::vector<ReportTable> TrainReport(const std::vector<JobView>& jobs) {
  std::map<std::string, std::vector<double>> groups;
  for (const JobView& j : jobs) {
    const double acc = Num(j.summary, "test_accuracy");
    if (std::isnan(acc)) continue;
    groups[PointOf(j.params, {"train.seed"})].push_back(acc);
  }
  if (groups.empty() || jobs.size() <= groups.size()) return {};
  ReportTable t;
  t.title = "per configuration, over train.seed";
  t.columns = {"configuration", "n", "test_accuracy mean ± std"};
  for (const auto& [config, accs] : groups) {
    t.rows.push_back({config, absl::StrCat(accs.size()), MeanStd(accs)});
  }
  return {t};
}

// First FLOPs count at which the job's val_accuracy reached `target`, or NAN.
double FlopsToTarget(const JobView& j, double prior_flops, double target) {
  const double steps = Num(j.summary, "steps", 0);
  const double flops = Num(j.summary, "train_flops", 0);
  std::vector<std::pair<int64_t, double>> curve;
  for (const MetricPoint& p : j.metrics) {
    if (p.name == "val_accuracy") curve.emplace_back(p.step, p.value);
  }
  std::sort(curve.begin(), curve.end());
  if (steps == 0) {  // evaluation only: its summary is the curve
    const double v = Num(j.summary, "val_accuracy");
    return v >= target ? prior_flops : NAN;
  }
  for (const auto& [step, v] : curve) {
    if (v >= target) return prior_flops + flops * (step / steps);
  }
  const double final_val = Num(j.summary, "val_accuracy");
  return final_val >= target ? prior_flops + flops : NAN;
}

std::vector<ReportTable> FusionReport(const std::vector<JobView>& jobs) {
  // point -> repeat -> role -> job
  std::map<std::string,
           std::map<int64_t, std::map<std::string, const JobView*>>>
      by;
  for (const JobView& j : jobs) {
    if (!j.params.is_object() || !j.params.contains("role")) continue;
    const int64_t repeat = j.params.value("repeat", int64_t{0});
    by[PointOf(j.params, {"role", "repeat"})][repeat]
      [j.params["role"].get<std::string>()] = &j;
  }
  std::vector<ReportTable> tables;
  for (const auto& [point, repeats] : by) {
    struct Arm {
      std::vector<double> test, val, flops, to_target;
    };
    std::map<std::string, Arm> arms;
    const std::vector<std::string> order = {
        "narrow",          "fused_at_init", "fused",       "self_fused",
        "full_ln_at_init", "fused_full_ln", "wide_scratch"};
    auto ok = [](const JobView* j) {
      return j != nullptr && j->state == "succeeded" && j->summary.is_object();
    };
    auto get = [](const std::map<std::string, const JobView*>& roles,
                  const char* role) -> const JobView* {
      auto it = roles.find(role);
      return it == roles.end() ? nullptr : it->second;
    };
    // Target: the final val accuracy every wide arm reaches on average (the
    // lowest of their means), so each arm's cost to get there is defined.
    std::map<std::string, std::vector<double>> final_val;
    for (const auto& [repeat, roles] : repeats) {
      for (const char* arm :
           {"fused", "self_fused", "fused_full_ln", "wide_scratch"}) {
        const JobView* j = get(roles, arm);
        if (ok(j)) final_val[arm].push_back(Num(j->summary, "val_accuracy"));
      }
    }
    double target = NAN;
    for (const auto& [arm, v] : final_val) {
      target = std::isnan(target) ? Mean(v) : std::min(target, Mean(v));
    }
    for (const auto& [repeat, roles] : repeats) {
      const JobView* a = get(roles, "narrow_a");
      const JobView* b = get(roles, "narrow_b");
      const double fa = ok(a) ? Num(a->summary, "train_flops", 0) : NAN;
      const double fb = ok(b) ? Num(b->summary, "train_flops", 0) : NAN;
      for (const JobView* n : {a, b}) {
        if (!ok(n)) continue;
        Arm& arm = arms["narrow"];
        arm.test.push_back(Num(n->summary, "test_accuracy"));
        arm.val.push_back(Num(n->summary, "val_accuracy"));
        arm.flops.push_back(Num(n->summary, "train_flops", 0));
      }
      auto add = [&](const std::string& name, const JobView* j, double prior) {
        if (!ok(j) || std::isnan(prior)) return;
        Arm& arm = arms[name];
        arm.test.push_back(Num(j->summary, "test_accuracy"));
        arm.val.push_back(Num(j->summary, "val_accuracy"));
        arm.flops.push_back(prior + Num(j->summary, "train_flops", 0));
        if (!std::isnan(target))
          arm.to_target.push_back(FlopsToTarget(*j, prior, target));
      };
      add("fused_at_init", get(roles, "fuse"), fa + fb);
      add("fused", get(roles, "fused"), fa + fb);
      add("self_fused", get(roles, "self_fused"), fa);
      add("full_ln_at_init", get(roles, "fuse_full_ln"), fa + fb);
      add("fused_full_ln", get(roles, "fused_full_ln"), fa + fb);
      add("wide_scratch", get(roles, "wide_scratch"), 0.0);
    }
    ReportTable t;
    t.title = "Deep Fusion, " + point;
    t.columns = {"arm",
                 "n",
                 "test_accuracy",
                 "val_accuracy",
                 "train GFLOPs (narrow counted)",
                 absl::StrFormat("GFLOPs to val %.4f", target)};
    for (const std::string& name : order) {
      auto it = arms.find(name);
      if (it == arms.end()) continue;
      const Arm& arm = it->second;
      std::string to_target = "-";
      if (!arm.to_target.empty() && name != "narrow") {
        int reached = 0;
        std::vector<double> g;
        for (double f : arm.to_target) {
          if (!std::isnan(f)) {
            ++reached;
            g.push_back(f / 1e9);
          }
        }
        to_target = reached == 0
                        ? "not reached"
                        : absl::StrFormat("%s (%d/%d reached)", MeanStd(g, 2),
                                          reached, arm.to_target.size());
      }
      std::vector<double> gflops;
      for (double f : arm.flops) gflops.push_back(f / 1e9);
      t.rows.push_back({name, absl::StrCat(arm.test.size()), MeanStd(arm.test),
                        MeanStd(arm.val), MeanStd(gflops, 2), to_target});
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
    tables.push_back(std::move(t));
  }
  return tables;
}

std::vector<ReportTable> LadlingReport(const std::vector<JobView>& jobs) {
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
    struct Row {
      std::vector<double> val, test, wall;
    };
    std::map<std::string, Row> rows;
    std::vector<double> parallel_wall, baseline_wall;
    auto ok = [](const JobView* j) {
      return j->state == "succeeded" && j->summary.is_object();
    };
    for (const auto& [repeat, list] : repeats) {
      const JobView* best = nullptr;
      double slowest_ingredient = 0;
      bool all_ingredients = true;
      for (const JobView* j : list) {
        const std::string role = j->params["role"].get<std::string>();
        if (!ok(j)) {
          if (role == "ingredient") all_ingredients = false;
          continue;
        }
        const double val = Num(j->summary, "val_accuracy");
        const double test = Num(j->summary, "test_accuracy");
        const double wall = Num(j->summary, "wall_seconds", 0);
        if (role == "ingredient") {
          Row& r = rows["ingredient"];
          r.val.push_back(val);
          r.test.push_back(test);
          r.wall.push_back(wall);
          slowest_ingredient = std::max(slowest_ingredient, wall);
          if (best == nullptr || val > Num(best->summary, "val_accuracy"))
            best = j;
        } else if (role == "baseline") {
          Row& r = rows["full-graph baseline"];
          r.val.push_back(val);
          r.test.push_back(test);
          r.wall.push_back(wall);
          baseline_wall.push_back(wall);
        } else if (role == "soup") {
          const Json& soups = j->summary.value("soups", Json::object());
          for (const char* kind : {"uniform", "greedy", "interpolation"}) {
            if (!soups.contains(kind)) continue;
            Row& r = rows[std::string(kind) + " soup"];
            r.val.push_back(Num(soups[kind], "val_accuracy"));
            r.test.push_back(Num(soups[kind], "test_accuracy"));
            r.wall.push_back(wall);
          }
          if (all_ingredients)
            parallel_wall.push_back(slowest_ingredient + wall);
        }
      }
      if (best != nullptr) {
        Row& r = rows["best ingredient (by val)"];
        r.val.push_back(Num(best->summary, "val_accuracy"));
        r.test.push_back(Num(best->summary, "test_accuracy"));
        r.wall.push_back(Num(best->summary, "wall_seconds", 0));
      }
    }
    ReportTable t;
    t.title = "Graph Ladling, " + point;
    t.columns = {"model", "n", "val_accuracy", "test_accuracy", "wall seconds"};
    for (const char* name :
         {"ingredient", "best ingredient (by val)", "uniform soup",
          "greedy soup", "interpolation soup", "full-graph baseline"}) {
      auto it = rows.find(name);
      if (it == rows.end()) continue;
      t.rows.push_back({name, absl::StrCat(it->second.val.size()),
                        MeanStd(it->second.val), MeanStd(it->second.test),
                        MeanStd(it->second.wall, 2)});
    }
    t.notes = {
        absl::StrFormat(
            "parallel path (slowest ingredient + soup, ingredients on "
            "separate workers): %s s; full-graph baseline: %s s",
            MeanStd(parallel_wall, 2), MeanStd(baseline_wall, 2)),
        "soups: uniform = mean of all ingredients; greedy = best first, add "
        "if val accuracy does not drop; interpolation = best first, "
        "α·soup + (1−α)·next with α on a grid maximising val accuracy. mean ± "
        "sample std over repeats (ingredients: over all ingredients)."};
    tables.push_back(std::move(t));
  }
  return tables;
}

std::vector<ReportTable> DropComputeReport(const std::vector<JobView>& jobs) {
  // point -> (ranks, threshold) -> jobs
  std::map<std::string, std::map<std::pair<int64_t, std::string>,
                                 std::vector<const JobView*>>>
      by;
  for (const JobView& j : jobs) {
    if (!j.params.is_object() || !j.params.contains("ranks")) continue;
    const Json& t = j.params["threshold"];
    by[PointOf(j.params, {"ranks", "threshold", "train.seed"})]
      [{j.params["ranks"].get<int64_t>(),
        t.is_string() ? t.get<std::string>() : t.dump()}]
          .push_back(&j);
  }
  std::vector<ReportTable> tables;
  for (const auto& [point, groups] : by) {
    ReportTable t;
    t.title = "DropCompute, " + point;
    t.columns = {"ranks",
                 "threshold",
                 "n",
                 "τ seconds",
                 "drop rate",
                 "step seconds",
                 "speedup measured",
                 "speedup predicted",
                 "test_accuracy",
                 "Δ test vs none"};
    std::map<int64_t, double> none_acc, none_step;
    for (const auto& [key, list] : groups) {
      if (key.second != "none") continue;
      std::vector<double> acc, step;
      for (const JobView* j : list) {
        if (j->state != "succeeded") continue;
        acc.push_back(Num(j->summary, "test_accuracy"));
        if (j->summary.contains("dropcompute"))
          step.push_back(Num(j->summary["dropcompute"], "mean_step_seconds"));
      }
      if (!acc.empty()) none_acc[key.first] = Mean(acc);
      if (!step.empty()) none_step[key.first] = Mean(step);
    }
    for (const auto& [key, list] : groups) {
      std::vector<double> tau, drop, step, meas, pred, acc;
      for (const JobView* j : list) {
        if (j->state != "succeeded" || !j->summary.contains("dropcompute"))
          continue;
        const Json& d = j->summary["dropcompute"];
        tau.push_back(Num(d, "threshold_seconds"));
        drop.push_back(Num(d, "drop_rate"));
        step.push_back(Num(d, "mean_step_seconds"));
        double m = Num(d, "measured_speedup");
        if (std::isnan(m)) {  // timing real: against the τ = none runs
          auto none = none_step.find(key.first);
          const double st = Num(d, "mean_step_seconds");
          if (none != none_step.end() && st > 0)
            m = (1.0 - Num(d, "drop_rate")) * none->second / st;
        }
        meas.push_back(m);
        pred.push_back(Num(d, "predicted_speedup"));
        acc.push_back(Num(j->summary, "test_accuracy"));
      }
      std::string delta = "-";
      auto base = none_acc.find(key.first);
      if (base != none_acc.end() && !acc.empty() && key.second != "none") {
        delta = absl::StrFormat("%+.2f pt", 100 * (Mean(acc) - base->second));
      }
      std::vector<double> step_ms;
      for (double v : step) step_ms.push_back(v * 1e3);
      t.rows.push_back(
          {absl::StrCat(key.first), key.second, absl::StrCat(acc.size()),
           MeanStd(tau, 6), MeanStd(drop, 3), MeanStd(step_ms, 3) + " ms",
           MeanStd(meas, 3), MeanStd(pred, 3), MeanStd(acc), delta});
    }
    t.notes = {
        "timing simulated: gradients of the kept micro-batches are computed "
        "for real; micro-batch times are drawn from the noise model around a "
        "measured base time; speedup = kept fraction × step time without the "
        "threshold / step time with it, on the same draws (after the "
        "calibration steps of auto and multiples). timing real: ranks are "
        "threads on the wall clock, micro-batches padded to their drawn "
        "times; speedup against the none runs of the same ranks. Predicted: "
        "from the noise model alone. Δ test: against threshold none at the "
        "same ranks (equal steps). mean ± sample std over seeds."};
    tables.push_back(std::move(t));
  }
  return tables;
}

}  // namespace

std::string MeanStd(const std::vector<double>& values, int digits) {
  if (values.empty()) return "-";
  const double m = Mean(values);
  if (values.size() == 1) return absl::StrFormat("%.*f ± -", digits, m);
  double var = 0;
  for (double v : values) var += (v - m) * (v - m);
  return absl::StrFormat("%.*f ± %.*f", digits, m, digits,
                         std::sqrt(var / (values.size() - 1)));
}

std::vector<ReportTable> KindReport(const std::string& kind,
                                    const std::vector<JobView>& jobs) {
  if (kind == "fusion") return FusionReport(jobs);
  if (kind == "ladling") return LadlingReport(jobs);
  if (kind == "dropcompute") return DropComputeReport(jobs);
  return TrainReport(jobs);
}

nlohmann::json ReportToJson(const std::vector<ReportTable>& tables) {
  Json out = Json::array();
  for (const ReportTable& t : tables) {
    out.push_back({{"title", t.title},
                   {"columns", t.columns},
                   {"rows", t.rows},
                   {"notes", t.notes}});
  }
  return out;
}

}  // namespace ladle
