// ladle results | plot | report | download | logs.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "client/commands.h"
#include "client/output.h"
#include "common/artifact_name.h"
#include "proto/api_util.h"
#include "report/html_report.h"
#include "spec/kind.h"

namespace ladle {
namespace {

// GetResults of one experiment; `metrics`: the series to include (none: no
// metrics), `max_points`: per series (0: all).
grpc::Status GetResults(Connection& c, const std::string& id,
                        const std::vector<std::string>& metrics,
                        bool all_metrics, int max_points,
                        v1::ExperimentResults* res) {
  v1::GetResultsRequest req;
  req.set_experiment_id(id);
  req.set_include_metrics(all_metrics || !metrics.empty());
  for (const std::string& name : metrics) req.add_metric_names(name);
  if (max_points > 0) req.set_max_points_per_series(max_points);
  return c.Call([&](grpc::ClientContext* ctx) {
    return c.stub().GetResults(ctx, req, res);
  });
}

int PrintResults(Connection& c, const std::string& id,
                 const std::string& format) {
  v1::ExperimentResults res;
  grpc::Status st = GetResults(c, id, {}, false, 0, &res);
  if (!st.ok()) return c.Fail(st);
  const ExperimentKind& kind = KindOrTrain(res.experiment().kind());
  if (!kind.TableMetrics().empty()) {
    // Tables that read curves (fusion: time to target) fetch them; others
    // need only the summaries, so big sweeps stay one small read.
    st = GetResults(c, id, kind.TableMetrics(), false, 0, &res);
    if (!st.ok()) return c.Fail(st);
  }
  const ExperimentSpec spec =
      SpecForTables(res.experiment().spec(), res.experiment().kind());
  const std::vector<ReportTable> tables =
      ExperimentTables(kind, spec, JobViews(res));
  if (format == "json") {
    std::cout << ResultsJson(res, ReportToJson(tables)).dump(2) << "\n";
    return 0;
  }
  const bool csv = format == "csv";
  if (csv && kind.CsvIsTables()) {
    // Kinds with their own table: that table is the CSV.
    for (const ReportTable& t : tables) PrintCsv(t);
    return 0;
  }
  if (!kind.HasJobTable()) PrintJobList(res, csv);
  if (csv) return 0;
  for (const ReportTable& t : tables) PrintTable(t);
  return 0;
}

// Writes `svg` to `out` (.svg), or converts it with rsvg-convert (.png).
int WriteChart(const std::string& svg, const std::string& out) {
  const bool png = absl::EndsWith(out, ".png") && out.size() > 4;
  const bool svg_out = absl::EndsWith(out, ".svg") && out.size() > 4;
  if (!png && !svg_out) {
    std::cerr << "ladle: -o: name the file .svg or .png\n";
    return 2;
  }
  const std::string svg_path = png ? out + ".tmp.svg" : out;
  std::ofstream(svg_path) << svg;
  if (png) {
    const std::string cmd = absl::StrCat("rsvg-convert -f png -o '", out, "' '",
                                         svg_path, "' 2>&1");
    const int rc = std::system(cmd.c_str());
    std::remove(svg_path.c_str());
    if (rc != 0) {
      std::cerr << "ladle: PNG needs rsvg-convert (apt-get install "
                   "librsvg2-bin); or write .svg\n";
      return 1;
    }
  }
  std::cerr << "wrote " << out << "\n";
  return 0;
}

}  // namespace

Command AddResults(CLI::App& app) {
  auto* cmd = app.add_subcommand("results", "per-job results");
  struct Args {
    std::string id, format = "table";
  };
  auto a = std::make_shared<Args>();
  cmd->add_option("id", a->id)->required();
  cmd->add_option("--format", a->format, "table, csv or json")
      ->check(CLI::IsMember({"table", "csv", "json"}));
  return {cmd, [a](Cli& cli) {
            Connection* c = cli.Connect();
            return c == nullptr ? 2 : PrintResults(*c, a->id, a->format);
          }};
}

Command AddPlot(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "plot",
      "draw a metric of an experiment's jobs (SVG, or PNG via rsvg-convert)");
  struct Args {
    std::string id, out;
    CurveOptions curve;
    bool per_job = false;
    bool search = false;
  };
  auto a = std::make_shared<Args>();
  cmd->add_option("id", a->id)->required();
  cmd->add_option("--metric", a->curve.metric,
                  "a metrics.jsonl key: val_accuracy, train_loss, ...");
  cmd->add_option("--x", a->curve.x, "step, epoch or seconds")
      ->check(CLI::IsMember({"step", "epoch", "seconds"}));
  cmd->add_flag("--per_job", a->per_job,
                "one line per job instead of mean ± std per configuration");
  cmd->add_flag("--search", a->search,
                "a search: one line per trial through its segments, marked "
                "promoted or stopped at rung r");
  cmd->add_option("-o,--output", a->out, "FILE.svg or FILE.png")->required();
  return {cmd, [a](Cli& cli) {
            Connection* c = cli.Connect();
            if (c == nullptr) return 2;
            v1::ExperimentResults res;
            // The metric and what the x axis may need; a chart needs no more
            // points than it has pixels across.
            grpc::Status st = GetResults(
                *c, a->id, {a->curve.metric, "epoch", "elapsed_seconds"}, true,
                2000, &res);
            if (!st.ok()) return c->Fail(st);
            a->curve.by_config = !a->per_job;
            absl::StatusOr<LineChart> chart =
                a->search ? SearchChart(JobViews(res), a->curve)
                          : MetricChart(JobViews(res), a->curve);
            if (!chart.ok()) {
              std::cerr << "ladle: " << chart.status().message() << "\n";
              return 1;
            }
            chart->title =
                absl::StrCat(res.experiment().name(), ": ", a->curve.metric);
            return WriteChart(RenderSvg(*chart, 900, 500), a->out);
          }};
}

