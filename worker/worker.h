// The worker daemon's core: keeps a session with the coordinator, runs each
// assigned attempt as a child process in its own directory (ladle-train, or
// a user's program under ladle-exec: worker/attempt_launch.h), relays its
// metric lines and logs, uploads its outputs and checkpoints, reports its
// outcome, and stops it on cancel.
// Survives coordinator restarts: it reconnects with backoff, keeps children
// running, and reports them (and results it could not deliver) on reconnect.
//
// Thread safety: Run() blocks the calling thread; Stop() may be called from any
// thread.
#ifndef LADLE_WORKER_WORKER_H_
#define LADLE_WORKER_WORKER_H_

#include <sys/types.h>

#include <atomic>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "common/process.h"
#include "ladle/v1/workers.grpc.pb.h"
#include "worker/attempt_launch.h"
#include "worker/child_control.h"
#include "worker/gpu_probe.h"
#include "worker/metrics.h"

namespace ladle {

struct WorkerOptions {
  std::string coordinator = "127.0.0.1:7070";
  std::string work_dir = "./ladle-worker";
  std::string
      worker_id;     // empty: read from work_dir/worker_id or created there
  std::string name;  // empty: hostname
  // Shown by `ladle workers`, the UI and the API (CheckWorkerLabels).
  std::map<std::string, std::string> labels;
  int cpu_slots = 1;
  std::vector<int> gpus;    // GPU ordinals this worker offers
  std::string trainer;      // path of ladle-train
  std::string exec_helper;  // path of ladle-exec (kind command)
  std::string python_dir;   // holds the `ladle` Python module; empty: none
  std::string
      token;  // bearer token (a worker token) when the server has auth on
  std::string tls_ca_pem;  // CA certificate (PEM): connect with TLS when set
  int64_t kill_grace_ms = 10'000;  // SIGTERM, then SIGKILL after this long
  // How other workers reach this host (MASTER_ADDR of gangs whose rank 0
  // runs here); empty: the address the coordinator sees.
  std::string address;
  // A gang's rank > 0 waits this long for rank 0's port, then fails.
  int64_t rendezvous_timeout_ms = 300'000;
  int64_t log_cap_bytes = 16 << 20;  // per attempt and stream, relayed at most
  // Per attempt and stream, kept on disk at most (≥ 2 × log_cap_bytes): past
  // it the file keeps its first half, a notice, and the latest output (its
  // last quarter once the child has exited).
  int64_t log_file_cap_bytes = int64_t{256} << 20;
};

class Worker {
 public:
  // `metrics` (may be null) must outlive the Worker.
  explicit Worker(WorkerOptions options, WorkerMetrics* metrics = nullptr);
  ~Worker();

  // Connects and serves until Stop(). Returns an error only for bad setup (work
  // dir).
  absl::Status Run();
  // Drains: tells the coordinator (nothing new comes), stops the children
  // (they checkpoint and exit 3), reports their results through the session,
  // then returns from Run — at the latest after the kill grace and 5 s. A
  // second call stops at once (the children still get SIGTERM, then SIGKILL).
  void Stop();

 private:
  struct Attempt {
    int64_t id = 0;
    std::string job_id;
    pid_t pid = -1;
    int pidfd = -1;  // pidfd_open(pid): readable once it exits
    std::string dir;
    AttemptLayout layout;  // where its files are
    ChildTimers timers;    // timeout, cancel, SIGTERM's grace, memory
    int64_t metrics_offset = 0;
    int64_t stdout_offset = 0, stderr_offset = 0;
    int64_t malformed_metric_lines = 0;
    int64_t last_relay_ms = 0;  // its files last read (steady clock)
    // The checkpoint-saved marker's last modification time seen (ns), and
    // whether the checkpoint it announced still has to be uploaded (the
    // result waits for it).
    int64_t checkpoint_marker_ns = 0;
    bool checkpoint_pending = false;
    bool finished = false;
    bool uploaded =
        false;  // outputs sent (succeeded attempts), result may go out
    v1::AttemptResult result;  // once finished
    // Its rank in a gang: only rank 0 relays metrics and uploads outputs and
    // checkpoints (the job's are rank 0's).
    int rank = 0;
    // A gang's rank > 0 prepared and waiting for rank 0's port (until
    // wait_deadline_ms); started by a RendezvousReady.
    std::optional<SpawnOptions> waiting;
    int64_t wait_deadline_ms = 0;
    // Rank 0 of a gang: the MASTER_PORT it listens on, told again on every
    // new session (a coordinator restart may have lost the first telling).
    int master_port = 0;
  };

