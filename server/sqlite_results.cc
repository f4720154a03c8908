#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "server/sqlite_schema.h"

namespace ladle {

absl::StatusOr<Store::ExperimentResultsData> ReadResults(
    sqlite3* db, const std::string& experiment_id,
    const Store::MetricsQuery& metrics) {
  Store::ExperimentResultsData out;
  constexpr char kOfExperiment[] =
      " IN (SELECT id FROM jobs WHERE experiment_id = ?)";
  {
    Stmt s(db, absl::StrCat("SELECT ", kJobColumns, kJobsOfExperiment).c_str());
    s.Bind(1, experiment_id);
    while (true) {
      ASSIGN_OR_RETURN(bool row, s.Next());
      if (!row) break;
      out.jobs.push_back(ReadJob(s));
    }
  }
  {
    Stmt s(db, absl::StrCat("SELECT ", kAttemptColumns,
                            " FROM attempts WHERE job_id", kOfExperiment,
                            " ORDER BY job_id, id")
                   .c_str());
    s.Bind(1, experiment_id);
    while (true) {
      ASSIGN_OR_RETURN(bool row, s.Next());
      if (!row) break;
      out.attempts.push_back(ReadAttempt(s));
    }
  }
  {
    Stmt s(db, absl::StrCat("SELECT job_id, name, sha256, size FROM "
                            "artifacts WHERE job_id",
                            kOfExperiment, " ORDER BY job_id, name")
                   .c_str());
    s.Bind(1, experiment_id);
    while (true) {
      ASSIGN_OR_RETURN(bool row, s.Next());
      if (!row) break;
      out.artifacts.push_back({s.Text(0), s.Text(1), s.Text(2), s.Int(3)});
    }
  }
  if (metrics.include) {
    std::string names;
    for (size_t i = 0; i < metrics.names.size(); ++i)
      absl::StrAppend(&names, i ? ", ?" : "?");
    Stmt s(db, absl::StrCat(
                   "SELECT job_id, attempt_id, step, name, value, "
                   "time_ms FROM metrics WHERE job_id",
                   kOfExperiment, names.empty() ? "" : " AND name IN (", names,
                   names.empty() ? "" : ")", " ORDER BY job_id, name, step")
                   .c_str());
    s.Bind(1, experiment_id);
    for (size_t i = 0; i < metrics.names.size(); ++i)
      s.Bind(static_cast<int>(i) + 2, metrics.names[i]);
    while (true) {
      ASSIGN_OR_RETURN(bool row, s.Next());
      if (!row) break;
      out.metrics.push_back(
          {s.Text(0), s.Int(1), s.Int(2), s.Text(3), s.Real(4), s.Int(5)});
    }
    out.metrics =
        ThinSeries(std::move(out.metrics), metrics.max_points_per_series);
  }
  return out;
}

}  // namespace ladle
