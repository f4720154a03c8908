// ladle-loadbench: the coordinator under load, with simulated workers that
// speak the real gRPC protocol (WorkerService.Session) but run no training.
// Every figure is printed beside a baseline measured in the same run:
//
//   submit        1-job experiments from C concurrent clients (each reply comes
//                 after the experiment is durable)  vs  raw gRPC unary QPS of
//                 an echo server process on this machine, same C clients;
//   sweep         one N-job sweep accepted (client-side seconds);
//   end to end    trivial jobs queued -> dispatched -> finished and recorded,
//                 drained by W simulated workers (jobs/s);
//   dispatch      queued -> worker receives, on an idle fleet (p50/p99), from
//                 the assignment's queued_at stamp;
//   ingest        metric points through worker stream -> coordinator -> SQLite
//                 vs  raw batched SQLite inserts into the same table shape.
//
// The server is the real ladle-server binary in a child process with its own
// data dir (SQLite WAL, synchronous=FULL). Nothing here is a test: it reports.
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "bench/proto/echo.grpc.pb.h"
#include "common/process.h"
#include "grpcpp/grpcpp.h"
#include "ladle/v1/experiments.grpc.pb.h"
#include "ladle/v1/workers.grpc.pb.h"

namespace ladle {
namespace {

namespace fs = std::filesystem;
namespace v1 = ::ladle::v1;

struct Options {
  std::string server;  // ladle-server binary (default: beside this one)
  double seconds = 5;  // per timed phase
  int clients = 32;    // concurrent submitters (and baseline clients)
  int workers = 100;   // simulated workers
  int slots = 1;       // CPU slots per simulated worker
  int sweep_jobs = 10'000;
  int sweeps = 3;
  // A p99 of 300 probes is their 3rd-worst: one VM stall moved it past 2 ms
  // while 1,000-probe runs of the same binaries read 1.2-1.5 ms.
  int dispatch_samples = 1000;
  int rounds = 3;             // submit rounds, each after a baseline round
  int ingest_jobs = 8;        // attempts streaming metrics at once
  int ingest_batches = 40;    // per attempt
  int ingest_lines = 200;     // per batch; each line carries 5 points
  int sqlite_rows = 400'000;  // baseline rows
  int sqlite_batch = 1'000;   // baseline rows per transaction
  double soak_seconds = 0;    // > 0: the soak scenario only (see RunSoak)
  int soak_submitters = 20;
  int soak_watchers = 8;
  bool submit_only = false;        // baseline 1 and phase A only (profiling)
  bool scale = false;              // the scale scenario only (see RunScale)
  int scale_jobs = 1'000'000;      // queued jobs
  int scale_workers = 1'000;       // simulated workers draining them
  int results_jobs = 1'000;        // jobs of the experiment GetResults reads
  int results_points = 1'000;      // points per series of each of its jobs
  int list_experiments = 100'000;  // experiments stored when listing
  std::string serve_echo;  // internal: run the echo server on this address
};

int64_t NowMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}
double Seconds(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
      .count();
}

// A port below the ephemeral range that is free now (as
// tests/e2e/free_port.py).
int FreePort() {
  std::mt19937 rng(static_cast<unsigned>(NowMicros() ^ getpid()));
  for (int i = 0; i < 200; ++i) {
    const int port = 20000 + static_cast<int>(rng() % 12000);
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    const bool ok = bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    close(fd);
    if (ok) return port;
  }
  return 0;
}

pid_t Spawn(const std::vector<std::string>& args, const std::string& log) {
  ladle::SpawnOptions o;
  o.argv = args;
  o.stdout_path = o.stderr_path = log;
  o.truncate = true;
  o.append = false;
  absl::StatusOr<pid_t> pid = ladle::Spawn(o);
  return pid.ok() ? *pid : -1;
}

void Stop(pid_t pid) { ladle::StopAndReap(pid, 5000); }

// One connection per client, as separate processes would have.
std::shared_ptr<grpc::Channel> Connect(const std::string& addr) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  args.SetMaxReceiveMessageSize(64 << 20);
  return grpc::CreateCustomChannel(addr, grpc::InsecureChannelCredentials(),
                                   args);
}

struct Percentiles {
  double p50 = 0, p99 = 0, max = 0;
};
Percentiles Summarize(std::vector<double> v) {
  Percentiles p;
  if (v.empty()) return p;
  std::sort(v.begin(), v.end());
  auto at = [&](double q) {
    return v[std::min(v.size() - 1, static_cast<size_t>(q * v.size()))];
  };
  p.p50 = at(0.50);
  p.p99 = at(0.99);
  p.max = v.back();
  return p;
}

// CPU time (user + system) a process used so far, in seconds.
double CpuSeconds(pid_t pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/stat"));
  std::string text((std::istreambuf_iterator<char>(in)),
                   std::istreambuf_iterator<char>());
  // Fields after the command name, which is in parentheses and may hold
  // spaces: utime and stime are the 12th and 13th of them.
  const size_t close = text.rfind(')');
  if (close == std::string::npos) return 0;
  std::vector<std::string> f =
      absl::StrSplit(text.substr(close + 2), ' ', absl::SkipEmpty());
  if (f.size() < 13) return 0;
  return (std::stod(f[11]) + std::stod(f[12])) / sysconf(_SC_CLK_TCK);
}

// --- Baseline 1: raw gRPC unary QPS ---------------------------------------
class EchoService final : public bench::Echo::Service {
  grpc::Status Ping(grpc::ServerContext*, const bench::PingMessage* in,
                    bench::PingMessage* out) override {
    out->set_payload(in->payload());
    return grpc::Status::OK;
  }
};

int ServeEcho(const std::string& addr) {
  EchoService service;
  grpc::ServerBuilder b;
  b.AddListeningPort(addr, grpc::InsecureServerCredentials());
  b.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = b.BuildAndStart();
  if (!server) return 1;
  server->Wait();
  return 0;
}

// Runs `call` from `clients` threads for `seconds`; returns calls/s and fills
// latencies (seconds) and the failure count.
template <typename MakeCall>
double Hammer(int clients, double seconds, MakeCall make_call,
              std::vector<double>* latencies, int64_t* failures) {
  std::atomic<int64_t> calls{0}, failed{0};
  std::mutex mu;
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      auto call = make_call(c);
      std::vector<double> mine;
      while (Seconds(t0) < seconds) {
        const auto s = std::chrono::steady_clock::now();
        const bool ok = call();
        mine.push_back(Seconds(s));
        (ok ? calls : failed)++;
      }
      std::lock_guard<std::mutex> lock(mu);
      if (latencies)
        latencies->insert(latencies->end(), mine.begin(), mine.end());
    });
  }
  for (auto& t : threads) t.join();
  if (failures) *failures = failed;
  return static_cast<double>(calls) / Seconds(t0);
}

