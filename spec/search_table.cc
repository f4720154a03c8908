#include "spec/search_table.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/artifact_name.h"

namespace ladle {
namespace {

using Json = nlohmann::json;

// One trial: its segments by rung, and the one it is ranked by (the highest
// rung with a value).
struct TrialRow {
  int64_t trial = 0;
  std::vector<const JobView*> segments;
  const JobView* ranked = nullptr;
};

std::string Num(double v) {
  return std::isnan(v) ? "-" : absl::StrFormat("%.4g", v);
}

double BudgetOf(const SearchSpec& s, const JobView& j) {
  return s.budget_param.empty() ? NAN
                                : JsonNumber(j.params, s.budget_param.c_str());
}

bool Ran(const JobView& j) {
  return j.state != "queued" && j.state != "pending";
}

std::vector<TrialRow> Trials(const std::vector<JobView>& jobs) {
  std::map<int64_t, TrialRow> by_trial;
  for (const JobView& j : jobs) {
    if (j.trial < 0) continue;
    TrialRow& t = by_trial[j.trial];
    t.trial = j.trial;
    t.segments.push_back(&j);
  }
  std::vector<TrialRow> out;
  for (auto& [id, t] : by_trial) {
    std::sort(
        t.segments.begin(), t.segments.end(),
        [](const JobView* a, const JobView* b) { return a->rung < b->rung; });
    for (const JobView* s : t.segments)
      if (!std::isnan(s->search_value)) t.ranked = s;
    out.push_back(std::move(t));
  }
  return out;
}

// Better first: a value before none, a higher rung, then the metric.
void Rank(const SearchSpec& s, std::vector<TrialRow>* trials) {
  std::stable_sort(
      trials->begin(), trials->end(),
      [&](const TrialRow& a, const TrialRow& b) {
        if ((a.ranked == nullptr) != (b.ranked == nullptr))
          return a.ranked != nullptr;
        if (a.ranked == nullptr) return false;
        if (a.ranked->rung != b.ranked->rung)
          return a.ranked->rung > b.ranked->rung;
        return s.maximize ? a.ranked->search_value > b.ranked->search_value
                          : a.ranked->search_value < b.ranked->search_value;
      });
}

std::string StateOf(const TrialRow& t) {
  const JobView& last = *t.segments.back();
  std::string state = last.state;
  if (t.segments.size() > 1 || last.rung > 0)
    absl::StrAppend(&state, " at rung ", last.rung);
  return state;
}

ReportTable Leaderboard(const ExperimentSpec& spec,
                        const std::vector<TrialRow>& trials, int top) {
  const SearchSpec& s = spec.search;
  // Selected on the search metric; the held-out test accuracy beside it
  // (ladle-train) says how the choice generalises.
  bool show_test = false;
  for (const TrialRow& t : trials) {
    show_test =
        show_test ||
        (t.ranked != nullptr && s.metric != summary_keys::kTestAccuracy &&
         !std::isnan(
             JsonNumber(t.ranked->summary, summary_keys::kTestAccuracy)));
  }
  ReportTable table;
  table.title = absl::StrCat(
      "Search: best trials (", AlgorithmName(s.algorithm),
      s.maximize ? ", maximizing " : ", minimizing ", s.metric, ")");
  table.columns = {"#", "trial", "params", s.metric};
  if (show_test) table.columns.push_back(summary_keys::kTestAccuracy);
  if (!s.budget_param.empty()) table.columns.push_back(s.budget_param);
  table.columns.insert(table.columns.end(), {"segments", "state", "job"});
  const std::string budget_key = s.budget_param;
  int rank = 0;
  for (const TrialRow& t : trials) {
    if (rank >= top) break;
    const JobView& shown = t.ranked != nullptr ? *t.ranked : *t.segments.back();
    std::vector<std::string> row = {absl::StrCat(++rank), absl::StrCat(t.trial),
                                    PointOf(shown.params, {budget_key.c_str()}),
                                    Num(shown.search_value)};
    if (show_test)
      row.push_back(
          Num(JsonNumber(shown.summary, summary_keys::kTestAccuracy)));
    if (!s.budget_param.empty()) row.push_back(Num(BudgetOf(s, shown)));
    row.insert(row.end(),
               {absl::StrCat(t.segments.size()), StateOf(t), shown.id});
    table.rows.push_back(std::move(row));
  }
  table.notes.push_back(absl::StrCat(
      trials.size(), " trials; ranked by the highest rung each reached, then ",
      s.metric, " there (values at different budgets do not compare)"));
  if (static_cast<int>(trials.size()) > top) {
    table.notes.push_back(absl::StrCat("showing the best ", top, " of ",
                                       trials.size(), " trials"));
  }
  return table;
}

ReportTable BudgetTable(const ExperimentSpec& spec,
                        const std::vector<JobView>& jobs, size_t trials) {
  const SearchSpec& s = spec.search;
  std::map<std::string, const JobView*> by_id;
  for (const JobView& j : jobs) by_id[j.id] = &j;
  double spent = 0;
  int promoted = 0, resumed = 0;
  for (const JobView& j : jobs) {
    if (j.trial < 0 || !Ran(j)) continue;
    const double budget = OrZero(BudgetOf(s, j));
    double cost = budget;
    if (!j.resume_from.empty()) {
      ++promoted;
      auto prev = by_id.find(j.resume_from);
      const char* name = ResumeArtifactName(j.kind);
      if (prev != by_id.end() &&
          std::count(prev->second->artifacts.begin(),
                     prev->second->artifacts.end(), name) > 0) {
        ++resumed;
        cost = budget - OrZero(BudgetOf(s, *prev->second));
      }
    }
    spent += cost;
  }
  const double full = static_cast<double>(trials) * s.budget_max;
  ReportTable table;
  table.title = absl::StrCat("Search budget (", s.budget_param, ")");
  table.columns = {"spent",
                   "without stopping",
                   "ratio",
                   "promoted segments",
                   "resumed from a checkpoint",
                   "started over"};
  table.rows.push_back({Num(spent), Num(full),
                        full > 0 ? absl::StrFormat("%.3f", spent / full) : "-",
                        absl::StrCat(promoted), absl::StrCat(resumed),
                        absl::StrCat(promoted - resumed)});
  table.notes.push_back(absl::StrCat(
      "without stopping: the same ", trials, " trials, each run to ",
      s.budget_param, " = ", Num(s.budget_max),
      "; a promoted segment that resumed costs only its added budget, one "
      "whose previous segment left no checkpoint started over"));
  return table;
}

}  // namespace

const char* ResumeArtifactName(absl::string_view kind) {
  return kind == "command" ? kCheckpointArtifact : "model.safetensors";
}

std::vector<ReportTable> SearchTables(const ExperimentSpec& spec,
                                      const std::vector<JobView>& jobs,
                                      int top) {
  std::vector<TrialRow> trials = Trials(jobs);
  if (trials.empty()) return {};
  Rank(spec.search, &trials);
  std::vector<ReportTable> tables = {Leaderboard(spec, trials, top)};
  if (!spec.search.budget_param.empty())
    tables.push_back(BudgetTable(spec, jobs, trials.size()));
  return tables;
}

}  // namespace ladle
