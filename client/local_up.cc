// `ladle local up`: ladle-server and ladle-worker (found next to this binary)
// as children, on loopback, until SIGINT/SIGTERM; then both are stopped (the
// worker drains first). A child that dies (a port in use) ends it too.
#include <signal.h>
#include <sys/wait.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>

#include "client/commands.h"
#include "common/process.h"

namespace ladle {
namespace {

struct LocalOptions {
  std::string addr, dir = "./ladle-data";
  int cpu_slots = 0;  // 0: the worker's default (cores)
  // The web UI and HTTP/JSON API (ladle-server --http_listen); empty: off.
  std::string http_listen = "127.0.0.1:8080";
  // --metrics_listen / --worker_metrics_listen when given (empty: off);
  // otherwise the daemons' defaults.
  std::optional<std::string> server_metrics, worker_metrics;
};

pid_t Start(std::vector<std::string> argv, const std::string& log) {
  SpawnOptions o;
  o.argv = std::move(argv);
  o.stdout_path = o.stderr_path = log;
  absl::StatusOr<pid_t> pid = Spawn(o);
  return pid.ok() ? *pid : -1;
}

// The last non-empty line of a log.
std::string LastLine(const std::string& path) {
  std::string last, line;
  std::ifstream in(path);
  while (std::getline(in, line)) {
    if (!line.empty()) last = line;
  }
  return last;
}

// Waits for SIGINT/SIGTERM (0) or for one of the children to die (its pid).
pid_t WaitForStopOrDeath(const sigset_t& sigs, pid_t s, pid_t w, int* status) {
  int sig = 0;
  while (true) {
    sigwait(&sigs, &sig);
    if (sig != SIGCHLD) return 0;
    const pid_t died = waitpid(-1, status, WNOHANG);
    if (died == s || died == w) return died;
  }
}

int LocalUp(const LocalOptions& o) {
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
  std::filesystem::create_directories(o.dir);
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGTERM);
  sigaddset(&sigs, SIGCHLD);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);  // children get an empty mask
  std::vector<std::string> sargs = {server, "--listen=" + o.addr,
                                    "--data_dir=" + o.dir + "/server"};
  if (o.server_metrics)
    sargs.push_back("--metrics_listen=" + *o.server_metrics);
  if (!o.http_listen.empty()) sargs.push_back("--http_listen=" + o.http_listen);
  const pid_t s = Start(sargs, o.dir + "/server.log");
  std::vector<std::string> wargs = {worker, "--coordinator=" + o.addr,
                                    "--work_dir=" + o.dir + "/worker"};
  if (o.cpu_slots > 0)
    wargs.push_back("--cpu_slots=" + std::to_string(o.cpu_slots));
  if (o.worker_metrics)
    wargs.push_back("--metrics_listen=" + *o.worker_metrics);
  const pid_t w = Start(wargs, o.dir + "/worker.log");
  if (s < 0 || w < 0) {
    std::cerr << "ladle: cannot start the local cluster\n";
    if (s > 0) kill(s, SIGTERM);
    if (w > 0) kill(w, SIGTERM);
    return 1;
  }
  std::cerr << "ladle local: coordinator " << o.addr << " (pid " << s
            << "), worker (pid " << w << "), state and logs in " << o.dir
            << "\n";
  if (!o.http_listen.empty())
    std::cerr << "  web UI: http://" << o.http_listen << "/\n";
  std::cerr << "  export LADLE_ADDR=" << o.addr << "; Ctrl-C stops both\n";
  int status = 0;
  const pid_t died = WaitForStopOrDeath(sigs, s, w, &status);
  if (died != 0) {
    const bool server_died = died == s;
    const std::string log =
        o.dir + (server_died ? "/server.log" : "/worker.log");
    std::cerr << "ladle local: the " << (server_died ? "coordinator" : "worker")
              << " exited ("
              << (WIFEXITED(status)
                      ? "code " + std::to_string(WEXITSTATUS(status))
                      : "signal " + std::to_string(WTERMSIG(status)))
              << "): " << LastLine(log) << "\n  (all of it: " << log
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

Command AddLocal(CLI::App& app) {
  auto* local = app.add_subcommand("local", "a one-machine cluster");
  auto* up = local->add_subcommand(
      "up",
      "run a coordinator and one worker here (data in ./ladle-data) until "
      "Ctrl-C");
  local->require_subcommand(1);
  auto o = std::make_shared<LocalOptions>();
  auto metrics = std::make_shared<std::pair<std::string, std::string>>();
  up->add_option("--data_dir", o->dir,
                 "where the coordinator and worker keep state");
  up->add_option("--cpu_slots", o->cpu_slots,
                 "worker CPU slots (default: cores)");
  up->add_option("--http_listen", o->http_listen,
                 "the web UI and HTTP/JSON API (host:port on loopback; empty: "
                 "off)");
  CLI::Option* server_metrics = up->add_option(
      "--metrics_listen", metrics->first,
      "the coordinator's Prometheus address (host:port; empty: off; default: "
      "ladle-server's, 127.0.0.1:9464)");
  CLI::Option* worker_metrics = up->add_option(
      "--worker_metrics_listen", metrics->second,
      "the worker's Prometheus address (host:port; default: off)");
  return {local, [o, metrics, server_metrics, worker_metrics](Cli& cli) {
            o->addr = cli.options.addr;
            if (server_metrics->count() > 0) o->server_metrics = metrics->first;
            if (worker_metrics->count() > 0)
              o->worker_metrics = metrics->second;
            return LocalUp(*o);
          }};
}

}  // namespace ladle