// Calls/s of Hammer, with the CPU time per successful call that the `server`
// process and this one (the clients) spent meanwhile.
struct Rate {
  double qps = 0, server_us = 0, client_us = 0;
};
template <typename MakeCall>
Rate MeasuredHammer(pid_t server, int clients, double seconds,
                    MakeCall make_call, std::vector<double>* latencies,
                    int64_t* failures) {
  const double server_cpu0 = CpuSeconds(server);
  const double client_cpu0 = CpuSeconds(getpid());
  const auto t0 = std::chrono::steady_clock::now();
  Rate r;
  r.qps = Hammer(clients, seconds, make_call, latencies, failures);
  const double calls = std::max(1.0, r.qps * Seconds(t0));
  r.server_us = (CpuSeconds(server) - server_cpu0) / calls * 1e6;
  r.client_us = (CpuSeconds(getpid()) - client_cpu0) / calls * 1e6;
  return r;
}

// --- Baseline 2: raw batched SQLite inserts ---------------------------------
double SqliteInsertRate(const std::string& path, int rows, int batch) {
  sqlite3* db = nullptr;
  sqlite3_open(path.c_str(), &db);
  sqlite3_exec(
      db,
      "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;"
      "CREATE TABLE metrics(job_id TEXT NOT NULL, attempt_id INTEGER "
      "NOT NULL, step INTEGER NOT NULL, name TEXT NOT NULL, value REAL "
      "NOT NULL, time_ms INTEGER NOT NULL);"
      "CREATE INDEX metrics_by_job ON metrics(job_id, name, step);",
      nullptr, nullptr, nullptr);
  sqlite3_stmt* ins = nullptr;
  sqlite3_prepare_v2(db,
                     "INSERT INTO metrics(job_id, attempt_id, step, name, "
                     "value, time_ms) VALUES(?, ?, ?, ?, ?, ?)",
                     -1, &ins, nullptr);
  static const char* kNames[] = {"loss", "val_accuracy", "lr",
                                 "samples_per_second", "epoch"};
  const auto t0 = std::chrono::steady_clock::now();
  for (int done = 0; done < rows;) {
    sqlite3_exec(db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr);
    for (int i = 0; i < batch && done < rows; ++i, ++done) {
      const std::string job = absl::StrCat("exp-0-", done / 5000);
      sqlite3_bind_text(ins, 1, job.c_str(), -1, SQLITE_TRANSIENT);
      sqlite3_bind_int64(ins, 2, done / 5000 + 1);
      sqlite3_bind_int64(ins, 3, done / 5);
      sqlite3_bind_text(ins, 4, kNames[done % 5], -1, SQLITE_STATIC);
      sqlite3_bind_double(ins, 5, 0.001 * done);
      sqlite3_bind_int64(ins, 6, 1'700'000'000'000 + done);
      sqlite3_step(ins);
      sqlite3_reset(ins);
    }
    sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr);
  }
  const double rate = rows / Seconds(t0);
  sqlite3_finalize(ins);
  sqlite3_close(db);
  return rate;
}

// --- Simulated workers ------------------------------------------------------
// What simulated workers do with an assignment.
struct FleetMode {
  std::atomic<bool> stream_metrics{false};
  int batches = 0, lines = 0;
};

class SimWorker {
 public:
  SimWorker(std::string id, int slots, std::shared_ptr<grpc::Channel> channel,
            FleetMode* mode)
      : id_(std::move(id)),
        slots_(slots),
        mode_(mode),
        stub_(v1::WorkerService::NewStub(channel)) {}

  bool Start() {
    stream_ = stub_->Session(&ctx_);
    v1::WorkerMessage hello;
    hello.mutable_hello()->set_worker_id(id_);
    hello.mutable_hello()->set_name(id_);
    hello.mutable_hello()->set_cpu_slots(slots_);
    hello.mutable_hello()->set_version("ladle-loadbench");
    if (!Write(hello)) return false;
    v1::CoordinatorMessage welcome;
    if (!stream_->Read(&welcome) || !welcome.has_welcome()) return false;
    reader_ = std::thread([this] { Loop(); });
    return true;
  }
  void Heartbeat() {
    v1::WorkerMessage m;
    m.mutable_heartbeat();
    Write(m);
  }
  void Close() {
    {
      std::lock_guard<std::mutex> lock(write_mu_);
      stream_->WritesDone();
    }
    ctx_.TryCancel();
    if (reader_.joinable()) reader_.join();
  }
  // Receive time minus queued_at, per assignment (microseconds).
  std::vector<double> TakeDispatchLatencies() {
    std::lock_guard<std::mutex> lock(lat_mu_);
    return std::exchange(latencies_, {});
  }
  int64_t assignments() const { return assignments_; }

 private:
  bool Write(const v1::WorkerMessage& m) {
    std::lock_guard<std::mutex> lock(write_mu_);
    return stream_->Write(m);
  }
  void Loop() {
    v1::CoordinatorMessage m;
    while (stream_->Read(&m)) {
      if (!m.has_assignment()) continue;
      const int64_t now = NowMicros();
      const v1::Assignment& a = m.assignment();
      ++assignments_;
      if (a.queued_at_unix_micros() > 0) {
        std::lock_guard<std::mutex> lock(lat_mu_);
        latencies_.push_back(
            static_cast<double>(now - a.queued_at_unix_micros()));
      }
      if (mode_->stream_metrics) {
        int64_t step = 0;
        for (int b = 0; b < mode_->batches; ++b) {
          v1::WorkerMessage batch;
          batch.mutable_metrics()->set_attempt_id(a.attempt_id());
          for (int l = 0; l < mode_->lines; ++l, ++step) {
            batch.mutable_metrics()->add_jsonl_lines(absl::StrFormat(
                R"({"step": %d, "epoch": %d, "loss": %.6f, "val_accuracy": %.4f, "lr": 0.001, "samples_per_second": 16974.5})",
                step, step / 1000, 2.3 / (1 + step * 0.01),
                0.5 + 0.4 * step / (1.0 + step)));
          }
          Write(batch);
        }
      }
      v1::WorkerMessage r;
      r.mutable_result()->set_attempt_id(a.attempt_id());
      r.mutable_result()->set_outcome(v1::AttemptResult::OUTCOME_SUCCEEDED);
      r.mutable_result()->set_summary_json(R"({"test_accuracy": 0.5})");
      Write(r);
    }
  }

  const std::string id_;
  const int slots_;
  FleetMode* mode_;
  std::unique_ptr<v1::WorkerService::Stub> stub_;
  grpc::ClientContext ctx_;
  std::unique_ptr<
      grpc::ClientReaderWriter<v1::WorkerMessage, v1::CoordinatorMessage>>
      stream_;
  std::mutex write_mu_;
  std::thread reader_;
  std::mutex lat_mu_;
  std::vector<double> latencies_;
  std::atomic<int64_t> assignments_{0};
};

