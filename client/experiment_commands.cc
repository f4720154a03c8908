// ladle submit | list | show | watch | cancel | workers | validate.
#include <fstream>
#include <iostream>
#include <map>
#include <random>
#include <sstream>

#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "client/code_upload.h"
#include "client/commands.h"
#include "client/output.h"
#include "proto/api_util.h"
#include "search/search_run.h"
#include "spec/command_job.h"
#include "spec/experiment.h"
#include "spec/kind.h"

namespace ladle {
namespace {

// The spec file's text; false (after saying so) when it cannot be read.
bool ReadSpec(const std::string& path, std::string* text) {
  std::ifstream in(path);
  if (!in) {
    std::cerr << "ladle: cannot read " << path << "\n";
    return false;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  *text = ss.str();
  return true;
}

// 128 random bits as hex: this submit's request id, the same for its retries.
std::string NewRequestId() {
  std::random_device rd;
  std::string id;
  for (int i = 0; i < 4; ++i) id += absl::StrFormat("%08x", rd());
  return id;
}

// One watch event, as a line on stderr.
// Metric points: ladle-train's val_accuracy with the best so far; for users'
// programs (kind command), every metric they report.
void PrintEvent(const std::string& id, const v1::ExperimentEvent& ev,
                std::map<std::string, double>* best_acc, bool* all_metrics) {
  if (ev.has_snapshot()) *all_metrics = ev.snapshot().kind() == "command";
  if (ev.has_metric() && *all_metrics) {
    const v1::MetricPoint& m = ev.metric();
    std::cerr << "  " << m.job_id() << " step " << m.step() << " " << m.name()
              << " " << absl::StrFormat("%.6g", m.value()) << "\n";
    return;
  }
  if (ev.has_snapshot()) {
    std::cerr << id << " (" << ev.snapshot().name()
              << "): " << ApiStateName(ev.snapshot().state()) << ", "
              << Counts(ev.snapshot().job_counts()) << "\n";
  } else if (ev.has_job()) {
    const v1::Job& j = ev.job();
    std::cerr << "  " << j.id() << " " << ApiStateName(j.state());
    if (!j.worker_id().empty() && j.state() == v1::JOB_STATE_RUNNING) {
      std::cerr << " on " << j.worker_id() << " (attempt " << j.attempts()
                << ")";
    }
    if (!j.reason().empty()) std::cerr << ": " << j.reason();
    std::cerr << "\n";
  } else if (ev.has_metric() && ev.metric().name() == "val_accuracy") {
    const v1::MetricPoint& m = ev.metric();
    double& best = (*best_acc)[m.job_id()];
    best = std::max(best, m.value());
    std::cerr << "  " << m.job_id() << " step " << m.step() << " val_accuracy "
              << absl::StrFormat("%.4f", m.value()) << " (best "
              << absl::StrFormat("%.4f", best) << ")\n";
  } else if (ev.has_finished()) {
    std::cerr << id << " " << ApiStateName(ev.finished().state())
              << (ev.finished().message().empty()
                      ? ""
                      : ": " + ev.finished().message())
              << "\n";
  }
}

// Streams the experiment's changes to stderr; returns 0 iff it succeeded. A
// stream the coordinator's restart broke is opened again (it starts with a
// snapshot), waiting for the coordinator as every call does.
int Watch(Connection& c, const std::string& id) {
  std::map<std::string, double> best_acc;
  bool all_metrics = false;
  v1::ExperimentState final_state = v1::EXPERIMENT_STATE_UNSPECIFIED;
  grpc::Status st = c.Follow([&](grpc::ClientContext* ctx, bool* resumable) {
    v1::WatchExperimentRequest req;
    req.set_experiment_id(id);
    req.set_include_metrics(true);
    auto reader = c.stub().WatchExperiment(ctx, req);
    v1::ExperimentEvent ev;
    while (reader->Read(&ev)) {
      *resumable = true;
      PrintEvent(id, ev, &best_acc, &all_metrics);
      if (ev.has_finished()) final_state = ev.finished().state();
    }
    *resumable &= final_state == v1::EXPERIMENT_STATE_UNSPECIFIED;
    return reader->Finish();
  });
  if (!st.ok()) return c.Fail(st);
  return final_state == v1::EXPERIMENT_STATE_SUCCEEDED ? 0 : 1;
}

}  // namespace

Command AddSubmit(CLI::App& app) {
  auto* cmd =
      app.add_subcommand("submit", "submit an experiment spec; prints its id");
  struct Args {
    std::string file, request_id;
    bool wait = false;
  };
  auto a = std::make_shared<Args>();
  cmd->add_option("file", a->file, "experiment spec (YAML)")->required();
  cmd->add_flag("--wait", a->wait,
                "watch until it ends; exit 0 iff it succeeded");
  cmd->add_option("--request_id", a->request_id,
                  "make the submit idempotent under this id (default: a "
                  "random one, reused when the submit is retried)");
  return {
      cmd, [a](Cli& cli) {
        std::string spec;
        if (!ReadSpec(a->file, &spec)) return 2;
        Connection* c = cli.Connect();
        if (c == nullptr) return 2;
        absl::StatusOr<std::string> code = UploadSpecCode(*c, a->file, spec);
        if (!code.ok()) {
          std::cerr << "ladle: " << a->file << ": " << code.status().message()
                    << "\n";
          return code.status().code() == absl::StatusCode::kInvalidArgument ? 2
                                                                            : 1;
        }
        v1::SubmitExperimentRequest req;
        req.set_spec(spec);
        req.set_code_sha256(*code);
        req.set_request_id(a->request_id.empty() ? NewRequestId()
                                                 : a->request_id);
        v1::SubmitExperimentResponse resp;
        grpc::Status st = c->Call([&](grpc::ClientContext* ctx) {
          return c->stub().SubmitExperiment(ctx, req, &resp);
        });
        if (!st.ok()) {
          return c->Fail(grpc::Status(st.error_code(),
                                      a->file + ": " + st.error_message()));
        }
        std::cout << resp.experiment_id() << std::endl;
        std::cerr << "submitted " << resp.experiment_id() << " with "
                  << resp.job_count() << " jobs\n";
        return a->wait ? Watch(*c, resp.experiment_id()) : 0;
      }};
}

Command AddList(CLI::App& app) {
  auto* cmd = app.add_subcommand("list", "list experiments, newest first");
  return {cmd, [](Cli& cli) {
            Connection* c = cli.Connect();
            if (c == nullptr) return 2;
            v1::ListExperimentsResponse resp;
            grpc::Status st = c->Call([&](grpc::ClientContext* ctx) {
              return c->stub().ListExperiments(
                  ctx, v1::ListExperimentsRequest(), &resp);
            });
            if (!st.ok()) return c->Fail(st);
            for (const auto& e : resp.experiments()) {
              std::cout << absl::StrFormat("%-24s %-20s %-10s %s\n", e.id(),
                                           e.name(), ApiStateName(e.state()),
                                           Counts(e.job_counts()));
            }
            return 0;
          }};
}

Command AddShow(CLI::App& app) {
  auto* cmd = app.add_subcommand("show", "show one experiment");
  auto id = std::make_shared<std::string>();
  cmd->add_option("id", *id)->required();
  return {cmd, [id](Cli& cli) {
            Connection* c = cli.Connect();
            if (c == nullptr) return 2;
            v1::GetExperimentRequest req;
            req.set_experiment_id(*id);
            v1::Experiment e;
            grpc::Status st = c->Call([&](grpc::ClientContext* ctx) {
              return c->stub().GetExperiment(ctx, req, &e);
            });
            if (!st.ok()) return c->Fail(st);
            std::cout << e.id() << "  " << e.name() << "  " << e.kind() << "  "
                      << ApiStateName(e.state()) << "\n"
                      << Counts(e.job_counts()) << "\n";
            if (!e.message().empty()) std::cout << e.message() << "\n";
            if (!e.code_sha256().empty())
              std::cout << "code sha256 " << e.code_sha256() << "\n";
            if (!e.rerun_of().empty())
              std::cout << "rerun of " << e.rerun_of() << "\n";
            std::cout << "--- spec ---\n" << e.spec();
            return 0;
          }};
}

Command AddWatch(CLI::App& app) {
  auto* cmd = app.add_subcommand("watch", "follow an experiment until it ends");
  auto id = std::make_shared<std::string>();
  cmd->add_option("id", *id)->required();
  return {cmd, [id](Cli& cli) {
            Connection* c = cli.Connect();
            return c == nullptr ? 2 : Watch(*c, *id);
          }};
}

namespace {

// A subcommand that calls `rpc` (CancelExperiment, CloseExperiment: a request
// with experiment_id, an Experiment back) and prints the experiment's state.
template <typename Request>
Command ExperimentCall(CLI::App& app, const char* name, const char* help,
                       grpc::Status (v1::ExperimentService::Stub::*rpc)(
                           grpc::ClientContext*, const Request&,
                           v1::Experiment*)) {
  auto* cmd = app.add_subcommand(name, help);
  auto id = std::make_shared<std::string>();
  cmd->add_option("id", *id)->required();
  return {cmd, [id, rpc](Cli& cli) {
            Connection* c = cli.Connect();
            if (c == nullptr) return 2;
            Request req;
            req.set_experiment_id(*id);
            v1::Experiment e;
            grpc::Status st = c->Call([&](grpc::ClientContext* ctx) {
              return (c->stub().*rpc)(ctx, req, &e);
            });
            if (!st.ok()) return c->Fail(st);
            std::cout << e.id() << " " << ApiStateName(e.state()) << " ("
                      << Counts(e.job_counts()) << ")\n";
            return 0;
          }};
}

}  // namespace

Command AddCancel(CLI::App& app) {
  return ExperimentCall(app, "cancel", "cancel an experiment",
                        &v1::ExperimentService::Stub::CancelExperiment);
}

Command AddClose(CLI::App& app) {
  return ExperimentCall(
      app, "close",
      "a search starts no more trials (an external one takes no more); it "
      "ends once its running trials have",
      &v1::ExperimentService::Stub::CloseExperiment);
}

Command AddRerun(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "rerun",
      "submit an experiment again (same spec, code and params) as a new one; "
      "prints its id");
  struct Args {
    std::string id;
    bool failed = false, wait = false;
  };
  auto a = std::make_shared<Args>();
  cmd->add_option("id", a->id, "the experiment to rerun")->required();
  cmd->add_flag("--failed", a->failed,
                "only its jobs that failed or were cancelled");
  cmd->add_flag("--wait", a->wait,
                "watch until it ends; exit 0 iff it succeeded");
  return {cmd, [a](Cli& cli) {
            Connection* c = cli.Connect();
            if (c == nullptr) return 2;
            v1::RerunExperimentRequest req;
            req.set_experiment_id(a->id);
            req.set_failed_only(a->failed);
            req.set_request_id(NewRequestId());
            v1::SubmitExperimentResponse resp;
            grpc::Status st = c->Call([&](grpc::ClientContext* ctx) {
              return c->stub().RerunExperiment(ctx, req, &resp);
            });
            if (!st.ok()) return c->Fail(st);
            std::cout << resp.experiment_id() << std::endl;
            std::cerr << "submitted " << resp.experiment_id() << " with "
                      << resp.job_count() << " jobs, a rerun of " << a->id
                      << "\n";
            return a->wait ? Watch(*c, resp.experiment_id()) : 0;
          }};
}

Command AddWorkers(CLI::App& app) {
  auto* cmd = app.add_subcommand("workers", "list workers");
  return {cmd, [](Cli& cli) {
            Connection* c = cli.Connect();
            if (c == nullptr) return 2;
            v1::ListWorkersResponse resp;
            grpc::Status st = c->Call([&](grpc::ClientContext* ctx) {
              return c->stub().ListWorkers(ctx, v1::ListWorkersRequest(),
                                           &resp);
            });
            if (!st.ok()) return c->Fail(st);
            for (const auto& w : resp.workers()) {
              // Labels sorted by key (a proto map has no order).
              std::map<std::string, std::string> labels(w.labels().begin(),
                                                        w.labels().end());
              std::string shown;
              for (const auto& [k, v] : labels)
                absl::StrAppend(&shown, "  ", k, "=", v);
              std::cout << absl::StrFormat(
                  "%-14s %-16s %2d GPUs %3d CPU slots  %s%s\n", w.id(),
                  w.name(), w.gpus(), w.cpu_slots(), w.state(), shown);
            }
            return 0;
          }};
}

Command AddQueue(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "queue", "queued and running jobs by resource shape (an admin token)");
  return {
      cmd, [](Cli& cli) {
        Connection* c = cli.Connect();
        if (c == nullptr) return 2;
        v1::QueueSummary resp;
        grpc::Status st = c->Call([&](grpc::ClientContext* ctx) {
          return c->stub().GetQueueSummary(ctx, v1::GetQueueSummaryRequest(),
                                           &resp);
        });
        if (!st.ok()) return c->Fail(st);
        std::cout << absl::StrFormat("%-26s %7s %8s  %s\n", "shape (per rank)",
                                     "queued", "running", "waiting");
        for (const v1::ShapeDemand& d : resp.shapes()) {
          const v1::ResourceShape& s = d.shape();
          std::string shape =
              s.gpu_share_milli() > 0
                  ? absl::StrFormat("%.3g GPU", s.gpu_share_milli() / 1000.0)
                  : absl::StrFormat("%d GPUs", s.gpus());
          absl::StrAppend(&shape, ", ", s.cpu_slots(), " CPU");
          if (s.ranks() > 1)
            absl::StrAppend(&shape, " x ", s.ranks(), " ranks");
          const std::string waiting =
              d.oldest_queued_unix_ms() > 0
                  ? absl::StrFormat(
                        "%.0f s",
                        (resp.unix_ms() - d.oldest_queued_unix_ms()) / 1000.0)
                  : "";
          std::cout << absl::StrFormat("%-26s %7d %8d  %s\n", shape,
                                       d.queued_jobs(), d.running_jobs(),
                                       waiting);
        }
        return 0;
      }};
}