  absl::Status Setup();
  // A heartbeat: the running attempts, and GPU usage when NVML is there.
  v1::WorkerMessage Heartbeat() ABSL_LOCKS_EXCLUDED(mu_);
  // On Stop: SIGTERM to every child (they checkpoint), polled for the kill
  // grace, then SIGKILL to the rest.
  void DrainChildren() ABSL_LOCKS_EXCLUDED(mu_);
  // The poller's part of a drain: starts it (tells the coordinator, stops
  // the children), and ends the worker once every result went out.
  void AdvanceDrain() ABSL_LOCKS_EXCLUDED(mu_);
  // One session: returns when the stream ends.
  void Session();
  void Start(const v1::Assignment& a);
  // Spawns `at`'s process and makes it a running attempt.
  void Launch(Attempt at, const SpawnOptions& spawn);
  // Rank 0 of the waiting rank's gang listens on `port`: start it.
  void StartRank(int64_t attempt_id, int port);
  // Ends an attempt that never started (a waiting rank, a drain, a spawn
  // that failed); KeepUnstarted also files it for its result to go out.
  static void EndUnstarted(Attempt& a, v1::AttemptResult::Outcome outcome,
                           const std::string& reason);
  void KeepUnstarted(Attempt a, v1::AttemptResult::Outcome outcome,
                     const std::string& reason) ABSL_LOCKS_EXCLUDED(mu_);
  // Lays out the attempt's directory (inputs, params, spec) and says how to
  // start its process. The error is the attempt's failure reason.
  absl::StatusOr<SpawnOptions> Prepare(const v1::Assignment& a, Attempt* at);
  // Kills the child's group once its resident memory is past memory_bytes.
  void EnforceMemoryLimit(Attempt& a) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Relays new stdout/stderr bytes (all that is left once it `exited`).
  void RelayLogs(Attempt& a, bool exited, std::vector<v1::WorkerMessage>* out)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Marks a checkpoint for upload when the program touched its marker.
  void NoteCheckpoint(Attempt& a) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Relays an attempt's new metric lines; those that are not metric lines
  // are counted and the first few quoted in its stderr log.
  void RelayMetrics(Attempt& a, std::vector<v1::WorkerMessage>* out)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Cancel(int64_t attempt_id, const std::string& reason);
  // Polls children: signals (timeouts), new metric lines and log output,
  // exits; uploads the outputs of succeeded ones and delivers results.
  void Poll();
  // One child: reaps it if it exited, signals it if its timers say so, and
  // relays what it wrote (into `out`). Its result once it exited.
  void PollChild(int64_t id, Attempt& a, std::vector<v1::WorkerMessage>* out)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Sleeps up to `timeout_ms`, or until a running child exits.
  void WaitForChildren(int timeout_ms) ABSL_LOCKS_EXCLUDED(mu_);
  // SIGTERM to the child's group, after creating its stop file.
  void RequestStop(Attempt& a) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Uploads the checkpoints programs announced (outside the lock), as the
  // artifact checkpoint.tar.gz of their attempt.
  void UploadCheckpoints() ABSL_LOCKS_EXCLUDED(mu_);
  // Unpacks the assignment's checkpoint (an earlier attempt's) into the
  // attempt's checkpoint directory.
  absl::Status RestoreCheckpoint(const v1::Assignment& a,
                                 const AttemptLayout& layout);
  // Uploads the outputs of succeeded attempts (outside the lock), before
  // their results go out.
  void UploadFinished() ABSL_LOCKS_EXCLUDED(mu_);
  // Sends finished attempts' results through the session; forgets the
  // delivered ones.
  void DeliverResults() ABSL_LOCKS_EXCLUDED(mu_);
  bool Send(const v1::WorkerMessage& m);
  // Uploads the attempt's metrics, summary and output files as artifacts.
  absl::Status UploadOutputs(int64_t attempt_id, const AttemptLayout& layout);
  absl::Status UploadFile(int64_t attempt_id, const std::string& path,
                          const std::string& name);
  // The code archive of that hash in this worker's cache (work_dir/code/),
  // fetched from the coordinator and verified when missing.
  absl::StatusOr<std::string> FetchCode(const std::string& sha256);
  // A job's artifact into `path`, checked against its header's size and hash.
  absl::StatusOr<v1::ArtifactHeader> DownloadArtifactTo(
      const std::string& job_id, const std::string& name,
      const std::string& path);
  // Fetches the assignment's inputs (dependencies' artifacts) into `dir`,
  // verified against their SHA-256.
  absl::Status DownloadInputs(const v1::Assignment& a, const std::string& dir);

  WorkerOptions options_;
  WorkerMetrics* metrics_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> drain_wanted_{false};
  // Poller thread only: when the drain began (0: not yet), and until when it
  // waits for results to go out.
  int64_t drain_deadline_ms_ = 0;
  absl::Mutex mu_;
  std::map<int64_t, Attempt> attempts_ ABSL_GUARDED_BY(mu_);
  grpc::ClientReaderWriter<v1::WorkerMessage, v1::CoordinatorMessage>* stream_
      ABSL_GUARDED_BY(mu_) = nullptr;
  std::unique_ptr<grpc::ClientContext> context_ ABSL_GUARDED_BY(mu_);
  std::atomic<int64_t> heartbeat_ms_{3000};
  int wake_fd_ = -1;  // eventfd: a child started (WaitForChildren)
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<Nvml> nvml_;  // GPU usage; used by the heartbeat thread only
};

}  // namespace ladle

#endif  // LADLE_WORKER_WORKER_H_