// --- The coordinator's side -------------------------------------------------
int64_t CountExperiments(v1::ExperimentService::Stub& stub,
                         v1::ExperimentState state, int limit = 1 << 30) {
  int64_t n = 0;
  std::string token;
  do {
    grpc::ClientContext ctx;
    v1::ListExperimentsRequest req;
    req.set_state(state);
    // No bigger than asked: the drain phase polls "any still running?"
    // every 20 ms, and full pages of 1,000 made that poll a load of its own.
    req.set_page_size(static_cast<int>(std::min<int64_t>(1000, limit - n)));
    req.set_page_token(token);
    v1::ListExperimentsResponse res;
    if (!stub.ListExperiments(&ctx, req, &res).ok()) return -1;
    n += res.experiments_size();
    token = res.next_page_token();
  } while (!token.empty() && n < limit);
  return n;
}

// The server's Prometheus text (empty when it cannot be fetched).
std::string MetricsText(const std::string& metrics_addr) {
  const std::string cmd = absl::StrCat(
      "python3 -c \"import urllib.request,sys;sys.stdout.write(urllib.request."
      "urlopen('http://",
      metrics_addr, "/metrics').read().decode())\" 2>/dev/null");
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return "";
  std::string text;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) text.append(buf, n);
  pclose(p);
  return text;
}

// A counter's value from the server's Prometheus text.
// A sample's value in Prometheus text; -1 when absent.
double Counter(const std::string& text, const std::string& name) {
  const size_t at = text.find("\n" + name + " ");
  if (at == std::string::npos) return -1;
  return std::stod(text.substr(at + name.size() + 2));
}

double ScrapeCounter(const std::string& metrics_addr, const std::string& name) {
  return Counter(MetricsText(metrics_addr), name);
}

// How the server's commits grouped so far, from its metrics.
std::string GroupCommitLine(const std::string& metrics_addr) {
  const std::string text = MetricsText(metrics_addr);
  const double commits = Counter(text, "ladle_store_commit_batches_count");
  const double batches = Counter(text, "ladle_store_commit_batches_sum");
  const double seconds = Counter(text, "ladle_store_commit_seconds_sum");
  if (commits <= 0) return "group commit: no commits\n";
  return absl::StrFormat(
      "group commit: %.0f write batches in %.0f SQLite transactions (%.1f per "
      "transaction, %.3f ms each)\n",
      batches, commits, batches / commits, seconds / commits * 1e3);
}

// The real ladle-server in a child process; waits until it answers.
struct ServerProcess {
  pid_t pid = -1;
  std::string addr, metrics_addr;
  ~ServerProcess() { Stop(pid); }
};

