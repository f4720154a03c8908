#include <algorithm>
#include <memory>
#include <optional>
#include <set>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "server/sqlite_schema.h"

namespace ladle {
namespace {

constexpr char kOfExperiment[] =
    " IN (SELECT id FROM jobs WHERE experiment_id = ?)";

// "SELECT <columns> FROM metrics WHERE job_id IN (<the experiment's jobs>)
// [AND name IN (...)] ORDER BY job_id, name, step", bound.
std::unique_ptr<Stmt> MetricsOfExperiment(
    sqlite3* db, const char* columns, const std::string& experiment_id,
    const std::vector<std::string>& names) {
  std::string in;
  for (size_t i = 0; i < names.size(); ++i)
    absl::StrAppend(&in, i ? ", ?" : "?");
  auto s = std::make_unique<Stmt>(
      db, absl::StrCat("SELECT ", columns, " FROM metrics WHERE job_id",
                       kOfExperiment, in.empty() ? "" : " AND name IN (", in,
                       in.empty() ? "" : ")", " ORDER BY job_id, name, step")
              .c_str());
  s->Bind(1, experiment_id);
  for (size_t i = 0; i < names.size(); ++i)
    s->Bind(static_cast<int>(i) + 2, names[i]);
  return s;
}

MetricPoint ReadPoint(const Stmt& s) {
  return {s.Text(0), s.Int(1), s.Int(2), s.Text(3), s.Real(4), s.Int(5)};
}

constexpr char kPointColumns[] =
    "job_id, attempt_id, step, name, value, time_ms";

absl::Status ReadAllMetrics(sqlite3* db, const std::string& experiment_id,
                            const Store::MetricsQuery& q,
                            Store::ExperimentResultsData* out) {
  auto s = MetricsOfExperiment(db, kPointColumns, experiment_id, q.names);
  while (true) {
    ASSIGN_OR_RETURN(bool row, s->Next());
    if (!row) return absl::OkStatus();
    out->metrics.push_back(ReadPoint(*s));
  }
}

// ThinSeries' points, found by seeking the index (job_id, name, step): a
// series of many points costs a few seeks per point kept, not a read of every
// point (a 1,000-job sweep's curves, thinned for a page, read 10x faster).
class SeriesThinner {
 public:
  SeriesThinner(sqlite3* db, int max_points)
      : max_points_(max_points),
        head_(db, absl::StrCat("SELECT step, rowid FROM metrics WHERE job_id "
                               "= ? AND name = ? ORDER BY step, rowid LIMIT ",
                               max_points + 1)
                      .c_str()),
        last_(db,
              "SELECT step FROM metrics WHERE job_id = ? AND name = ? "
              "ORDER BY step DESC LIMIT 1"),
        from_step_(db,
                   "SELECT step, rowid FROM metrics WHERE job_id = ? AND "
                   "name = ? AND step >= ? ORDER BY step, rowid LIMIT 1"),
        same_step_(db,
                   "SELECT step, rowid FROM metrics WHERE job_id = ? AND "
                   "name = ? AND step = ? AND rowid > ? ORDER BY rowid "
                   "LIMIT 1"),
        row_(db, absl::StrCat("SELECT ", kPointColumns,
                              " FROM metrics WHERE rowid = ?")
                     .c_str()) {}

  // Appends the kept points of (job, name) to `out`.
  absl::Status Add(const std::string& job, const std::string& name,
                   std::vector<MetricPoint>* out) {
    std::vector<std::pair<int64_t, int64_t>> head;  // (step, rowid)
    RETURN_IF_ERROR(Rows(head_, job, name, &head));
    if (head.size() <= static_cast<size_t>(max_points_)) return Read(head, out);
    std::vector<std::pair<int64_t, int64_t>> last;
    RETURN_IF_ERROR(Rows(last_, job, name, &last));
    const int slots = std::max(max_points_ - 1, 1);
    std::vector<std::pair<int64_t, int64_t>> keep = {head.front()};
    for (int k = 1; k <= slots; ++k) {
      const int64_t target =
          ThinTarget(head.front().first, last.front().first, k, slots);
      std::optional<std::pair<int64_t, int64_t>> next;
      ASSIGN_OR_RETURN(next, After(job, name, keep.back(), target));
      if (!next) break;
      keep.push_back(*next);
    }
    return Read(keep, out);
  }

