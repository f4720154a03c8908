#include "spec/search_spec.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "spec/sweep.h"  // ParseSpace
#include "spec/yaml_reader.h"

namespace ladle {
namespace {

using Algorithm = SearchSpec::Algorithm;

constexpr std::pair<Algorithm, const char*> kAlgorithms[] = {
    {Algorithm::kRandom, "random"},
    {Algorithm::kTpe, "tpe"},
    {Algorithm::kAsha, "asha"},
    {Algorithm::kHyperband, "hyperband"},
    {Algorithm::kMedianStop, "median_stop"},
    {Algorithm::kExternal, "external"}};

bool UsesBudget(Algorithm a) {
  return a == Algorithm::kAsha || a == Algorithm::kHyperband;
}

// budget: {param, min, max, reduction_factor}.
absl::Status ParseBudget(MapReader& top, SearchSpec* s) {
  if (!top.Has("budget")) {
    if (!UsesBudget(s->algorithm)) return absl::OkStatus();
    return Invalid("search.budget",
                   absl::StrCat("is required for ", AlgorithmName(s->algorithm),
                                ": {param: train.epochs, min: 1, max: 27}"));
  }
  if (!UsesBudget(s->algorithm)) {
    top.Child("budget");
    return Invalid("search.budget", "is for asha and hyperband only");
  }
  MapReader b(top.Child("budget"), "search.budget");
  RETURN_IF_ERROR(b.CheckIsMap());
  RETURN_IF_ERROR(b.String("param", &s->budget_param));
  if (s->budget_param.empty()) {
    return Invalid("search.budget.param",
                   "is required: the parameter that sets a trial's budget "
                   "(train.epochs; a command's parameter name)");
  }
  if (!b.Has("min") || !b.Has("max"))
    return Invalid("search.budget", "needs min and max");
  RETURN_IF_ERROR(b.Double("min", &s->budget_min, 0, 1e9, /*open_lo=*/true));
  RETURN_IF_ERROR(b.Double("max", &s->budget_max, 0, 1e9, /*open_lo=*/true));
  if (s->budget_max < s->budget_min) {
    return Invalid("search.budget.max",
                   absl::StrCat("must be >= min (", s->budget_min, ")"));
  }
  RETURN_IF_ERROR(b.Double("reduction_factor", &s->reduction_factor, 2, 1000));
  return b.Finish();
}

// tpe: {...} (tpe, or asha / hyperband with sampler: tpe) and
// median_stop: {...}.
absl::Status ParseTuning(MapReader& top, SearchSpec* s) {
  std::string sampler = "random";
  RETURN_IF_ERROR(top.String("sampler", &sampler, {"random", "tpe"}));
  if (top.Has("sampler") && !UsesBudget(s->algorithm)) {
    return Invalid("search.sampler",
                   "is for asha and hyperband (where their new trials come "
                   "from); use algorithm: tpe for TPE alone");
  }
  s->tpe_sampler = sampler == "tpe";
  if (top.Has("tpe")) {
    if (s->algorithm != Algorithm::kTpe && !s->tpe_sampler) {
      top.Child("tpe");
      return Invalid("search.tpe",
                     "tunes TPE: for algorithm: tpe or sampler: tpe");
    }
    MapReader t(top.Child("tpe"), "search.tpe");
    RETURN_IF_ERROR(t.CheckIsMap());
    int64_t startup = s->tpe_startup_trials, candidates = s->tpe_candidates;
    RETURN_IF_ERROR(t.Int("n_startup_trials", &startup, 0, 100000));
    RETURN_IF_ERROR(t.Int("n_ei_candidates", &candidates, 1, 10000));
    RETURN_IF_ERROR(t.Double("prior_weight", &s->tpe_prior_weight, 0, 1e6,
                             /*open_lo=*/true));
    RETURN_IF_ERROR(t.Finish());
    s->tpe_startup_trials = static_cast<int>(startup);
    s->tpe_candidates = static_cast<int>(candidates);
  }
  if (top.Has("median_stop")) {
    if (s->algorithm != Algorithm::kMedianStop &&
        s->algorithm != Algorithm::kExternal) {
      top.Child("median_stop");
      return Invalid("search.median_stop",
                     "is for algorithms median_stop and external");
    }
    if (s->metric.empty()) {
      return Invalid("search.metric",
                     "is required with median_stop: the metric whose curve "
                     "the rule compares");
    }
    s->median_stop_rule = true;
    MapReader m(top.Child("median_stop"), "search.median_stop");
    RETURN_IF_ERROR(m.CheckIsMap());
    int64_t min_completed = s->median_min_completed;
    RETURN_IF_ERROR(m.Int("min_completed", &min_completed, 1, 100000));
    RETURN_IF_ERROR(
        m.Int("grace_steps", &s->median_grace_steps, 0, int64_t{1} << 40));
    RETURN_IF_ERROR(m.Finish());
    s->median_min_completed = static_cast<int>(min_completed);
  }
  return absl::OkStatus();
}

}  // namespace

const char* AlgorithmName(Algorithm a) {
  for (const auto& [algorithm, name] : kAlgorithms)
    if (algorithm == a) return name;
  return "?";
}

absl::Status ParseSearch(const YamlNode& node, int64_t max_jobs,
                         SearchSpec* s) {
  MapReader top(node, "search");
  RETURN_IF_ERROR(top.CheckIsMap());
  std::string algorithm;
  std::vector<std::string> names;
  for (const auto& [a, name] : kAlgorithms) names.push_back(name);
  RETURN_IF_ERROR(top.String("algorithm", &algorithm, names));
  if (algorithm.empty())
    return Invalid("search.algorithm",
                   "is required: one of random, tpe, "
                   "asha, hyperband, median_stop, external");
  for (const auto& [a, name] : kAlgorithms)
    if (algorithm == name) s->algorithm = a;
  const bool external = s->algorithm == Algorithm::kExternal;
  RETURN_IF_ERROR(top.String("metric", &s->metric));
  if (s->metric.empty() && !external) {
    return Invalid("search.metric",
                   "is required: the metric to optimise, e.g. val_accuracy");
  }
  std::string mode = "max";
  RETURN_IF_ERROR(top.String("mode", &mode, {"max", "min"}));
  s->maximize = mode == "max";
  if (top.Has("space")) {
    RETURN_IF_ERROR(ParseSpace(top.Child("space"), "search.space", &s->space));
  } else if (!external) {
    return Invalid("search.space",
                   "is required: {key: {loguniform: [lo, hi]}, ...}");
  }
  if (!top.Has("max_trials") && !external)
    return Invalid("search.max_trials", "is required: how many trials at most");
  RETURN_IF_ERROR(top.Int("max_trials", &s->max_trials, 1, max_jobs));
  int64_t concurrent = 0;
  RETURN_IF_ERROR(top.Int("max_concurrent", &concurrent, 0, 100000));
  s->max_concurrent = static_cast<int>(concurrent);
  RETURN_IF_ERROR(top.Seed("seed", &s->seed));
  RETURN_IF_ERROR(ParseBudget(top, s));
  RETURN_IF_ERROR(ParseTuning(top, s));
  for (const SearchDimension& d : s->space) {
    if (d.key == s->budget_param) {
      return Invalid("search.space." + d.key,
                     "is the budget parameter (search.budget.param): the "
                     "search sets it");
    }
  }
  return top.Finish();
}

}  // namespace ladle