bool StartServer(const std::string& server_bin, const fs::path& work,
                 int max_jobs, ServerProcess* out) {
  out->addr = absl::StrCat("127.0.0.1:", FreePort());
  out->metrics_addr = absl::StrCat("127.0.0.1:", FreePort());
  out->pid = Spawn({server_bin, "--listen=" + out->addr,
                    "--data_dir=" + (work / "data").string(),
                    "--metrics_listen=" + out->metrics_addr,
                    absl::StrCat("--max_jobs_per_experiment=", max_jobs)},
                   (work / "server.log").string());
  auto api = v1::ExperimentService::NewStub(Connect(out->addr));
  for (int i = 0; i < 200; ++i) {
    if (CountExperiments(*api, v1::EXPERIMENT_STATE_UNSPECIFIED, 1) >= 0)
      return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  std::cerr << "ladle-server did not start; see " << (work / "server.log")
            << "\n";
  return false;
}

// Simulated workers sharing a few connections, with a heartbeat thread.
class Fleet {
 public:
  ~Fleet() { Stop(); }
  bool Start(const std::string& addr, int workers, int slots, FleetMode* mode) {
    std::vector<std::shared_ptr<grpc::Channel>> channels;
    for (int c = 0; c < std::min(workers, 16); ++c)
      channels.push_back(Connect(addr));
    for (int w = 0; w < workers; ++w) {
      workers_.push_back(
          std::make_unique<SimWorker>(absl::StrFormat("sim-%03d", w), slots,
                                      channels[w % channels.size()], mode));
      if (!workers_.back()->Start()) {
        std::cerr << "simulated worker " << w << " could not connect\n";
        return false;
      }
    }
    heart_ = std::thread([this] {
      while (beating_) {
        for (auto& w : workers_) w->Heartbeat();
        for (int i = 0; i < 10 && beating_; ++i)
          std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
    });
    return true;
  }
  void StopHeartbeats() {
    beating_ = false;
    if (heart_.joinable()) heart_.join();
  }
  void Stop() {
    StopHeartbeats();
    for (auto& w : workers_) w->Close();
    workers_.clear();
  }
  int64_t assignments() const {
    int64_t n = 0;
    for (const auto& w : workers_) n += w->assignments();
    return n;
  }
  std::vector<double> TakeDispatchLatencies() {
    std::vector<double> all;
    for (auto& w : workers_) {
      std::vector<double> l = w->TakeDispatchLatencies();
      all.insert(all.end(), l.begin(), l.end());
    }
    return all;
  }

 private:
  std::vector<std::unique_ptr<SimWorker>> workers_;
  std::atomic<bool> beating_{true};
  std::thread heart_;
};

struct Row {
  std::string figure, value, baseline, ratio;
};

// --soak_seconds: the reliability load of issue 6 — submitters, watchers and
// a fleet of simulated workers all at once for a bounded time; then every
// accepted experiment must succeed (nothing lost), with no failed RPC.
int RunSoak(const Options& o, const std::string& server_bin,
            const fs::path& work) {
  ServerProcess server;
  if (!StartServer(server_bin, work, o.sweep_jobs, &server)) return 1;
  FleetMode mode;
  Fleet fleet;
  if (!fleet.Start(server.addr, o.workers, o.slots, &mode)) return 1;
  std::mutex mu;
  std::vector<std::string> ids;  // accepted experiments, in order
  std::vector<double> submit_lat, watch_lag_ms;
  std::atomic<int64_t> submit_failed{0}, watch_failed{0}, watch_events{0};
  std::atomic<bool> soaking{true};
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  for (int c = 0; c < o.soak_submitters; ++c) {
    threads.emplace_back([&] {
      auto stub = v1::ExperimentService::NewStub(Connect(server.addr));
      std::vector<double> lat;
      while (Seconds(t0) < o.soak_seconds) {
        grpc::ClientContext ctx;
        v1::SubmitExperimentRequest req;
        req.set_spec(
            "name: soak\ntrial: {}\nsweep: {grid: {train.seed: [1, 2]}}\n");
        v1::SubmitExperimentResponse res;
        const auto s0 = std::chrono::steady_clock::now();
        if (stub->SubmitExperiment(&ctx, req, &res).ok()) {
          lat.push_back(Seconds(s0));
          std::lock_guard<std::mutex> lock(mu);
          ids.push_back(res.experiment_id());
        } else {
          ++submit_failed;
        }
      }
      std::lock_guard<std::mutex> lock(mu);
      submit_lat.insert(submit_lat.end(), lat.begin(), lat.end());
    });
  }
  for (int w = 0; w < o.soak_watchers; ++w) {
    threads.emplace_back([&] {
      auto stub = v1::ExperimentService::NewStub(Connect(server.addr));
      std::vector<double> lags;
      while (soaking) {
        std::string id;
        {
          std::lock_guard<std::mutex> lock(mu);
          if (!ids.empty()) id = ids.back();
        }
        if (id.empty()) {
          std::this_thread::sleep_for(std::chrono::milliseconds(5));
          continue;
        }
        grpc::ClientContext ctx;
        ctx.set_deadline(std::chrono::system_clock::now() +
                         std::chrono::seconds(30));
        v1::WatchExperimentRequest req;
        req.set_experiment_id(id);
        auto reader = stub->WatchExperiment(&ctx, req);
        v1::ExperimentEvent e;
        while (reader->Read(&e)) {
          ++watch_events;
          if (e.has_job() && e.job().updated_unix_ms() > 0) {
            lags.push_back(static_cast<double>(NowMicros() / 1000 -
                                               e.job().updated_unix_ms()));
          }
          if (e.has_finished()) break;
        }
        ctx.TryCancel();
        const grpc::Status st = reader->Finish();
        if (!st.ok() && st.error_code() != grpc::StatusCode::CANCELLED) {
          ++watch_failed;
          std::cerr << "watch " << id << ": " << st.error_message() << "\n";
        }
      }
      std::lock_guard<std::mutex> lock(mu);
      watch_lag_ms.insert(watch_lag_ms.end(), lags.begin(), lags.end());
    });
  }
  for (int c = 0; c < o.soak_submitters; ++c) threads[c].join();
  auto api = v1::ExperimentService::NewStub(Connect(server.addr));
  const auto drain0 = std::chrono::steady_clock::now();
  while (CountExperiments(*api, v1::EXPERIMENT_STATE_RUNNING, 1) != 0 &&
         Seconds(drain0) < 120) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  soaking = false;
  for (size_t i = o.soak_submitters; i < threads.size(); ++i) threads[i].join();
  const int64_t succeeded =
      CountExperiments(*api, v1::EXPERIMENT_STATE_SUCCEEDED);
  const int64_t accepted = static_cast<int64_t>(ids.size());
  const Percentiles sl = Summarize(submit_lat);
  std::vector<double> dispatch = fleet.TakeDispatchLatencies();
  const Percentiles dl = Summarize(dispatch);
  const Percentiles wl = Summarize(watch_lag_ms);
  fleet.Stop();
  std::cout << absl::StrFormat(
      "soak: %.0f s, %d submitters, %d watchers, %d simulated workers x %d "
      "slots\n"
      "  experiments accepted %lld (2 jobs each), succeeded %lld, lost %lld\n"
      "  failed RPCs: submit %lld, watch %lld\n"
      "  submit latency p50 %.2f ms, p99 %.2f ms\n"
      "  dispatch (queued -> worker) p50 %.2f ms, p99 %.2f ms over %zu "
      "assignments\n"
      "  watch lag (job change -> watcher) p50 %.0f ms, p99 %.0f ms over %lld "
      "events\n",
      o.soak_seconds, o.soak_submitters, o.soak_watchers, o.workers, o.slots,
      static_cast<long long>(accepted), static_cast<long long>(succeeded),
      static_cast<long long>(accepted - succeeded),
      static_cast<long long>(submit_failed.load()),
      static_cast<long long>(watch_failed.load()), sl.p50 * 1e3, sl.p99 * 1e3,
      dl.p50 / 1e3, dl.p99 / 1e3, dispatch.size(), wl.p50, wl.p99,
      static_cast<long long>(watch_events.load()));
  const bool ok = succeeded == accepted && submit_failed == 0 &&
                  watch_failed == 0 && accepted > 0;
  std::cout << (ok ? "soak: no failed RPCs, no lost jobs\n"
                   : "soak: FAILED (see above)\n");
  return ok ? 0 : 1;
}

// --- Scale ------------------------------------------------------------------
// VmRSS and VmHWM (peak) of a process, in bytes.
std::pair<double, double> Rss(pid_t pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/status"));
  double rss = -1, hwm = -1;
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("VmRSS:", 0) == 0) rss = std::stod(line.substr(6)) * 1024;
    if (line.rfind("VmHWM:", 0) == 0) hwm = std::stod(line.substr(6)) * 1024;
  }
  return {rss, hwm};
}

// A quantile of a Prometheus histogram from its text exposition, interpolated
// linearly inside the bucket as PromQL's histogram_quantile() does.
double HistogramQuantile(const std::string& text, const std::string& name,
                         double q) {
  std::vector<std::pair<double, double>> buckets;  // (le, cumulative count)
  std::istringstream in(text);
  const std::string prefix = name + "_bucket{le=\"";
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(prefix, 0) != 0) continue;
    const size_t end = line.find('"', prefix.size());
    const std::string le = line.substr(prefix.size(), end - prefix.size());
    const double count = std::stod(line.substr(line.rfind(' ') + 1));
    buckets.emplace_back(le == "+Inf" ? INFINITY : std::stod(le), count);
  }
  if (buckets.empty() || buckets.back().second <= 0) return -1;
  const double rank = q * buckets.back().second;
  double lo = 0, below = 0;
  for (const auto& [le, cum] : buckets) {
    if (cum >= rank) {
      if (std::isinf(le)) return lo;
      return lo + (le - lo) * (rank - below) / std::max(cum - below, 1.0);
    }
    lo = le;
    below = cum;
  }
  return lo;
}