Command AddValidate(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "validate",
      "check an experiment spec offline and list the jobs it expands into");
  auto file = std::make_shared<std::string>();
  cmd->add_option("file", *file, "experiment spec (YAML)")->required();
  return {
      cmd, [file](Cli&) {
        std::string text;
        if (!ReadSpec(*file, &text)) return 2;
        auto fail = [&](const absl::Status& st) {
          std::cerr << "ladle: " << *file << ": " << st.message() << "\n";
          return 2;
        };
        auto spec = ParseExperimentSpec(text);
        if (!spec.ok()) return fail(spec.status());
        if (spec->has_search) {  // checked; its trials come later
          absl::Status planned = PlanExperiment(*spec).status();
          if (!planned.ok()) return fail(planned);
          const SearchSpec& s = spec->search;
          std::cout << spec->name << ": a search ("
                    << AlgorithmName(s.algorithm) << ") over " << s.space.size()
                    << " parameters, "
                    << (s.max_trials > 0
                            ? absl::StrCat("at most ", s.max_trials)
                            : std::string("open-ended"))
                    << " trials";
          if (!s.metric.empty())
            std::cout << ", " << (s.maximize ? "maximizing " : "minimizing ")
                      << s.metric;
          std::cout << "\n";
          // What it starts with (the rest follows from their results).
          auto run = SearchRun::Create(*spec);
          if (!run.ok()) return fail(run.status());
          auto first = (*run)->Start();
          if (!first.ok()) return fail(first.status());
          if (!first->empty())
            std::cout << "  first trials (the rest follow their results):\n";
          for (const SearchSegment& seg : *first)
            std::cout << "  " << seg.job.index << " trial " << seg.trial << " "
                      << seg.job.params.dump() << "\n";
          return 0;
        }
        auto jobs = PlanExperiment(*spec);
        if (!jobs.ok()) return fail(jobs.status());
        std::cout << spec->name << ": " << jobs->size() << " jobs";
        const Resources& r = spec->resources;
        std::cout << ", each "
                  << (r.gpu_share_milli > 0
                          ? absl::StrCat(r.gpu_share_milli / 1000.0, " GPU")
                          : absl::StrCat(r.gpus, " GPUs"))
                  << " and " << r.cpu_slots << " CPU slots";
        if (!jobs->empty() && jobs->front().resources.ranks > 1)
          std::cout << " per rank, " << jobs->front().resources.ranks
                    << " ranks";
        std::cout << "\n";
        for (const auto& j : *jobs) {
          std::cout << "  " << j.index << " " << j.params.dump();
          // A program's jobs: the command line each will run.
          if (j.kind == "command") {
            absl::StatusOr<CommandJob> c =
                CommandJobFromJson(nlohmann::json::parse(j.spec));
            if (c.ok()) std::cout << "  $ " << absl::StrJoin(c->argv, " ");
          }
          std::cout << "\n";
        }
        return 0;
      }};
}

}  // namespace ladle
