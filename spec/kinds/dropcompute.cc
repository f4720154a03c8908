// kind: dropcompute — DropCompute (Giladi et al. 2023). Per sweep point,
// ranks N, threshold τ and seed: one train job with train.dropcompute =
// {ranks: N, threshold: τ, and every other key of the dropcompute section
// (micro_batches, noise, sigma, ...)}. Its table and charts: drop rate, step
// time and speedup (measured and predicted) and accuracy, per N and τ.
#include <map>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/status_macros.h"
#include "spec/kinds/builtin.h"
#include "spec/sweep.h"
#include "spec/yaml_reader.h"

namespace ladle {
namespace {

using Json = nlohmann::json;

struct DropComputeOptions {
  std::vector<int64_t> ranks = {4, 16, 64};
  std::vector<Json> thresholds = {"none", "auto"};
  std::vector<int64_t> seeds = {1, 2, 3};
  Json passthrough = Json::object();  // validated as train.dropcompute.<key>
};

absl::Status IntList(const Json& v, const char* key, int64_t lo, int64_t hi,
                     std::vector<int64_t>* out) {
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
}

absl::StatusOr<DropComputeOptions> ParseKindOptions(const Json& section) {
  DropComputeOptions o;
  for (auto& [key, value] : section.items()) {
    if (key == "ranks") {
      RETURN_IF_ERROR(IntList(value, "ranks", 1, 4096, &o.ranks));
    } else if (key == "seeds") {
      RETURN_IF_ERROR(ParseSeeds(value, "dropcompute.seeds", &o.seeds));
    } else if (key == "thresholds") {
      if (!value.is_array() || value.empty() || value.size() > 100) {
        return Invalid("dropcompute.thresholds",
                       "must list thresholds: none, auto, seconds or "
                       "multiples of the median micro-batch time (6x)");
      }
      o.thresholds.clear();
      for (const Json& t : value) {
        o.thresholds.push_back(t.is_string() ? t : Json(t.dump()));
      }
    } else if (key == "ranks_per_step" || key == "threshold") {
      return Invalid("dropcompute." + key,
                     "unknown key; did you mean ranks / thresholds?");
    } else {
      o.passthrough[key] = value;
    }
  }
  return o;
}

// The train job of one point, N, τ and seed (`index`: its place).
absl::StatusOr<PlannedJob> PlanJob(const ExperimentSpec& spec,
                                   const DropComputeOptions& o,
                                   const Json& point, int64_t n,
                                   const Json& tau, int64_t seed, int index) {
  ExperimentSpec s = spec;
  Json dc = o.passthrough;
  dc["ranks"] = n;
  dc["threshold"] = tau;
  RETURN_IF_ERROR(SetPath(s.trial, "train.dropcompute", dc));
  RETURN_IF_ERROR(SetPath(s.trial, "train.seed", seed));
  absl::StatusOr<TrainSpec> t = ResolveTrial(s, point, index);
  if (!t.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("dropcompute ranks ", n,
                                                   ", threshold ", tau.dump(),
                                                   ": ", t.status().message()));
  }
  PlannedJob job;
  job.index = index;
  job.params = point;
  job.params["ranks"] = n;
  job.params["threshold"] = tau;
  job.params["train.seed"] = seed;
  job.spec = SpecText(*t);
  job.resources = spec.resources;
  return job;
}

// The `dropcompute` section of a succeeded job's summary, typed; NAN where
// absent. `measured_speedup` is absent with timing real (computed against
// the τ = none runs instead).
struct DropComputeResult {
  double threshold_seconds, drop_rate, mean_step_seconds, measured_speedup,
      predicted_speedup, test_accuracy;
  std::string threshold;  // as planned: none, auto, 6x, 0.01, ...
  int64_t ranks;