 private:
  // The first row after `prev` (in index order) with a step >= target.
  absl::StatusOr<std::optional<std::pair<int64_t, int64_t>>> After(
      const std::string& job, const std::string& name,
      std::pair<int64_t, int64_t> prev, int64_t target) {
    std::vector<std::pair<int64_t, int64_t>> found;
    if (target <= prev.first) {  // a later row of the same step, if any
      same_step_.Bind(3, prev.first).Bind(4, prev.second);
      RETURN_IF_ERROR(Rows(same_step_, job, name, &found));
      if (!found.empty()) return found.front();
      if (prev.first == INT64_MAX) return std::nullopt;
      target = prev.first + 1;
    }
    from_step_.Bind(3, target);
    RETURN_IF_ERROR(Rows(from_step_, job, name, &found));
    if (found.empty()) return std::nullopt;
    return found.front();
  }

  // Runs `s` for (job, name): (column 0, column 1) of each row.
  static absl::Status Rows(Stmt& s, const std::string& job,
                           const std::string& name,
                           std::vector<std::pair<int64_t, int64_t>>* out) {
    s.Bind(1, job).Bind(2, name);
    absl::Status st;
    while (true) {
      absl::StatusOr<bool> row = s.Next();
      if (!row.ok() || !*row) {
        st = row.status();
        break;
      }
      out->emplace_back(s.Int(0), s.Int(1));
    }
    s.Reset();
    return st;
  }

  absl::Status Read(const std::vector<std::pair<int64_t, int64_t>>& rows,
                    std::vector<MetricPoint>* out) {
    for (const auto& [step, rowid] : rows) {
      row_.Bind(1, rowid);
      absl::StatusOr<bool> row = row_.Next();
      if (row.ok() && *row) out->push_back(ReadPoint(row_));
      row_.Reset();
      RETURN_IF_ERROR(row.status());
    }
    return absl::OkStatus();
  }

  const int max_points_;
  Stmt head_, last_, from_step_, same_step_, row_;
};

// The distinct series names of `jobs`, by seeking the index from one name to
// the next in each job (a few seeks a job, whatever its number of points).
absl::StatusOr<std::vector<std::string>> ReadMetricNames(
    sqlite3* db, const std::vector<std::string>& job_ids) {
  std::set<std::string> names;
  Stmt s(db,
         "SELECT name FROM metrics WHERE job_id = ? AND name > ? "
         "ORDER BY name LIMIT 1");
  for (const std::string& id : job_ids) {
    std::string after;
    while (true) {
      s.Bind(1, id).Bind(2, after);
      ASSIGN_OR_RETURN(bool row, s.Next());
      if (row) after = s.Text(0);
      s.Reset();
      if (!row) break;
      names.insert(after);
    }
  }
  return std::vector<std::string>(names.begin(), names.end());
}

// Thinned series of the experiment's jobs, by job id, name and step.
absl::Status ReadThinnedMetrics(sqlite3* db, const Store::MetricsQuery& q,
                                Store::ExperimentResultsData* out) {
  std::vector<std::string> ids;
  for (const JobRecord& j : out->jobs) ids.push_back(j.id);
  std::sort(ids.begin(), ids.end());
  std::vector<std::string> wanted = q.names;
  std::sort(wanted.begin(), wanted.end());
  SeriesThinner thinner(db, q.max_points_per_series);
  for (const std::string& id : ids) {
    ASSIGN_OR_RETURN(std::vector<std::string> names, ReadMetricNames(db, {id}));
    for (const std::string& name : names) {
      if (!wanted.empty() &&
          !std::binary_search(wanted.begin(), wanted.end(), name))
        continue;
      RETURN_IF_ERROR(thinner.Add(id, name, &out->metrics));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<Store::ExperimentResultsData> ReadResults(
    sqlite3* db, const std::string& experiment_id,
    const Store::MetricsQuery& metrics) {
  Store::ExperimentResultsData out;
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
    RETURN_IF_ERROR(metrics.max_points_per_series > 0
                        ? ReadThinnedMetrics(db, metrics, &out)
                        : ReadAllMetrics(db, experiment_id, metrics, &out));
  }
  if (metrics.list_names) {
    std::vector<std::string> ids;
    for (const JobRecord& j : out.jobs) ids.push_back(j.id);
    ASSIGN_OR_RETURN(out.metric_names, ReadMetricNames(db, ids));
  }
  return out;
}

}  // namespace ladle