Command AddReport(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "report", "write a self-contained HTML report of an experiment");
  struct Args {
    std::string id, out;
  };
  auto a = std::make_shared<Args>();
  cmd->add_option("id", a->id)->required();
  cmd->add_option("-o,--output", a->out, "FILE.html")->required();
  return {cmd, [a](Cli& cli) {
            Connection* c = cli.Connect();
            if (c == nullptr) return 2;
            v1::ExperimentResults res;
            grpc::Status st = GetResults(*c, a->id, {}, true, 2000, &res);
            if (!st.ok()) return c->Fail(st);
            const v1::Experiment& e = res.experiment();
            ExperimentInfo info{e.id(), e.name(), e.kind(),
                                ApiStateName(e.state()), e.spec()};
            std::ofstream out(a->out);
            out << RenderHtmlReport(info, JobViews(res));
            if (!out) {
              std::cerr << "ladle: cannot write " << a->out << "\n";
              return 1;
            }
            std::cerr << "wrote " << a->out << "\n";
            return 0;
          }};
}

namespace {

// One artifact of `job` into `path` (its directories created); false after
// saying why.
bool DownloadOne(Connection& c, const std::string& job, const std::string& name,
                 const std::string& path) {
  v1::DownloadArtifactRequest req;
  req.set_job_id(job);
  req.set_name(name);
  std::error_code ec;
  const std::filesystem::path parent =
      std::filesystem::path(path).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent, ec);
  absl::StatusOr<v1::ArtifactHeader> header;
  // A transfer a restart broke starts over (the file is rewritten).
  grpc::Status st = c.Follow([&](grpc::ClientContext* ctx, bool* resumable) {
    auto reader = c.stub().DownloadArtifact(ctx, req);
    header = ReadChunksToFile(reader.get(), path);
    *resumable = true;
    return reader->Finish();
  });
  if (!st.ok()) {
    std::remove(path.c_str());
    c.Fail(st);
    return false;
  }
  if (!header.ok()) {
    std::cerr << "ladle: " << path << ": " << header.status().message() << "\n";
    return false;
  }
  std::cerr << "wrote " << path << " (" << header->size_bytes()
            << " bytes, sha256 " << header->sha256() << ", verified)\n";
  return true;
}

