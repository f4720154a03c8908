#include "spec/kind.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "spec/kinds/builtin.h"
#include "spec/search_table.h"
#include "spec/sweep.h"  // SampleDimension
#include "spec/yaml_reader.h"

namespace ladle {

KindRegistry& KindRegistry::Global() {
  static KindRegistry* registry = [] {
    auto* r = new KindRegistry();
    // The built-in kinds, in the order error messages list them.
    for (auto* make : {&NewTrainKind, &NewFusionKind, &NewLadlingKind,
                       &NewDropComputeKind, &NewCommandKind}) {
      r->Register(make()).IgnoreError();  // names are distinct
    }
    return r;
  }();
  return *registry;
}

absl::Status KindRegistry::Register(std::unique_ptr<ExperimentKind> kind) {
  absl::MutexLock lock(&mu_);
  const std::string name(kind->name());
  if (by_name_.contains(name)) {
    return absl::AlreadyExistsError(
        absl::StrCat("kind '", name, "' is registered already"));
  }
  by_name_[name] = kind.get();
  kinds_.push_back(std::move(kind));
  return absl::OkStatus();
}

const ExperimentKind* KindRegistry::Find(absl::string_view name) const {
  absl::ReaderMutexLock lock(&mu_);
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : it->second;
}

absl::StatusOr<const ExperimentKind*> KindRegistry::Get(
    absl::string_view name) const {
  if (const ExperimentKind* kind = Find(name)) return kind;
  return absl::NotFoundError(
      absl::StrCat("kind: no planner for '", name,
                   "'; known kinds: ", absl::StrJoin(Names(), ", ")));
}

std::vector<std::string> KindRegistry::Names() const {
  absl::ReaderMutexLock lock(&mu_);
  std::vector<std::string> names;
  names.reserve(kinds_.size());
  for (const auto& k : kinds_) names.emplace_back(k->name());
  return names;
}

const ExperimentKind* FindKind(absl::string_view name) {
  return KindRegistry::Global().Find(name);
}

absl::StatusOr<const ExperimentKind*> GetKind(absl::string_view name) {
  return KindRegistry::Global().Get(name);
}

const ExperimentKind& KindOrTrain(absl::string_view name) {
  const ExperimentKind* kind = FindKind(name);
  return kind != nullptr ? *kind : *FindKind("train");
}

absl::StatusOr<std::vector<PlannedJob>> PlanExperiment(
    const ExperimentSpec& spec) {
  ASSIGN_OR_RETURN(const ExperimentKind* kind, GetKind(spec.kind));
  if (spec.has_search) {
    // A probe point (every dimension at its middle, the budget at its
    // minimum) must plan: a key the trial or program does not take is found
    // now. The trials themselves come from the searcher (search/search_run.h).
    nlohmann::json probe = nlohmann::json::object();
    for (const SearchDimension& d : spec.search.space)
      probe[d.key] = SampleDimension(d, 0.5);
    if (!spec.search.budget_param.empty())
      probe[spec.search.budget_param] = spec.search.budget_min;
    absl::StatusOr<std::vector<PlannedJob>> planned =
        kind->PlanPoints(spec, {probe}, 0);
    if (!planned.ok()) {
      return absl::Status(
          planned.status().code(),
          absl::StrCat("search.space (a probe point ", probe.dump(),
                       "): ", planned.status().message()));
    }
    return std::vector<PlannedJob>{};
  }
  return kind->Plan(spec);
}

std::vector<ReportTable> ExperimentTables(const ExperimentKind& kind,
                                          const ExperimentSpec& spec,
                                          const std::vector<JobView>& jobs) {
  if (spec.has_search) return SearchTables(spec, jobs);
  return kind.Tables(spec, jobs);
}

ExperimentSpec SpecForTables(const std::string& text, const std::string& kind) {
  absl::StatusOr<ExperimentSpec> spec = ParseExperimentSpec(text);
  if (spec.ok()) return *std::move(spec);
  ExperimentSpec fallback;
  fallback.kind = kind;
  return fallback;
}

absl::Status ParseSeeds(const nlohmann::json& value, const std::string& path,
                        std::vector<int64_t>* seeds) {
  if (!value.is_array() || value.empty() || value.size() > 100) {
    return Invalid(path, "must be a list of 1 to 100 seeds");
  }
  seeds->clear();
  for (const nlohmann::json& v : value) {
    if (!v.is_number_integer() || v.get<int64_t>() < 0 ||
        v.get<int64_t>() > (int64_t{1} << 40)) {
      return Invalid(path, "seeds are integers >= 0");
    }
    seeds->push_back(v.get<int64_t>());
  }
  return absl::OkStatus();
}

}  // namespace ladle
