// kind: train — one ladle-train job per sweep point. Its table: test accuracy
// mean ± std per configuration (the sweep point without train.seed) when
// seeds repeat.
#include <algorithm>
#include <map>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "spec/kinds/builtin.h"
#include "spec/sweep.h"

namespace ladle {
namespace {

using Json = nlohmann::json;

// Resolves and validates jobs[begin, end) like ladle-train would; stops at the
// chunk's first error (later points of it do not matter).
void ResolveChunk(const ExperimentSpec& spec, size_t begin, size_t end,
                  std::vector<PlannedJob>* jobs,
                  std::vector<absl::Status>* errors) {
  for (size_t i = begin; i < end; ++i) {
    PlannedJob& job = (*jobs)[i];
    try {  // an exception must not escape a thread
      absl::StatusOr<TrainSpec> parsed =
          ResolveTrial(spec, job.params, job.index);
      if (!parsed.ok()) {
        (*errors)[i] = parsed.status();
        return;
      }
      job.spec = SpecText(*parsed);
    } catch (const std::exception& e) {
      (*errors)[i] = absl::InvalidArgumentError(
          absl::StrCat("sweep point ", job.index, ": ", e.what()));
      return;
    }
  }
}

class TrainKind final : public ExperimentKind {
 public:
  absl::string_view name() const override { return "train"; }
  bool supports_search() const override { return true; }
  bool has_section() const override { return false; }
  bool CsvIsTables() const override { return false; }

  absl::StatusOr<std::vector<PlannedJob>> Plan(
      const ExperimentSpec& spec) const override {
    return PlanPoints(spec, SweepPoints(spec), 0);
  }

  absl::StatusOr<std::vector<PlannedJob>> PlanPoints(
      const ExperimentSpec& spec, std::vector<Json> points,
      int first_index) const override {
    std::vector<PlannedJob> jobs;
    for (Json& point : points) {
      PlannedJob job;
      job.index = first_index + static_cast<int>(jobs.size());
      job.params = std::move(point);
      job.resources = spec.resources;
      jobs.push_back(std::move(job));
    }
    // Validating each point is the bulk of accepting a big sweep: points are
    // independent, so large sweeps use every core. The first failing point by
    // index is reported, as in a serial pass.
    std::vector<absl::Status> errors(jobs.size());
    const size_t threads =
        jobs.size() < 512
            ? 1
            : std::clamp<size_t>(std::thread::hardware_concurrency(), 1, 8);
    const size_t chunk = (jobs.size() + threads - 1) / threads;
    std::vector<std::thread> pool;
    for (size_t begin = 0; begin < jobs.size(); begin += chunk) {
      const size_t end = std::min(jobs.size(), begin + chunk);
      if (threads == 1) {
        ResolveChunk(spec, begin, end, &jobs, &errors);
      } else {
        pool.emplace_back(ResolveChunk, std::cref(spec), begin, end, &jobs,
                          &errors);
      }
    }
    for (std::thread& th : pool) th.join();
    for (const absl::Status& st : errors) RETURN_IF_ERROR(st);
    return jobs;
  }

  std::vector<ReportTable> Tables(
      const ExperimentSpec& spec,
      const std::vector<JobView>& jobs) const override {
    std::map<std::string, std::vector<double>> groups;
    for (const JobView& j : jobs) {
      const double acc = TrialSummary::Of(j.summary).test_accuracy;
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
};

}  // namespace

std::unique_ptr<ExperimentKind> NewTrainKind() {
  return std::make_unique<TrainKind>();
}

}  // namespace ladle