  // nullopt unless the job succeeded with a dropcompute summary.
  static std::optional<DropComputeResult> Of(const JobView& j) {
    if (j.state != "succeeded" ||
        !j.summary.contains(summary_keys::kDropCompute))
      return std::nullopt;
    const Json& d = j.summary[summary_keys::kDropCompute];
    const Json& t = j.params["threshold"];
    return DropComputeResult{JsonNumber(d, summary_keys::kThresholdSeconds),
                             JsonNumber(d, summary_keys::kDropRate),
                             JsonNumber(d, summary_keys::kMeanStepSeconds),
                             JsonNumber(d, summary_keys::kMeasuredSpeedup),
                             JsonNumber(d, summary_keys::kPredictedSpeedup),
                             TrialSummary::Of(j.summary).test_accuracy,
                             t.is_string() ? t.get<std::string>() : t.dump(),
                             j.params.value("ranks", int64_t{0})};
  }
  // Measured, or against the none runs' mean step time (NAN without one).
  double Speedup(const std::map<int64_t, double>& none_step) const {
    if (!std::isnan(measured_speedup)) return measured_speedup;
    auto none = none_step.find(ranks);
    if (none == none_step.end() || !(mean_step_seconds > 0)) return NAN;
    return (1.0 - drop_rate) * none->second / mean_step_seconds;
  }
};

using Groups = std::map<std::pair<int64_t, std::string>,
                        std::vector<const JobView*>>;  // (N, τ) -> jobs

// One row per (N, τ) of a sweep point.
ReportTable PointTable(const std::string& point, const Groups& groups) {
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
      acc.push_back(TrialSummary::Of(j->summary).test_accuracy);
      if (j->summary.contains(summary_keys::kDropCompute))
        step.push_back(JsonNumber(j->summary[summary_keys::kDropCompute],
                                  summary_keys::kMeanStepSeconds));
    }
    if (!acc.empty()) none_acc[key.first] = Mean(acc);
    if (!step.empty()) none_step[key.first] = Mean(step);
  }
  for (const auto& [key, list] : groups) {
    std::vector<double> tau, drop, step_ms, meas, pred, acc;
    for (const JobView* j : list) {
      const std::optional<DropComputeResult> r = DropComputeResult::Of(*j);
      if (!r) continue;
      tau.push_back(r->threshold_seconds);
      drop.push_back(r->drop_rate);
      step_ms.push_back(r->mean_step_seconds * 1e3);
      meas.push_back(r->Speedup(none_step));
      pred.push_back(r->predicted_speedup);
      acc.push_back(r->test_accuracy);
    }
    std::string delta = "-";
    auto base = none_acc.find(key.first);
    if (base != none_acc.end() && !acc.empty() && key.second != "none") {
      delta = absl::StrFormat("%+.2f pt", 100 * (Mean(acc) - base->second));
    }
    t.rows.push_back({absl::StrCat(key.first), key.second,
                      absl::StrCat(acc.size()), MeanStd(tau, 6),
                      MeanStd(drop, 3), MeanStd(step_ms, 3) + " ms",
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
  return t;
}

// threshold -> ranks -> values, over all jobs of the experiment.
struct ChartData {
  using ByRanks = std::map<int64_t, std::vector<double>>;
  std::map<std::string, ByRanks> meas, pred, acc, tau;

  explicit ChartData(const std::vector<JobView>& jobs) {
    std::vector<DropComputeResult> results;
    std::map<int64_t, double> none_step;  // the last none run's, per N
    for (const JobView& j : jobs) {
      std::optional<DropComputeResult> r = DropComputeResult::Of(j);
      if (!r) continue;
      if (r->threshold == "none") none_step[r->ranks] = r->mean_step_seconds;
      results.push_back(*r);
    }
    for (const DropComputeResult& r : results) {
      const double m = r.Speedup(none_step);
      if (!std::isnan(m)) meas[r.threshold][r.ranks].push_back(m);
      pred[r.threshold][r.ranks].push_back(r.predicted_speedup);
      acc[r.threshold][r.ranks].push_back(r.test_accuracy);
      tau[r.threshold][r.ranks].push_back(r.threshold_seconds);
    }
  }
};

// Speedup and accuracy vs N: one line per threshold (measured, predicted).
void VsRanks(ChartData& d, LineChart* speed, LineChart* accuracy) {
  for (const auto& [th, by_n] : d.meas) {
    ChartSeries m, p, a;
    m.name = th + " measured";
    p.name = th + " predicted";
    a.name = th;
    p.dashed = true;
    m.markers = a.markers = true;
    for (const auto& [n, v] : by_n) {
      m.x.push_back(n);
      m.y.push_back(Mean(v));
      p.x.push_back(n);
      p.y.push_back(Mean(d.pred[th][n]));
      const MeanAndStd s = Summarize(d.acc[th][n]);
      a.x.push_back(n);
      a.y.push_back(s.mean);
      a.lo.push_back(s.mean - s.std);
      a.hi.push_back(s.mean + s.std);
    }
    speed->series.push_back(m);
    if (th != "none") speed->series.push_back(p);
    accuracy->series.push_back(a);
  }
}

// Speedup vs τ: one point per threshold, one series per N.
void VsTau(ChartData& d, LineChart* vs_tau) {
  std::map<int64_t, ChartSeries> measured, predicted;
  for (const auto& [th, by_n] : d.meas) {
    if (th == "none") continue;
    for (const auto& [n, v] : by_n) {
      const double t = Mean(d.tau[th][n]);
      ChartSeries& s = measured[n];
      s.name = absl::StrCat("N=", n, " measured");
      s.markers = true;
      s.line = false;
      s.x.push_back(t);
      s.y.push_back(Mean(v));
      ChartSeries& q = predicted[n];
      q.name = absl::StrCat("N=", n, " predicted");
      q.dashed = true;
      q.markers = true;
      q.line = false;
      q.x.push_back(t);
      q.y.push_back(Mean(d.pred[th][n]));
    }
  }
  for (auto& [n, s] : measured) {
    vs_tau->series.push_back(s);
    vs_tau->series.push_back(predicted[n]);
  }
}

class DropComputeKind final : public ExperimentKind {
 public:
  absl::string_view name() const override { return "dropcompute"; }

  absl::StatusOr<std::vector<PlannedJob>> Plan(
      const ExperimentSpec& spec) const override {
    ASSIGN_OR_RETURN(const DropComputeOptions o,
                     ParseKindOptions(spec.kind_config));
    std::vector<PlannedJob> jobs;
    for (const Json& point : SweepPoints(spec)) {
      for (int64_t n : o.ranks) {
        for (const Json& tau : o.thresholds) {
          for (int64_t seed : o.seeds) {
            ASSIGN_OR_RETURN(PlannedJob job,
                             PlanJob(spec, o, point, n, tau, seed,
                                     static_cast<int>(jobs.size())));
            jobs.push_back(std::move(job));
          }
        }
      }
    }
    return jobs;
  }

  std::vector<ReportTable> Tables(
      const ExperimentSpec& spec,
      const std::vector<JobView>& jobs) const override {
    std::map<std::string, Groups> by;  // point -> (N, τ) -> jobs
    for (const JobView& j : jobs) {
      if (!j.params.is_object() || !j.params.contains("ranks")) continue;
      const Json& t = j.params["threshold"];
      by[PointOf(j.params, {"ranks", "threshold", "train.seed"})]
        [{j.params["ranks"].get<int64_t>(),
          t.is_string() ? t.get<std::string>() : t.dump()}]
            .push_back(&j);
    }
    std::vector<ReportTable> tables;
    for (const auto& [point, groups] : by)
      tables.push_back(PointTable(point, groups));
    return tables;
  }

  // Speedup and accuracy vs ranks with the predicted curve; speedup vs τ.
  std::vector<Chart> Charts(const ExperimentSpec& spec,
                            const std::vector<JobView>& jobs) const override {
    ChartData d(jobs);
    LineChart speed{"DropCompute: effective speedup vs ranks",
                    "ranks N",
                    "speedup (kept samples per second, ×)",
                    {},
                    true};
    LineChart accuracy{"DropCompute: test accuracy vs ranks",
                       "ranks N",
                       "test accuracy",
                       {},
                       true};
    LineChart vs_tau{"DropCompute: speedup vs threshold τ",
                     "τ (seconds)",
                     "speedup (×)",
                     {},
                     false};
    VsRanks(d, &speed, &accuracy);
    VsTau(d, &vs_tau);
    if (speed.series.empty()) return {};
    std::vector<Chart> out = {{speed}, {accuracy}};
    if (!vs_tau.series.empty()) out.push_back({vs_tau});
    return out;
  }
};

}  // namespace

std::unique_ptr<ExperimentKind> NewDropComputeKind() {
  return std::make_unique<DropComputeKind>();
}

}  // namespace ladle
