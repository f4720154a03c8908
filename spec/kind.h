// Experiment kinds: one class per `kind:` value, each in its own file under
// spec/kinds/, holding everything that differs by kind — how a spec of it
// expands into jobs (the planner), how its results read (tables), what the
// HTML report draws (charts) and which metric series those need.
//
// The coordinator (admission), the CLI (validate, results), the HTML report
// and tests all go through the registry; adding a kind is its file plus one
// line in kind.cc's list of built-in kinds.
#ifndef LADLE_SPEC_KIND_H_
#define LADLE_SPEC_KIND_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "nlohmann/json.hpp"
#include "spec/chart.h"
#include "spec/experiment.h"
#include "spec/result_table.h"

namespace ladle {

// Thread-compatible and stateless after construction: the registry hands the
// same instance to concurrent callers, so every method must be const-safe.
class ExperimentKind {
 public:
  virtual ~ExperimentKind() = default;

  // The `kind:` value; also the name of the kind's own spec section
  // (`fusion:`, ...) when has_section().
  virtual absl::string_view name() const = 0;
  virtual bool has_section() const { return true; }
  // Whether specs of this kind need a `trial:` (a ladle-train spec); kinds
  // that run something else refuse one as an unknown key.
  virtual bool needs_trial() const { return true; }
  // Top-level keys the kind adds to the experiment spec (read into
  // ExperimentSpec::kind_keys; its planner validates them). Views of string
  // literals: the spec parser keeps them past the returned vector.
  virtual std::vector<absl::string_view> top_level_keys() const { return {}; }
  // Whether a `search:` section may replace its sweep (spec/search_spec.h);
  // such kinds implement PlanPoints.
  virtual bool supports_search() const { return false; }
  // The jobs of given points (a search's trials), indexed from
  // `first_index`; Plan is PlanPoints of the sweep's points from 0.
  virtual absl::StatusOr<std::vector<PlannedJob>> PlanPoints(
      const ExperimentSpec& spec, std::vector<nlohmann::json> points,
      int first_index) const {
    return absl::UnimplementedError(
        absl::StrCat("kind ", name(), " plans only its sweep"));
  }

  // The jobs of a parsed spec (spec.kind_config holds the kind's section as
  // JSON, {} when absent). INVALID_ARGUMENT names the key.
  virtual absl::StatusOr<std::vector<PlannedJob>> Plan(
      const ExperimentSpec& spec) const = 0;

  // Result tables over the experiment's jobs (none when nothing is to be
  // summarised yet). `spec` is the experiment's parsed spec (a default one
  // of this kind when the stored text no longer parses).
  virtual std::vector<ReportTable> Tables(
      const ExperimentSpec& spec, const std::vector<JobView>& jobs) const = 0;
  // True when Tables() lists the jobs themselves (the CLI then prints no
  // per-job list of ladle-train's columns).
  virtual bool HasJobTable() const { return false; }
  // Figures for the HTML report beyond the training curves.
  virtual std::vector<Chart> Charts(const ExperimentSpec& spec,
                                    const std::vector<JobView>& jobs) const {
    return {};
  }
  // Metric series Tables() reads besides the summaries (fetched with the
  // results; empty: summaries only, so big sweeps stay one small read).
  virtual std::vector<std::string> TableMetrics() const { return {}; }
  // `ladle results --format csv`: true prints the kind's tables, false the
  // per-job list.
  virtual bool CsvIsTables() const { return true; }
};

// The kinds known to this process. Built-in kinds are registered on first
// use; tests and embedders may add more. Thread-safe; kinds are never removed,
// so returned pointers stay valid for the life of the process.
class KindRegistry {
 public:
  // The process-wide registry, with the built-in kinds.
  static KindRegistry& Global();

  // ALREADY_EXISTS when a kind of that name is registered.
  absl::Status Register(std::unique_ptr<ExperimentKind> kind)
      ABSL_LOCKS_EXCLUDED(mu_);
  // nullptr when unknown.
  const ExperimentKind* Find(absl::string_view name) const
      ABSL_LOCKS_EXCLUDED(mu_);
  // NOT_FOUND naming the known kinds.
  absl::StatusOr<const ExperimentKind*> Get(absl::string_view name) const
      ABSL_LOCKS_EXCLUDED(mu_);
  // Names in registration order (built-ins first).
  std::vector<std::string> Names() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  mutable absl::Mutex mu_;
  std::vector<std::unique_ptr<ExperimentKind>> kinds_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, const ExperimentKind*> by_name_
      ABSL_GUARDED_BY(mu_);
};

// Shorthands over KindRegistry::Global().
const ExperimentKind* FindKind(absl::string_view name);
absl::StatusOr<const ExperimentKind*> GetKind(absl::string_view name);

// The kind of that name; an unknown kind (from a newer server) reads as
// train: its jobs' summaries are trials all the same.
const ExperimentKind& KindOrTrain(absl::string_view name);

// Plans a parsed spec with its kind: what admission and `ladle validate`
// do. INVALID_ARGUMENT names the field. A search plans no jobs here (its
// searcher does, as it goes): a probe point of its space is planned to check
// the keys.
absl::StatusOr<std::vector<PlannedJob>> PlanExperiment(
    const ExperimentSpec& spec);

// The result tables of an experiment: a search's leaderboard and budget
// (spec/search_table.h) when it has `search:`, else its kind's Tables().
std::vector<ReportTable> ExperimentTables(const ExperimentKind& kind,
                                          const ExperimentSpec& spec,
                                          const std::vector<JobView>& jobs);

// The experiment spec behind stored results, for Tables(): `text` parsed, or
// (when it no longer parses) a default spec of `kind`.
ExperimentSpec SpecForTables(const std::string& text, const std::string& kind);

// A kind section's list of repeat seeds: 1..100 integers >= 0.
absl::Status ParseSeeds(const nlohmann::json& value, const std::string& path,
                        std::vector<int64_t>* seeds);

}  // namespace ladle

#endif  // LADLE_SPEC_KIND_H_