// Submits `count` copies of `spec` from `clients` threads; returns seconds.
double SubmitMany(const std::string& addr, const std::string& spec, int count,
                  int clients, std::atomic<int64_t>* failed) {
  std::atomic<int> next{0};
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&] {
      auto stub = v1::ExperimentService::NewStub(Connect(addr));
      while (next.fetch_add(1) < count) {
        grpc::ClientContext ctx;
        v1::SubmitExperimentRequest req;
        req.set_spec(spec);
        v1::SubmitExperimentResponse res;
        if (!stub->SubmitExperiment(&ctx, req, &res).ok()) ++*failed;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  return Seconds(t0);
}

std::string SeedSweep(int jobs, const std::string& extra = "") {
  std::string spec =
      "name: scale\n" + extra + "trial: {}\nsweep: {grid: {train.seed: [";
  for (int i = 1; i <= jobs; ++i) absl::StrAppend(&spec, i > 1 ? ", " : "", i);
  return spec + "]}}\n";
}

// The coordinator at scale: (1) `scale_jobs` queued jobs (10,000-job sweeps
// from 4 clients), then `scale_workers` simulated workers draining them:
// scheduler time per placement (p50/p99 from the server's own histogram) and
// the server's resident memory; (2) GetResults of a `results_jobs`-job
// experiment whose jobs each reported `results_points` points per series;
// (3) ListExperiments pages with `list_experiments` experiments stored.
int RunScale(const Options& o, const std::string& server_bin,
             const fs::path& work) {
  std::vector<Row> rows;
  std::atomic<int64_t> failed{0};
  {
    ServerProcess server;
    fs::create_directories(work / "scale");
    if (!StartServer(server_bin, work / "scale", 10'000, &server)) return 1;
    const int per = std::min(10'000, o.scale_jobs);
    const int sweeps = (o.scale_jobs + per - 1) / per;
    const double fill_s =
        SubmitMany(server.addr, SeedSweep(per), sweeps, 4, &failed);
    const auto [rss_fill, hwm_fill] = Rss(server.pid);
    rows.push_back(
        {absl::StrFormat("queue filled: %d jobs (%d sweeps)", sweeps * per,
                         sweeps),
         absl::StrFormat("%.1f s (%.0f jobs/s), RSS %.2f GiB", fill_s,
                         sweeps * per / fill_s, rss_fill / (1 << 30)),
         "", ""});
    FleetMode mode;
    Fleet fleet;
    const auto t0 = std::chrono::steady_clock::now();
    if (!fleet.Start(server.addr, o.scale_workers, 1, &mode)) return 1;
    const double connect_s = Seconds(t0);
    const int64_t placed_connecting = fleet.assignments();
    const auto d0 = std::chrono::steady_clock::now();
    std::this_thread::sleep_for(std::chrono::duration<double>(o.seconds));
    const int64_t placed = fleet.assignments() - placed_connecting;
    const double drain_s = Seconds(d0);
    fleet.StopHeartbeats();
    const std::string text = MetricsText(server.metrics_addr);
    const double p50 =
        HistogramQuantile(text, "ladle_scheduler_decision_seconds", 0.5);
    const double p99 =
        HistogramQuantile(text, "ladle_scheduler_decision_seconds", 0.99);
    const auto [rss, hwm] = Rss(server.pid);
    fleet.Stop();
    rows.push_back(
        {absl::StrFormat("%d workers drain the queue", o.scale_workers),
         absl::StrFormat("%lld placed in %.1f s (%.0f jobs/s) once all were "
                         "connected (connecting took %.1f s, %lld placed)",
                         static_cast<long long>(placed), drain_s,
                         placed / std::max(drain_s, 1e-9), connect_s,
                         static_cast<long long>(placed_connecting)),
         "", ""});
    rows.push_back(
        {"scheduler time per placement (server histogram)",
         absl::StrFormat("p50 %.1f us, p99 %.1f us", p50 * 1e6, p99 * 1e6),
         "target p99 <= 100 us", ""});
    rows.push_back({"coordinator resident memory",
                    absl::StrFormat("%.2f GiB now, peak %.2f GiB",
                                    rss / (1 << 30), hwm / (1 << 30)),
                    "target <= 2 GiB", ""});
  }
  {
    ServerProcess server;
    fs::create_directories(work / "results");
    if (!StartServer(server_bin, work / "results", 10'000, &server)) return 1;
    auto api = v1::ExperimentService::NewStub(Connect(server.addr));
    FleetMode mode;
    mode.stream_metrics = true;
    mode.batches = 1;
    mode.lines = o.results_points;
    Fleet fleet;
    if (!fleet.Start(server.addr, 100, 1, &mode)) return 1;
    std::string id;
    {
      grpc::ClientContext ctx;
      v1::SubmitExperimentRequest req;
      req.set_spec(SeedSweep(o.results_jobs));
      v1::SubmitExperimentResponse res;
      if (!api->SubmitExperiment(&ctx, req, &res).ok()) return 1;
      id = res.experiment_id();
    }
    {
      std::cout << "results: waiting for " << o.results_jobs
                << " jobs to report " << o.results_points
                << " lines of metrics each...\n";
    }
    const auto t0 = std::chrono::steady_clock::now();
    while (CountExperiments(*api, v1::EXPERIMENT_STATE_SUCCEEDED) < 1 &&
           Seconds(t0) < 600)
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    fleet.Stop();
    // (a) The read `ladle results` makes for a train experiment (summaries,
    // attempts, artifacts; no series), (b) the CLI itself, process start
    // included, (c) a plot's read: one series thinned to 200 points a job.
    grpc::ChannelArguments big;
    big.SetMaxReceiveMessageSize(512 << 20);
    auto reader = v1::ExperimentService::NewStub(grpc::CreateCustomChannel(
        server.addr, grpc::InsecureChannelCredentials(), big));
    auto time_results = [&](bool metrics, int64_t* points, int64_t* bytes) {
      std::vector<double> ms;
      for (int i = 0; i < 10; ++i) {
        grpc::ClientContext ctx;
        v1::GetResultsRequest req;
        req.set_experiment_id(id);
        if (metrics) {
          req.set_include_metrics(true);
          req.add_metric_names("val_accuracy");
          req.set_max_points_per_series(200);
        }
        v1::ExperimentResults res;
        const auto c0 = std::chrono::steady_clock::now();
        if (!reader->GetResults(&ctx, req, &res).ok()) ++failed;
        ms.push_back(Seconds(c0) * 1e3);
        *points = 0;
        for (const auto& j : res.jobs()) *points += j.metrics_size();
        *bytes = static_cast<int64_t>(res.ByteSizeLong());
      }
      return Summarize(ms);
    };
    int64_t points = 0, bytes = 0;
    const Percentiles table = time_results(false, &points, &bytes);
    rows.push_back(
        {absl::StrFormat("GetResults as `ladle results` reads it (%d jobs)",
                         o.results_jobs),
         absl::StrFormat("p50 %.1f ms, p99 %.1f ms (%.1f MB)", table.p50,
                         table.p99, bytes / 1e6),
         "target < 100 ms", ""});
    const fs::path cli = fs::path(server_bin).parent_path() / "ladle";
    std::vector<double> cli_ms;
    for (int i = 0; i < 5; ++i) {
      const auto c0 = std::chrono::steady_clock::now();
      const std::string cmd =
          absl::StrCat("LADLE_ADDR=", server.addr, " '", cli.string(),
                       "' results ", id, " > /dev/null 2>&1");
      if (std::system(cmd.c_str()) != 0) ++failed;
      cli_ms.push_back(Seconds(c0) * 1e3);
    }
    const Percentiles c = Summarize(cli_ms);
    rows.push_back(
        {absl::StrFormat("`ladle results` (CLI process, %d jobs, %d points "
                         "per series stored)",
                         o.results_jobs, o.results_points),
         absl::StrFormat("p50 %.0f ms, max %.0f ms", c.p50, c.max),
         "target < 100 ms", ""});
    const Percentiles plot = time_results(true, &points, &bytes);
    rows.push_back(
        {"GetResults for a plot (1 series, <= 200 points a job)",
         absl::StrFormat("p50 %.0f ms, p99 %.0f ms (%lld points, %.1f MB)",
                         plot.p50, plot.p99, static_cast<long long>(points),
                         bytes / 1e6),
         "", ""});
    // Many experiments, then every page of the list.
    const double list_fill_s = SubmitMany(server.addr, "name: l\ntrial: {}\n",
                                          o.list_experiments - 1, 16, &failed);
    std::vector<double> page_ms;
    std::string token;
    int64_t listed = 0;
    do {
      grpc::ClientContext ctx;
      v1::ListExperimentsRequest req;
      req.set_page_size(50);
      req.set_page_token(token);
      v1::ListExperimentsResponse res;
      const auto c0 = std::chrono::steady_clock::now();
      if (!api->ListExperiments(&ctx, req, &res).ok()) {
        ++failed;
        break;
      }
      page_ms.push_back(Seconds(c0) * 1e3);
      listed += res.experiments_size();
      token = res.next_page_token();
    } while (!token.empty());
    const Percentiles lp = Summarize(page_ms);
    rows.push_back(
        {absl::StrFormat("ListExperiments pages of 50, %lld stored",
                         static_cast<long long>(listed)),
         absl::StrFormat("p50 %.2f ms, p99 %.2f ms, max %.1f ms over %zu pages "
                         "(stored in %.0f s)",
                         lp.p50, lp.p99, lp.max, page_ms.size(), list_fill_s),
         "target < 10 ms", ""});
  }
  std::cout << "\n";
  for (const Row& r : rows)
    std::cout << absl::StrFormat("%-52s %-60s %s\n", r.figure, r.value,
                                 r.baseline);
  std::cout << "failed RPCs: " << failed.load() << "\n";
  return failed.load() == 0 ? 0 : 1;
}

int Run(const Options& o) {
  const fs::path self = fs::read_symlink("/proc/self/exe");
  const std::string server_bin =
      o.server.empty() ? (self.parent_path() / "ladle-server").string()
                       : o.server;
  const fs::path work =
      fs::temp_directory_path() / absl::StrCat("ladle-loadbench-", getpid());
  fs::create_directories(work);
  if (o.scale) {
    std::cout << absl::StrFormat(
        "ladle-loadbench --scale: %d queued jobs, %d workers, %u cores\n",
        o.scale_jobs, o.scale_workers, std::thread::hardware_concurrency());
    const int rc = RunScale(o, server_bin, work);
    std::error_code ec;
    fs::remove_all(work, ec);
    return rc;
  }
  if (o.soak_seconds > 0) {
    const int rc = RunSoak(o, server_bin, work);
    std::error_code ec;
    fs::remove_all(work, ec);
    return rc;
  }
  std::vector<Row> rows;
  std::cout << absl::StrFormat(
      "ladle-loadbench: %d clients, %d simulated workers x %d slots, %.0f s "
      "phases, %u cores\n",
      o.clients, o.workers, o.slots, o.seconds,
      std::thread::hardware_concurrency());

  // Baseline 1: raw unary gRPC.
  const std::string echo_addr = absl::StrCat("127.0.0.1:", FreePort());
  const pid_t echo = Spawn({self.string(), "--serve_echo=" + echo_addr},
                           (work / "echo.log").string());
  {
    auto ch = Connect(echo_addr);
    ch->WaitForConnected(std::chrono::system_clock::now() +
                         std::chrono::seconds(10));
  }
  // Measured in rounds alternating with phase A (below): this VM's speed
  // drifts by tens of percent within minutes, so each submit round is
  // compared with the baseline measured just before it.
  auto echo_round = [&]() {
    int64_t failed = 0;
    const Rate r = MeasuredHammer(
        echo, o.clients, o.seconds,
        [&](int) {
          auto stub = bench::Echo::NewStub(Connect(echo_addr));
          return [stub = std::shared_ptr<bench::Echo::Stub>(std::move(stub))] {
            grpc::ClientContext ctx;
            bench::PingMessage in, out;
            in.set_payload("name: bench\ntrial: {}\n");
            return stub->Ping(&ctx, in, &out).ok();
          };
        },
        nullptr, &failed);
    std::cout << absl::StrFormat(
        "baseline: raw gRPC unary %.0f QPS (%d clients; CPU per call: server "
        "%.0f us, clients %.0f us)\n",
        r.qps, o.clients, r.server_us, r.client_us);
    return r;
  };
  std::vector<Rate> echo_rates = {echo_round()};

  // Baseline 2: raw SQLite.
  const double sqlite_rate =
      o.submit_only ? 0
                    : SqliteInsertRate((work / "raw.db").string(),
                                       o.sqlite_rows, o.sqlite_batch);
  if (!o.submit_only)
    std::cout << absl::StrFormat(
        "baseline: raw SQLite %.0f rows/s (WAL, synchronous=FULL, %d rows per "
        "transaction)\n",
        sqlite_rate, o.sqlite_batch);

  // The server.
  ServerProcess server;
  if (!StartServer(server_bin, work, o.sweep_jobs, &server)) return 1;
  const std::string& addr = server.addr;
  const std::string& metrics_addr = server.metrics_addr;
  auto api = v1::ExperimentService::NewStub(Connect(addr));

  // Phase A: submit throughput, no workers (jobs queue up), in rounds each
  // after a baseline round.
  std::vector<double> submit_lat;
  int64_t submit_failed = 0;
  std::atomic<int64_t> submitted{0};
  if (o.submit_only)  // for attaching a profiler to the submit phase
    std::cout << "server pid " << server.pid << std::endl;
  std::vector<Rate> submit_rates;
  std::vector<double> ratios;
  for (int round = 0; round < o.rounds; ++round) {
    if (round > 0) echo_rates.push_back(echo_round());
    const Rate r = MeasuredHammer(
        server.pid, o.clients, o.seconds,
        [&](int) {
          auto stub = std::shared_ptr<v1::ExperimentService::Stub>(
              v1::ExperimentService::NewStub(Connect(addr)));
          return [stub, &submitted] {
            grpc::ClientContext ctx;
            v1::SubmitExperimentRequest req;
            req.set_spec("name: bench\ntrial: {}\n");
            v1::SubmitExperimentResponse res;
            const bool ok = stub->SubmitExperiment(&ctx, req, &res).ok();
            submitted += ok;
            return ok;
          };
        },
        &submit_lat, &submit_failed);
    std::cout << absl::StrFormat(
        "submit round %d: %.0f/s (CPU per submit: server %.0f us, clients "
        "%.0f us) = %.2f x the baseline just before\n",
        round + 1, r.qps, r.server_us, r.client_us,
        r.qps / echo_rates.back().qps);
    submit_rates.push_back(r);
    ratios.push_back(r.qps / echo_rates.back().qps);
  }
  Stop(echo);
  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  std::vector<double> echo_qps_all, submit_qps_all;
  for (const Rate& r : echo_rates) echo_qps_all.push_back(r.qps);
  for (const Rate& r : submit_rates) submit_qps_all.push_back(r.qps);
  const double echo_qps = median(echo_qps_all);
  const double submit_rate = median(submit_qps_all);
  std::string ratio_list;
  for (double x : ratios)
    absl::StrAppend(&ratio_list, ratio_list.empty() ? "" : ", ",
                    absl::StrFormat("%.2f", x));
  const Percentiles sl = Summarize(submit_lat);
  rows.push_back(
      {absl::StrFormat("submit: 1-job experiments, %d clients", o.clients),
       absl::StrFormat("%.0f/s median of %d rounds (p50 %.2f ms, p99 %.2f ms, "
                       "%d failed)",
                       submit_rate, o.rounds, sl.p50 * 1e3, sl.p99 * 1e3,
                       submit_failed),
       absl::StrFormat("raw gRPC unary %.0f QPS", echo_qps),
       absl::StrFormat("%.2f (median; rounds %s)", median(ratios),
                       ratio_list)});
  if (o.submit_only) {
    std::cout << absl::StrFormat("%s: %s vs %s = %s\n", rows[0].figure,
                                 rows[0].value, rows[0].baseline,
                                 rows[0].ratio);
    std::cout << GroupCommitLine(metrics_addr);
    const std::string m =
        "{method=\"/ladle.v1.ExperimentService/SubmitExperiment\"}";
    const double handled =
        ScrapeCounter(metrics_addr, "ladle_rpc_duration_seconds_count" + m);
    const double handler_s =
        ScrapeCounter(metrics_addr, "ladle_rpc_duration_seconds_sum" + m);
    std::cout << absl::StrFormat(
        "server side: %.0f submits, %.3f ms mean from the call's start to its "
        "reply\n",
        handled, handler_s / handled * 1e3);
    std::error_code ec;
    fs::remove_all(work, ec);
    return submit_failed > 0 ? 1 : 0;
  }

  // Phase B: big sweeps.
  std::string sweep = "name: sweep\ntrial: {}\nsweep: {grid: {train.seed: [";
  for (int i = 1; i <= o.sweep_jobs; ++i)
    absl::StrAppend(&sweep, i > 1 ? ", " : "", i);
  sweep += "]}}\n";
  std::vector<double> sweep_s;
  for (int i = 0; i < o.sweeps; ++i) {
    grpc::ClientContext ctx;
    v1::SubmitExperimentRequest req;
    req.set_spec(sweep);
    v1::SubmitExperimentResponse res;
    const auto t0 = std::chrono::steady_clock::now();
    grpc::Status st = api->SubmitExperiment(&ctx, req, &res);
    sweep_s.push_back(Seconds(t0));
    if (!st.ok()) {
      std::cerr << "sweep submit failed: " << st.error_message() << "\n";
      sweep_s.back() = -1;
    }
  }
  std::string sweep_list;
  for (double s : sweep_s)
    absl::StrAppend(&sweep_list, sweep_list.empty() ? "" : ", ",
                    absl::StrFormat("%.3f", s));
  rows.push_back(
      {absl::StrFormat("%d-job sweep accepted (x%d)", o.sweep_jobs, o.sweeps),
       sweep_list + " s", "", ""});

  // Phase C: the fleet drains the backlog.
  const int64_t backlog =
      submitted + static_cast<int64_t>(o.sweeps) * o.sweep_jobs;
  FleetMode mode;
  Fleet fleet;
  const auto drain_t0 = std::chrono::steady_clock::now();
  if (!fleet.Start(addr, o.workers, o.slots, &mode)) return 1;
  while (CountExperiments(*api, v1::EXPERIMENT_STATE_RUNNING, 1) != 0 &&
         Seconds(drain_t0) < 600) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  const double drain_s = Seconds(drain_t0);
  const int64_t succeeded =
      CountExperiments(*api, v1::EXPERIMENT_STATE_SUCCEEDED);
  const int64_t assigned = fleet.assignments();
  fleet.TakeDispatchLatencies();
  rows.push_back(
      {absl::StrFormat("end to end: %lld trivial jobs drained by %d workers",
                       static_cast<long long>(backlog), o.workers),
       absl::StrFormat("%.0f jobs/s (%.2f s; %lld experiments succeeded of "
                       "%lld; %lld assignments)",
                       backlog / drain_s, drain_s,
                       static_cast<long long>(succeeded),
                       static_cast<long long>(submitted + o.sweeps),
                       static_cast<long long>(assigned)),
       "", ""});

  // Phase D: dispatch latency on an idle fleet, one job at a time.
  std::vector<double> dispatch_us, submit_to_start_us;
  for (int i = 0; i < o.dispatch_samples; ++i) {
    const int64_t before = fleet.assignments();
    const int64_t t0 = NowMicros();
    grpc::ClientContext ctx;
    v1::SubmitExperimentRequest req;
    req.set_spec("name: probe\ntrial: {}\n");
    v1::SubmitExperimentResponse res;
    if (!api->SubmitExperiment(&ctx, req, &res).ok()) continue;
    while (fleet.assignments() <= before) std::this_thread::yield();
    submit_to_start_us.push_back(static_cast<double>(NowMicros() - t0));
    // Let the result land so the fleet is idle again.
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  dispatch_us = fleet.TakeDispatchLatencies();
  const Percentiles dl = Summarize(dispatch_us);
  const Percentiles ss = Summarize(submit_to_start_us);
  rows.push_back({absl::StrFormat("dispatch: queued -> worker receives (%zu)",
                                  dispatch_us.size()),
                  absl::StrFormat("p50 %.3f ms, p99 %.3f ms, max %.3f ms",
                                  dl.p50 / 1e3, dl.p99 / 1e3, dl.max / 1e3),
                  "", ""});
  rows.push_back(
      {"submit call -> worker receives (same probes)",
       absl::StrFormat("p50 %.3f ms, p99 %.3f ms", ss.p50 / 1e3, ss.p99 / 1e3),
       "", ""});

  // Phase E: metric ingest.
  mode.batches = o.ingest_batches;
  mode.lines = o.ingest_lines;
  mode.stream_metrics = true;
  const double points_before =
      ScrapeCounter(metrics_addr, "ladle_metric_points_ingested_total");
  const int64_t expected = static_cast<int64_t>(o.ingest_jobs) *
                           o.ingest_batches * o.ingest_lines * 5;
  std::string ingest_spec =
      "name: ingest\ntrial: {}\nsweep: {grid: {train.seed: [";
  for (int i = 1; i <= o.ingest_jobs; ++i)
    absl::StrAppend(&ingest_spec, i > 1 ? ", " : "", i);
  ingest_spec += "]}}\n";
  const auto ingest_t0 = std::chrono::steady_clock::now();
  {
    grpc::ClientContext ctx;
    v1::SubmitExperimentRequest req;
    req.set_spec(ingest_spec);
    v1::SubmitExperimentResponse res;
    api->SubmitExperiment(&ctx, req, &res);
  }
  double points_now = points_before;
  while (points_now - points_before < expected && Seconds(ingest_t0) < 300) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    points_now =
        ScrapeCounter(metrics_addr, "ladle_metric_points_ingested_total");
  }
  const double ingest_s = Seconds(ingest_t0);
  const double ingest_rate = (points_now - points_before) / ingest_s;
  rows.push_back(
      {absl::StrFormat("ingest: %lld points, %d streams",
                       static_cast<long long>(expected), o.ingest_jobs),
       absl::StrFormat("%.0f points/s (%.2f s)", ingest_rate, ingest_s),
       absl::StrFormat("raw SQLite %.0f rows/s", sqlite_rate),
       absl::StrFormat("%.2f", ingest_rate / sqlite_rate)});
  mode.stream_metrics = false;

  fleet.StopHeartbeats();
  const std::string group_commit = GroupCommitLine(metrics_addr);
  const double lost_attempts =
      ScrapeCounter(metrics_addr, "ladle_attempts_total{outcome=\"lost\"}");
  const double failed_attempts =
      ScrapeCounter(metrics_addr, "ladle_attempts_total{outcome=\"failed\"}");
  fleet.Stop();

  std::cout << "\n";
  std::cout << absl::StrFormat("%-52s  %-56s  %-28s  %s\n", "figure", "ladle",
                               "baseline (same run)", "ratio");
  for (const Row& r : rows) {
    std::cout << absl::StrFormat("%-52s  %-56s  %-28s  %s\n", r.figure, r.value,
                                 r.baseline, r.ratio);
  }
  std::cout << "\n" << group_commit;
  std::cout << absl::StrFormat("attempts lost: %.0f, failed: %.0f\n",
                               lost_attempts, failed_attempts);
  const bool lost = succeeded != submitted + o.sweeps;
  std::cout << (lost ? "LOST JOBS: not every experiment succeeded\n"
                     : "no failed or lost jobs\n");
  std::error_code ec;
  fs::remove_all(work, ec);
  return lost || submit_failed > 0 ? 1 : 0;
}

}  // namespace
}  // namespace ladle

int main(int argc, char** argv) {
  // As ladle-server does (Debian's Abseil records lock order on every
  // absl::Mutex lock, gRPC's included): the echo baseline and the clients
  // run without it too, so the ratios compare like with like.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  ladle::Options o;
  CLI::App app{"ladle-loadbench: the coordinator under load (see the header)"};
  app.add_option("--server", o.server, "ladle-server binary");
  app.add_option("--seconds", o.seconds, "length of the timed phases")
      ->check(CLI::Range(0.2, 600.0));
  app.add_option("--clients", o.clients, "concurrent submitters")
      ->check(CLI::Range(1, 1024));
  app.add_option("--workers", o.workers, "simulated workers")
      ->check(CLI::Range(1, 10000));
  app.add_option("--slots", o.slots, "CPU slots per simulated worker")
      ->check(CLI::Range(1, 1024));
  app.add_option("--rounds", o.rounds,
                 "submit rounds, each right after a raw gRPC round")
      ->check(CLI::Range(1, 100));
  app.add_option("--sweep_jobs", o.sweep_jobs, "jobs in the big sweep")
      ->check(CLI::Range(1, 1'000'000));
  app.add_option("--sweeps", o.sweeps, "big sweeps submitted")
      ->check(CLI::Range(0, 100));
  app.add_option("--dispatch_samples", o.dispatch_samples,
                 "sequential probes for dispatch latency")
      ->check(CLI::Range(1, 100000));
  app.add_option("--ingest_jobs", o.ingest_jobs, "attempts streaming metrics")
      ->check(CLI::Range(1, 10000));
  app.add_option("--ingest_batches", o.ingest_batches, "batches per attempt")
      ->check(CLI::Range(1, 100000));
  app.add_option("--ingest_lines", o.ingest_lines,
                 "metrics.jsonl lines per batch (5 points each)")
      ->check(CLI::Range(1, 100000));
  app.add_option("--sqlite_rows", o.sqlite_rows, "baseline SQLite rows")
      ->check(CLI::Range(1000, 100'000'000));
  app.add_option("--soak_seconds", o.soak_seconds,
                 "run only the soak scenario for this long (submitters, "
                 "watchers and the fleet at once; fails on any lost job)")
      ->check(CLI::Range(0.0, 86400.0));
  app.add_option("--soak_submitters", o.soak_submitters)
      ->check(CLI::Range(1, 1024));
  app.add_option("--soak_watchers", o.soak_watchers)
      ->check(CLI::Range(0, 1024));
  app.add_flag("--submit_only", o.submit_only,
               "run only the raw gRPC baseline and the submit phase");
  app.add_flag("--scale", o.scale,
               "run only the scale scenario: a big queue drained by many "
               "workers, GetResults of a big experiment, list pages");
  app.add_option("--scale_jobs", o.scale_jobs)
      ->check(CLI::Range(1, 100'000'000));
  app.add_option("--scale_workers", o.scale_workers)
      ->check(CLI::Range(1, 100'000));
  app.add_option("--results_jobs", o.results_jobs)
      ->check(CLI::Range(1, 10'000));
  app.add_option("--results_points", o.results_points)
      ->check(CLI::Range(1, 100'000));
  app.add_option("--list_experiments", o.list_experiments)
      ->check(CLI::Range(2, 10'000'000));
  app.add_option("--serve_echo", o.serve_echo)->group("");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  if (!o.serve_echo.empty()) return ladle::ServeEcho(o.serve_echo);
  signal(SIGPIPE, SIG_IGN);
  return ladle::Run(o);
}
