// ladle: the command-line client of ladle-server.
//
//   ladle submit FILE [--wait]     prints the new experiment's id alone on
//   stdout's first line ladle list | show ID | watch ID | cancel ID | results
//   ID [--format table|csv|json] | workers
//
// Address: --addr or LADLE_ADDR (default 127.0.0.1:7070). Errors go to stderr
// with a non-zero exit; `watch` (and `submit --wait`) exit 0 only when the
// experiment succeeded.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>

#include "CLI/CLI.hpp"
#include "absl/strings/str_format.h"
#include "grpcpp/grpcpp.h"
#include "ladle/v1/experiments.grpc.pb.h"
#include "nlohmann/json.hpp"
#include "proto/api_util.h"
#include "report/html_report.h"
#include "spec/experiment.h"
#include "spec/kind.h"
#include "spec/result_table.h"

extern char** environ;

namespace {

using ladle::v1::ExperimentService;
namespace v1 = ladle::v1;

// Bearer token from --token_file or LADLE_TOKEN; empty when the server runs
// without auth.
std::string g_token;
void Authorize(grpc::ClientContext* ctx) {
  if (!g_token.empty()) ctx->AddMetadata("authorization", "Bearer " + g_token);
}

struct Options {
  std::string addr;
  std::string file;
  std::string id;
  std::string format = "table";
  bool wait = false;
};

int Fail(const grpc::Status& st, const Options& o) {
  std::cerr << "ladle: " << st.error_message();
  if (st.error_code() == grpc::StatusCode::UNAVAILABLE) {
    std::cerr << " (is ladle-server running at " << o.addr
              << "? set --addr or LADLE_ADDR)";
  }
  std::cerr << "\n";
  return st.error_code() == grpc::StatusCode::INVALID_ARGUMENT ? 2 : 1;
}

std::string Counts(const v1::JobCounts& c) {
  return absl::StrFormat(
      "%d jobs: %d succeeded, %d running, %d queued, %d pending, %d failed, %d "
      "cancelled",
      c.total(), c.succeeded(), c.running(), c.queued(), c.pending(),
      c.failed(), c.cancelled());
}

// Streams the experiment's changes to stderr; returns 0 iff it succeeded.
int Watch(ExperimentService::Stub& stub, const Options& o,
          const std::string& id) {
  grpc::ClientContext ctx;
  Authorize(&ctx);
  v1::WatchExperimentRequest req;
  req.set_experiment_id(id);
  req.set_include_metrics(true);
  auto reader = stub.WatchExperiment(&ctx, req);
  v1::ExperimentEvent ev;
  std::map<std::string, double> best_acc;
  v1::ExperimentState final_state = v1::EXPERIMENT_STATE_UNSPECIFIED;
  while (reader->Read(&ev)) {
    if (ev.has_snapshot()) {
      std::cerr << id << " (" << ev.snapshot().name()
                << "): " << ladle::ApiStateName(ev.snapshot().state()) << ", "
                << Counts(ev.snapshot().job_counts()) << "\n";
    } else if (ev.has_job()) {
      const v1::Job& j = ev.job();
      std::cerr << "  " << j.id() << " " << ladle::ApiStateName(j.state());
      if (!j.worker_id().empty() && j.state() == v1::JOB_STATE_RUNNING) {
        std::cerr << " on " << j.worker_id() << " (attempt " << j.attempts()
                  << ")";
      }
      if (!j.reason().empty()) std::cerr << ": " << j.reason();
      std::cerr << "\n";
    } else if (ev.has_metric()) {
      const v1::MetricPoint& m = ev.metric();
      if (m.name() == "val_accuracy") {
        double& best = best_acc[m.job_id()];
        best = std::max(best, m.value());
        std::cerr << "  " << m.job_id() << " step " << m.step()
                  << " val_accuracy " << absl::StrFormat("%.4f", m.value())
                  << " (best " << absl::StrFormat("%.4f", best) << ")\n";
      }
    } else if (ev.has_finished()) {
      final_state = ev.finished().state();
      std::cerr << id << " " << ladle::ApiStateName(final_state)
                << (ev.finished().message().empty()
                        ? ""
                        : ": " + ev.finished().message())
                << "\n";
    }
  }
  grpc::Status st = reader->Finish();
  if (!st.ok()) return Fail(st, o);
  return final_state == v1::EXPERIMENT_STATE_SUCCEEDED ? 0 : 1;
}

std::vector<ladle::JobView> JobViews(const v1::ExperimentResults& res) {
  std::vector<ladle::JobView> views;
  for (const auto& r : res.jobs()) {
    ladle::JobView v;
    v.id = r.job().id();
    v.state = ladle::ApiStateName(r.job().state());
    v.params = nlohmann::json::parse(r.job().params_json(), nullptr, false);
    if (!r.job().summary_json().empty())
      v.summary = nlohmann::json::parse(r.job().summary_json(), nullptr, false);
    for (const auto& m : r.metrics()) {
      v.metrics.push_back({m.job_id(), m.attempt_id(), m.step(), m.name(),
                           m.value(), m.unix_ms()});
    }
    views.push_back(std::move(v));
  }
  return views;
}

void PrintTable(const ladle::ReportTable& t) {
  std::vector<size_t> width(t.columns.size(), 0);
  auto cells = [](const std::string& s) {  // display width: count code points
    size_t n = 0;
    for (unsigned char c : s) n += (c & 0xC0) != 0x80;
    return n;
  };
  for (size_t c = 0; c < t.columns.size(); ++c) {
    width[c] = cells(t.columns[c]);
    for (const auto& row : t.rows)
      if (c < row.size()) width[c] = std::max(width[c], cells(row[c]));
  }
  auto line = [&](const std::vector<std::string>& row) {
    std::string out;
    for (size_t c = 0; c < row.size() && c < width.size(); ++c) {
      out += row[c];
      if (c + 1 < row.size())
        out += std::string(width[c] - cells(row[c]) + 2, ' ');
    }
    std::cout << out << "\n";
  };
  std::cout << "\n" << t.title << "\n";
  line(t.columns);
  for (const auto& row : t.rows) line(row);
  for (const std::string& n : t.notes) std::cout << "  " << n << "\n";
}

void PrintCsv(const ladle::ReportTable& t) {
  auto quote = [](const std::string& s) {
    if (s.find_first_of(",\"\n") == std::string::npos) return s;
    std::string q = "\"";
    for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
    return q + "\"";
  };
  auto line = [&](const std::vector<std::string>& row) {
    for (size_t c = 0; c < row.size(); ++c)
      std::cout << (c ? "," : "") << quote(row[c]);
    std::cout << "\n";
  };
  std::vector<std::string> header = {"table"};
  header.insert(header.end(), t.columns.begin(), t.columns.end());
  line(header);
  for (auto row : t.rows) {
    row.insert(row.begin(), t.title);
    line(row);
  }
}

int Results(ExperimentService::Stub& stub, const Options& o) {
  grpc::ClientContext ctx;
  Authorize(&ctx);
  v1::GetResultsRequest req;
  req.set_experiment_id(o.id);
  v1::ExperimentResults res;
  grpc::Status st = stub.GetResults(&ctx, req, &res);
  if (!st.ok()) return Fail(st, o);
  const ladle::ExperimentKind& kind = ladle::KindOrTrain(res.experiment().kind());
  if (!kind.TableMetrics().empty()) {
    // Tables that read curves (fusion: time to target) fetch them; others
    // need only the summaries, so big sweeps stay one small read.
    grpc::ClientContext again;
    Authorize(&again);
    req.set_include_metrics(true);
    for (const std::string& name : kind.TableMetrics())
      req.add_metric_names(name);
    st = stub.GetResults(&again, req, &res);
    if (!st.ok()) return Fail(st, o);
  }
  if (o.format == "json") {
    nlohmann::ordered_json out;
    out["experiment"] = {
        {"id", res.experiment().id()},
        {"name", res.experiment().name()},
        {"state", ladle::ApiStateName(res.experiment().state())},
        {"spec", res.experiment().spec()}};
    out["jobs"] = nlohmann::json::array();
    for (const auto& r : res.jobs()) {
      nlohmann::ordered_json j = {
          {"id", r.job().id()},
          {"state", ladle::ApiStateName(r.job().state())},
          {"attempts", r.job().attempts()},
          {"worker", r.job().worker_id()},
          {"params",
           nlohmann::json::parse(r.job().params_json(), nullptr, false)},
          {"spec", nlohmann::json::parse(r.job().spec_json(), nullptr, false)},
          {"reason", r.job().reason()}};
      j["summary"] =
          r.job().summary_json().empty()
              ? nlohmann::json(nullptr)
              : nlohmann::json::parse(r.job().summary_json(), nullptr, false);
      nlohmann::json attempts = nlohmann::json::array();
      for (const auto& a : r.attempts()) {
        attempts.push_back({{"id", a.id()},
                            {"worker", a.worker_id()},
                            {"number", a.number()},
                            {"outcome", a.outcome()},
                            {"exit_code", a.exit_code()},
                            {"reason", a.reason()}});
      }
      j["attempt_log"] = attempts;
      nlohmann::json arts = nlohmann::json::array();
      for (const auto& a : r.artifacts()) {
        arts.push_back({{"name", a.name()},
                        {"sha256", a.sha256()},
                        {"size_bytes", a.size_bytes()}});
      }
      j["artifacts"] = arts;
      out["jobs"].push_back(j);
    }
    out["report"] = ladle::ReportToJson(kind.Tables(JobViews(res)));
    std::cout << out.dump(2) << "\n";
    return 0;
  }
  const bool csv = o.format == "csv";
  if (csv && kind.CsvIsTables()) {
    // Kinds with their own table: that table is the CSV.
    for (const ladle::ReportTable& t : kind.Tables(JobViews(res))) PrintCsv(t);
    return 0;
  }
  const char* sep = csv ? "," : "  ";
  if (csv) {
    std::cout << "job,state,attempts,params,test_accuracy,val_accuracy,final_"
                 "train_loss,wall_seconds\n";
  } else {
    std::cout << absl::StrFormat("%-26s %-10s %-3s %-44s %9s %9s %9s %8s\n",
                                 "job", "state", "try", "params", "test_acc",
                                 "val_acc", "loss", "seconds");
  }
  for (const auto& r : res.jobs()) {
    const auto s = nlohmann::json::parse(
        r.job().summary_json().empty() ? "{}" : r.job().summary_json(), nullptr,
        false);
    auto num = [&](const char* k) {
      return s.is_object() && s.contains(k) && s[k].is_number()
                 ? absl::StrFormat("%.4f", s[k].get<double>())
                 : std::string("-");
    };
    std::string params = r.job().params_json();
    if (csv) {
      std::string quoted = "\"";
      for (char c : params)
        quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
      quoted += "\"";
      std::cout << r.job().id() << sep << ladle::ApiStateName(r.job().state())
                << sep << r.job().attempts() << sep << quoted << sep
                << num("test_accuracy") << sep << num("val_accuracy") << sep
                << num("final_train_loss") << sep << num("wall_seconds")
                << "\n";
    } else {
      std::cout << absl::StrFormat(
          "%-26s %-10s %-3d %-44s %9s %9s %9s %8s\n", r.job().id(),
          ladle::ApiStateName(r.job().state()), r.job().attempts(), params,
          num("test_accuracy"), num("val_accuracy"), num("final_train_loss"),
          num("wall_seconds"));
    }
  }
  if (csv) return 0;
  for (const ladle::ReportTable& t : kind.Tables(JobViews(res))) PrintTable(t);
  return 0;
}

// `ladle local up`: ladle-server and ladle-worker (found next to this binary)
// as children, on loopback, until SIGINT/SIGTERM; then both are stopped (the
// worker drains first).
// `server_metrics` / `worker_metrics`: their --metrics_listen, when given
// (empty: off); otherwise the daemons' defaults.
int LocalUp(const std::string& addr, const std::string& dir, int cpu_slots,
            const std::optional<std::string>& server_metrics,
            const std::optional<std::string>& worker_metrics) {
  const std::filesystem::path self =
      std::filesystem::read_symlink("/proc/self/exe");
  const std::string server = (self.parent_path() / "ladle-server").string();
  const std::string worker = (self.parent_path() / "ladle-worker").string();
  for (const std::string& b : {server, worker}) {
    if (!std::filesystem::exists(b)) {
      std::cerr << "ladle: " << b << " not found (build all targets)\n";
      return 1;
    }
  }
  std::filesystem::create_directories(dir);
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGTERM);
  sigaddset(&sigs, SIGCHLD);  // a child that dies (a port in use) ends it too
  pthread_sigmask(SIG_BLOCK, &sigs,
                  nullptr);  // children get an empty mask below
  auto spawn = [&](std::vector<std::string> args,
                   const std::string& log) -> pid_t {
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t files;
    posix_spawn_file_actions_init(&files);
    posix_spawn_file_actions_addopen(&files, 1, log.c_str(),
                                     O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&files, 1, 2);
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    sigset_t none;
    sigemptyset(&none);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);
    pid_t pid = -1;
    const int rc =
        posix_spawn(&pid, argv[0], &files, &attr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&files);
    posix_spawnattr_destroy(&attr);
    return rc == 0 ? pid : -1;
  };
  std::vector<std::string> sargs = {server, "--listen=" + addr,
                                    "--data_dir=" + dir + "/server"};
  if (server_metrics) sargs.push_back("--metrics_listen=" + *server_metrics);
  const pid_t s = spawn(sargs, dir + "/server.log");
  std::vector<std::string> wargs = {worker, "--coordinator=" + addr,
                                    "--work_dir=" + dir + "/worker"};
  if (cpu_slots > 0)
    wargs.push_back("--cpu_slots=" + std::to_string(cpu_slots));
  if (worker_metrics) wargs.push_back("--metrics_listen=" + *worker_metrics);
  const pid_t w = spawn(wargs, dir + "/worker.log");
  if (s < 0 || w < 0) {
    std::cerr << "ladle: cannot start the local cluster\n";
    if (s > 0) kill(s, SIGTERM);
    if (w > 0) kill(w, SIGTERM);
    return 1;
  }
  std::cerr << "ladle local: coordinator " << addr << " (pid " << s
            << "), worker (pid " << w << "), state and logs in " << dir << "\n"
            << "  export LADLE_ADDR=" << addr << "; Ctrl-C stops both\n";
  int sig = 0, status = 0;
  pid_t died = 0;
  while (died == 0) {
    sigwait(&sigs, &sig);
    if (sig != SIGCHLD) break;
    died = waitpid(-1, &status, WNOHANG);
    if (died != s && died != w) died = 0;
  }
  if (died != 0) {
    const bool server_died = died == s;
    const std::string log = dir + (server_died ? "/server.log" : "/worker.log");
    std::string last, line;
    std::ifstream in(log);
    while (std::getline(in, line)) {
      if (!line.empty()) last = line;
    }
    std::cerr << "ladle local: the " << (server_died ? "coordinator" : "worker")
              << " exited ("
              << (WIFEXITED(status)
                      ? "code " + std::to_string(WEXITSTATUS(status))
                      : "signal " + std::to_string(WTERMSIG(status)))
              << "): " << last << "\n  (all of it: " << log
              << "); stopping the other\n";
  } else {
    std::cerr << "ladle local: stopping\n";
  }
  if (died != w) {
    kill(w, SIGTERM);
    waitpid(w, nullptr, 0);
  }
  if (died != s) {
    kill(s, SIGTERM);
    waitpid(s, nullptr, 0);
  }
  return died == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (const char* env = std::getenv("LADLE_ADDR")) o.addr = env;
  if (o.addr.empty()) o.addr = "127.0.0.1:7070";
  CLI::App app{"ladle: submit and watch experiments on a ladle-server"};
  app.add_option("--addr", o.addr, "ladle-server address (or LADLE_ADDR)");
  std::string token_file, tls_ca;
  app.add_option("--tls_ca", tls_ca,
                 "PEM CA certificate: connect with TLS (or LADLE_TLS_CA)");
  app.add_option("--token_file", token_file,
                 "file holding the bearer token (or LADLE_TOKEN)");
  app.require_subcommand(1);
  auto* submit =
      app.add_subcommand("submit", "submit an experiment spec; prints its id");
  submit->add_option("file", o.file, "experiment spec (YAML)")->required();
  submit->add_flag("--wait", o.wait,
                   "watch until it ends; exit 0 iff it succeeded");
  auto* list = app.add_subcommand("list", "list experiments, newest first");
  auto* show = app.add_subcommand("show", "show one experiment");
  show->add_option("id", o.id)->required();
  auto* watch =
      app.add_subcommand("watch", "follow an experiment until it ends");
  watch->add_option("id", o.id)->required();
  auto* cancel = app.add_subcommand("cancel", "cancel an experiment");
  cancel->add_option("id", o.id)->required();
  auto* results = app.add_subcommand("results", "per-job results");
  results->add_option("id", o.id)->required();
  results->add_option("--format", o.format, "table, csv or json")
      ->check(CLI::IsMember({"table", "csv", "json"}));
  auto* plot = app.add_subcommand(
      "plot",
      "draw a metric of an experiment's jobs (SVG, or PNG via rsvg-convert)");
  ladle::CurveOptions curve;
  std::string plot_out;
  bool per_job = false;
  plot->add_option("id", o.id)->required();
  plot->add_option("--metric", curve.metric,
                   "a metrics.jsonl key: val_accuracy, train_loss, ...");
  plot->add_option("--x", curve.x, "step, epoch or seconds")
      ->check(CLI::IsMember({"step", "epoch", "seconds"}));
  plot->add_flag("--per_job", per_job,
                 "one line per job instead of mean ± std per configuration");
  plot->add_option("-o,--output", plot_out, "FILE.svg or FILE.png")->required();
  auto* report = app.add_subcommand(
      "report", "write a self-contained HTML report of an experiment");
  std::string report_out;
  report->add_option("id", o.id)->required();
  report->add_option("-o,--output", report_out, "FILE.html")->required();
  auto* workers = app.add_subcommand("workers", "list workers");
  auto* validate = app.add_subcommand(
      "validate",
      "check an experiment spec offline and list the jobs it expands into");
  validate->add_option("file", o.file, "experiment spec (YAML)")->required();
  auto* local = app.add_subcommand("local", "a one-machine cluster");
  auto* local_up =
      local->add_subcommand("up",
                            "run a coordinator and one worker here (data in "
                            "./ladle-data) until Ctrl-C");
  std::string local_dir = "./ladle-data";
  int local_slots = 0;
  local_up->add_option("--data_dir", local_dir,
                       "where the coordinator and worker keep state");
  local_up->add_option("--cpu_slots", local_slots,
                       "worker CPU slots (default: cores)");
  std::string local_server_metrics, local_worker_metrics;
  CLI::Option* server_metrics_opt = local_up->add_option(
      "--metrics_listen", local_server_metrics,
      "the coordinator's Prometheus address (host:port; empty: off; default: "
      "ladle-server's, 127.0.0.1:9464)");
  CLI::Option* worker_metrics_opt = local_up->add_option(
      "--worker_metrics_listen", local_worker_metrics,
      "the worker's Prometheus address (host:port; default: off)");
  local->require_subcommand(1);
  auto* download =
      app.add_subcommand("download", "save a job's output file (an artifact)");
  std::string artifact_name, output_path;
  download->add_option("job", o.id, "job id")->required();
  download
      ->add_option("name", artifact_name,
                   "e.g. model.safetensors, summary.json")
      ->required();
  download->add_option("-o,--output", output_path,
                       "file to write (default: the name)");
  auto* logs =
      app.add_subcommand("logs", "a job's stdout/stderr (all attempts)");
  logs->add_option("job", o.id, "job id")->required();
  bool follow = false;
  logs->add_flag("-f,--follow", follow, "keep printing until the job ends");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }

  std::stringstream ss;  // the spec file of submit / validate
  if (submit->parsed() || validate->parsed()) {
    std::ifstream in(o.file);
    if (!in) {
      std::cerr << "ladle: cannot read " << o.file << "\n";
      return 2;
    }
    ss << in.rdbuf();
  }
  if (validate->parsed()) {
    auto fail = [&](const absl::Status& st) {
      std::cerr << "ladle: " << o.file << ": " << st.message() << "\n";
      return 2;
    };
    auto spec = ladle::ParseExperimentSpec(ss.str());
    if (!spec.ok()) return fail(spec.status());
    auto jobs = ladle::PlanExperiment(*spec);
    if (!jobs.ok()) return fail(jobs.status());
    std::cout << spec->name << ": " << jobs->size() << " jobs\n";
    for (const auto& j : *jobs)
      std::cout << "  " << j.index << " " << j.params.dump() << "\n";
    return 0;
  }
  if (const char* env = std::getenv("LADLE_TOKEN")) g_token = env;
  if (!token_file.empty()) {
    std::ifstream in(token_file);
    if (!in || !std::getline(in, g_token)) {
      std::cerr << "ladle: --token_file " << token_file << " cannot be read\n";
      return 2;
    }
  }
  if (tls_ca.empty()) {
    if (const char* env = std::getenv("LADLE_TLS_CA")) tls_ca = env;
  }
  std::shared_ptr<grpc::ChannelCredentials> creds =
      grpc::InsecureChannelCredentials();
  if (!tls_ca.empty()) {
    std::ifstream in(tls_ca);
    std::stringstream pem;
    pem << in.rdbuf();
    if (!in || pem.str().empty()) {
      std::cerr << "ladle: --tls_ca " << tls_ca << " cannot be read\n";
      return 2;
    }
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = pem.str();
    creds = grpc::SslCredentials(ssl);
  }
  // Results of big sweeps are large (each job carries its resolved spec):
  // accept up to 512 MiB rather than gRPC's 4 MiB default.
  grpc::ChannelArguments channel_args;
  channel_args.SetMaxReceiveMessageSize(512 << 20);
  auto stub = ExperimentService::NewStub(
      grpc::CreateCustomChannel(o.addr, creds, channel_args));
  if (submit->parsed()) {
    grpc::ClientContext ctx;
    Authorize(&ctx);
    v1::SubmitExperimentRequest req;
    req.set_spec(ss.str());
    v1::SubmitExperimentResponse resp;
    grpc::Status st = stub->SubmitExperiment(&ctx, req, &resp);
    if (!st.ok()) {
      std::cerr << "ladle: " << o.file << ": ";
      return Fail(st, o);
    }
    std::cout << resp.experiment_id() << std::endl;
    std::cerr << "submitted " << resp.experiment_id() << " with "
              << resp.job_count() << " jobs\n";
    return o.wait ? Watch(*stub, o, resp.experiment_id()) : 0;
  }
  if (watch->parsed()) return Watch(*stub, o, o.id);
  if (local_up->parsed()) {
    auto given = [](CLI::Option* opt, const std::string& value) {
      return opt->count() > 0 ? std::optional<std::string>(value)
                              : std::nullopt;
    };
    return LocalUp(o.addr, local_dir, local_slots,
                   given(server_metrics_opt, local_server_metrics),
                   given(worker_metrics_opt, local_worker_metrics));
  }
  if (download->parsed()) {
    grpc::ClientContext ctx;
    Authorize(&ctx);
    v1::DownloadArtifactRequest req;
    req.set_job_id(o.id);
    req.set_name(artifact_name);
    auto reader = stub->DownloadArtifact(&ctx, req);
    const std::string path = output_path.empty() ? artifact_name : output_path;
    absl::StatusOr<v1::ArtifactHeader> header =
        ladle::ReadChunksToFile(reader.get(), path);
    grpc::Status st = reader->Finish();
    if (!st.ok()) {
      std::remove(path.c_str());
      return Fail(st, o);
    }
    if (!header.ok()) {
      std::cerr << "ladle: " << path << ": " << header.status().message()
                << "\n";
      return 1;
    }
    const int64_t got = header->size_bytes();
    std::cerr << "wrote " << path << " (" << got << " bytes, sha256 "
              << header->sha256() << ", verified)\n";
    return 0;
  }
  if (logs->parsed()) {
    grpc::ClientContext ctx;
    Authorize(&ctx);
    v1::GetLogsRequest req;
    req.set_job_id(o.id);
    req.set_follow(follow);
    auto reader = stub->GetLogs(&ctx, req);
    v1::LogChunk chunk;
    int64_t attempt = 0;
    while (reader->Read(&chunk)) {
      if (chunk.attempt_id() != attempt) {
        attempt = chunk.attempt_id();
        std::cerr << "--- attempt " << attempt << "\n";
      }
      (chunk.stream() == "stderr" ? std::cerr : std::cout)
          << chunk.data() << std::flush;
    }
    grpc::Status st = reader->Finish();
    return st.ok() ? 0 : Fail(st, o);
  }
  if (results->parsed()) return Results(*stub, o);
  if (plot->parsed() || report->parsed()) {
    grpc::ClientContext ctx;
    Authorize(&ctx);
    v1::GetResultsRequest req;
    req.set_experiment_id(o.id);
    req.set_include_metrics(true);
    // A chart needs no more points than it has pixels across.
    req.set_max_points_per_series(2000);
    if (plot->parsed()) {  // the metric and what the x axis may need
      for (const std::string& name :
           {curve.metric, std::string("epoch"), std::string("elapsed_seconds")})
        req.add_metric_names(name);
    }
    v1::ExperimentResults res;
    grpc::Status st = stub->GetResults(&ctx, req, &res);
    if (!st.ok()) return Fail(st, o);
    const std::vector<ladle::JobView> jobs = JobViews(res);
    if (report->parsed()) {
      ladle::ExperimentInfo info{res.experiment().id(), res.experiment().name(),
                                 res.experiment().kind(),
                                 ladle::ApiStateName(res.experiment().state()),
                                 res.experiment().spec()};
      std::ofstream out(report_out);
      out << ladle::RenderHtmlReport(info, jobs);
      if (!out) {
        std::cerr << "ladle: cannot write " << report_out << "\n";
        return 1;
      }
      std::cerr << "wrote " << report_out << "\n";
      return 0;
    }
    curve.by_config = !per_job;
    absl::StatusOr<ladle::LineChart> chart = ladle::MetricChart(jobs, curve);
    if (!chart.ok()) {
      std::cerr << "ladle: " << chart.status().message() << "\n";
      return 1;
    }
    chart->title = absl::StrCat(res.experiment().name(), ": ", curve.metric);
    const std::string svg = ladle::RenderSvg(*chart, 900, 500);
    const bool png = plot_out.size() > 4 &&
                     plot_out.compare(plot_out.size() - 4, 4, ".png") == 0;
    const bool svg_out = plot_out.size() > 4 &&
                         plot_out.compare(plot_out.size() - 4, 4, ".svg") == 0;
    if (!png && !svg_out) {
      std::cerr << "ladle: -o: name the file .svg or .png\n";
      return 2;
    }
    const std::string svg_path = png ? plot_out + ".tmp.svg" : plot_out;
    std::ofstream(svg_path) << svg;
    if (png) {
      const std::string cmd = absl::StrCat("rsvg-convert -f png -o '", plot_out,
                                           "' '", svg_path, "' 2>&1");
      const int rc = std::system(cmd.c_str());
      std::remove(svg_path.c_str());
      if (rc != 0) {
        std::cerr << "ladle: PNG needs rsvg-convert (apt-get install "
                     "librsvg2-bin); or write .svg\n";
        return 1;
      }
    }
    std::cerr << "wrote " << plot_out << "\n";
    return 0;
  }
  if (cancel->parsed()) {
    grpc::ClientContext ctx;
    Authorize(&ctx);
    v1::CancelExperimentRequest req;
    req.set_experiment_id(o.id);
    v1::Experiment e;
    grpc::Status st = stub->CancelExperiment(&ctx, req, &e);
    if (!st.ok()) return Fail(st, o);
    std::cout << e.id() << " " << ladle::ApiStateName(e.state()) << " ("
              << Counts(e.job_counts()) << ")\n";
    return 0;
  }
  if (show->parsed()) {
    grpc::ClientContext ctx;
    Authorize(&ctx);
    v1::GetExperimentRequest req;
    req.set_experiment_id(o.id);
    v1::Experiment e;
    grpc::Status st = stub->GetExperiment(&ctx, req, &e);
    if (!st.ok()) return Fail(st, o);
    std::cout << e.id() << "  " << e.name() << "  " << e.kind() << "  "
              << ladle::ApiStateName(e.state()) << "\n"
              << Counts(e.job_counts()) << "\n";
    if (!e.message().empty()) std::cout << e.message() << "\n";
    std::cout << "--- spec ---\n" << e.spec();
    return 0;
  }
  if (list->parsed()) {
    grpc::ClientContext ctx;
    Authorize(&ctx);
    v1::ListExperimentsRequest req;
    v1::ListExperimentsResponse resp;
    grpc::Status st = stub->ListExperiments(&ctx, req, &resp);
    if (!st.ok()) return Fail(st, o);
    for (const auto& e : resp.experiments()) {
      std::cout << absl::StrFormat("%-24s %-20s %-10s %s\n", e.id(), e.name(),
                                   ladle::ApiStateName(e.state()),
                                   Counts(e.job_counts()));
    }
    return 0;
  }
  if (workers->parsed()) {
    grpc::ClientContext ctx;
    Authorize(&ctx);
    v1::ListWorkersResponse resp;
    grpc::Status st = stub->ListWorkers(&ctx, v1::ListWorkersRequest(), &resp);
    if (!st.ok()) return Fail(st, o);
    for (const auto& w : resp.workers()) {
      std::cout << absl::StrFormat("%-14s %-16s %2d GPUs %3d CPU slots  %s\n",
                                   w.id(), w.name(), w.gpus(), w.cpu_slots(),
                                   w.state());
    }
    return 0;
  }
  return 2;
}