// Every artifact of `job` under `dir`, by name (names are relative paths).
int DownloadAll(Connection& c, const std::string& job, const std::string& dir) {
  const size_t dash = job.rfind('-');
  v1::ExperimentResults res;
  grpc::Status st =
      GetResults(c, dash == std::string::npos ? job : job.substr(0, dash), {},
                 false, 0, &res);
  if (!st.ok()) return c.Fail(st);
  for (const v1::JobResult& r : res.jobs()) {
    if (r.job().id() != job) continue;
    if (r.artifacts().empty()) {
      std::cerr << "ladle: job " << job << " has no outputs (yet)\n";
      return 1;
    }
    for (const v1::ArtifactInfo& a : r.artifacts()) {
      if (!IsValidArtifactName(a.name())) {
        std::cerr << "ladle: skipped an artifact named '" << a.name() << "'\n";
        continue;
      }
      if (!DownloadOne(c, job, a.name(), dir + "/" + a.name())) return 1;
    }
    return 0;
  }
  std::cerr << "ladle: no job " << job << "\n";
  return 1;
}

}  // namespace

Command AddDownload(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "download", "save a job's output files (artifacts): one, or all of them");
  struct Args {
    std::string job, name, out;
  };
  auto a = std::make_shared<Args>();
  cmd->add_option("job", a->job, "job id")->required();
  cmd->add_option("name", a->name,
                  "e.g. model.safetensors, summary.json, out/model.pt (none: "
                  "every output, into -o DIR)");
  cmd->add_option("-o,--output", a->out,
                  "file to write (default: the name); without a name, the "
                  "directory (default: the job id)");
  return {cmd, [a](Cli& cli) {
            Connection* c = cli.Connect();
            if (c == nullptr) return 2;
            if (a->name.empty())
              return DownloadAll(*c, a->job, a->out.empty() ? a->job : a->out);
            return DownloadOne(*c, a->job, a->name,
                               a->out.empty() ? a->name : a->out)
                       ? 0
                       : 1;
          }};
}

namespace {

// Streams a job's logs to stdout/stderr. Following, a stream that a
// coordinator restart breaks is opened again once it is back; the server
// sends each attempt's streams from their start, so what was printed is
// skipped (counted per attempt and stream).
int PrintLogs(Connection& c, const std::string& job, bool follow) {
  std::map<std::pair<int64_t, std::string>, int64_t> printed;
  int64_t attempt = 0;
  grpc::Status st = c.Follow([&](grpc::ClientContext* ctx, bool* resumable) {
    v1::GetLogsRequest req;
    req.set_job_id(job);
    req.set_follow(follow);
    auto reader = c.stub().GetLogs(ctx, req);
    std::map<std::pair<int64_t, std::string>, int64_t> seen;
    v1::LogChunk chunk;
    while (reader->Read(&chunk)) {
      *resumable = follow;
      const auto key = std::make_pair(chunk.attempt_id(), chunk.stream());
      const int64_t from = seen[key], size = chunk.data().size();
      seen[key] += size;
      int64_t& done = printed[key];
      if (from + size <= done) continue;  // printed before the restart
      const int64_t skip = std::max<int64_t>(0, done - from);
      done = from + size;
      if (chunk.attempt_id() != attempt) {
        attempt = chunk.attempt_id();
        std::cerr << "--- attempt " << attempt << "\n";
      }
      (chunk.stream() == "stderr" ? std::cerr : std::cout)
          << chunk.data().substr(skip) << std::flush;
    }
    return reader->Finish();
  });
  return st.ok() ? 0 : c.Fail(st);
}

}  // namespace

Command AddLogs(CLI::App& app) {
  auto* cmd =
      app.add_subcommand("logs", "a job's stdout/stderr (all attempts)");
  struct Args {
    std::string job;
    bool follow = false;
  };
  auto a = std::make_shared<Args>();
  cmd->add_option("job", a->job, "job id")->required();
  cmd->add_flag("-f,--follow", a->follow, "keep printing until the job ends");
  return {cmd, [a](Cli& cli) {
            Connection* c = cli.Connect();
            return c == nullptr ? 2 : PrintLogs(*c, a->job, a->follow);
          }};
}

}  // namespace ladle
