// WorkerService: worker sessions (hello, heartbeats, metrics, logs, results;
// assignments and cancels down the same stream) and artifact uploads.
#include <deque>
#include <memory>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "common/status_macros.h"
#include "common/worker_labels.h"
#include "nlohmann/json.hpp"
#include "proto/api_util.h"
#include "server/service.h"

namespace ladle {
namespace {

using grpc::ServerContext;
using grpc::StatusCode;

// A worker's hello: an id of 1-128 characters and bounded capacities.
absl::Status CheckHello(const v1::WorkerHello& hello) {
  if (hello.worker_id().empty() || hello.worker_id().size() > 128) {
    return absl::InvalidArgumentError("hello.worker_id: 1-128 characters");
  }
  // Bounded (found by tests/fuzz: a sum past INT_MAX overflowed): a host
  // with more is almost surely a bad value, not a machine.
  constexpr int kMaxGpus = 1024, kMaxCpuSlots = 1 << 20;
  if (hello.gpus() < 0 || hello.gpus() > kMaxGpus || hello.cpu_slots() < 0 ||
      hello.cpu_slots() > kMaxCpuSlots ||
      hello.gpus() + hello.cpu_slots() == 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "hello: gpus must be in [0, ", kMaxGpus, "] and cpu_slots in [0, ",
        kMaxCpuSlots, "], not both 0; got gpus ", hello.gpus(), ", cpu_slots ",
        hello.cpu_slots()));
  }
  const std::map<std::string, std::string> labels(hello.labels().begin(),
                                                  hello.labels().end());
  if (absl::Status st = CheckWorkerLabels(labels, "hello.labels"); !st.ok())
    return st;
  if (hello.address().size() > 255 ||
      hello.address().find_first_of(" \t\n/") != std::string::npos) {
    return absl::InvalidArgumentError(
        "hello.address: a host name or IP address of at most 255 characters");
  }
  return absl::OkStatus();
}

// The host of a gRPC peer ("ipv4:10.0.0.7:5123", "ipv6:[::1]:5123", with
// the brackets URL-encoded by some gRPC versions): how other workers reach
// that worker when it does not say.
std::string PeerHost(std::string peer) {
  for (const char* prefix : {"ipv4:", "ipv6:"}) {
    if (peer.rfind(prefix, 0) == 0) peer = peer.substr(5);
  }
  for (auto [from, to] :
       {std::pair<const char*, const char*>{"%5B", "["}, {"%5D", "]"}}) {
    for (size_t at; (at = peer.find(from)) != std::string::npos;)
      peer.replace(at, 3, to);
  }
  if (!peer.empty() && peer[0] == '[') {
    const size_t close = peer.find(']');
    return close == std::string::npos ? peer : peer.substr(1, close - 1);
  }
  const size_t colon = peer.rfind(':');
  return colon == std::string::npos ? peer : peer.substr(0, colon);
}

// A coordinator command as the message the worker's stream carries.
void FillInput(const InputFile& in, v1::InputArtifact* out) {
  out->set_job_id(in.artifact.job_id);
  out->set_name(in.artifact.name);
  out->set_sha256(in.artifact.sha256);
  out->set_size_bytes(in.artifact.size);
  out->set_path(in.path);
}

v1::CoordinatorMessage MessageOf(const WorkerCommand& c) {
  v1::CoordinatorMessage m;
  if (c.type == WorkerCommand::Type::kAssign) {
    v1::Assignment* a = m.mutable_assignment();
    a->set_attempt_id(c.assignment.attempt_id);
    a->set_job_id(c.assignment.job_id);
    a->set_experiment_id(c.assignment.experiment_id);
    a->set_attempt_number(c.assignment.attempt_number);
    a->set_kind(c.kind);
    a->set_spec_json(c.spec_json);
    a->set_cpu_slots(c.cpu_slots);
    a->set_gpu_share_milli(c.gpu_share_milli);
    a->set_timeout_seconds(c.timeout_seconds);
    a->set_queued_at_unix_micros(c.queued_at_us);
    for (const InputFile& in : c.inputs) FillInput(in, a->add_inputs());
    if (!c.checkpoint.path.empty())
      FillInput(c.checkpoint, a->mutable_checkpoint());
    for (int g : c.assignment.gpu_indices) a->add_gpu_indices(g);
    if (c.assignment.world_size > 1) {
      v1::GangRank* g = a->mutable_gang();
      g->set_rank(c.assignment.rank);
      g->set_world_size(c.assignment.world_size);
      g->set_local_rank(c.assignment.local_rank);
      g->set_local_world_size(c.assignment.local_world_size);
      g->set_master_addr(c.master_addr);
      g->set_rank0_attempt_id(c.assignment.gang_attempt_id);
    }
  } else if (c.type == WorkerCommand::Type::kRendezvous) {
    m.mutable_rendezvous()->set_attempt_id(c.assignment.attempt_id);
    m.mutable_rendezvous()->set_master_port(c.master_port);
  } else {
    m.mutable_cancel()->set_attempt_id(c.assignment.attempt_id);
    m.mutable_cancel()->set_reason(c.reason);
  }
  return m;
}

// Messages for one worker's stream, written by the session's writer thread.
struct Outbox {
  absl::Mutex mu;
  std::deque<v1::CoordinatorMessage> q ABSL_GUARDED_BY(mu);
  bool closed ABSL_GUARDED_BY(mu) = false;
};

// Writes the outbox to the stream until it is closed or the call ends.
void WriteOutbox(
    Outbox* outbox,
    grpc::ServerReaderWriter<v1::CoordinatorMessage, v1::WorkerMessage>* stream,
    ServerContext* ctx) {
  while (true) {
    std::deque<v1::CoordinatorMessage> batch;
    {
      absl::MutexLock lock(&outbox->mu);
      auto ready = [outbox]() ABSL_SHARED_LOCKS_REQUIRED(outbox->mu) {
        return !outbox->q.empty() || outbox->closed;
      };
      outbox->mu.AwaitWithTimeout(absl::Condition(&ready),
                                  absl::Milliseconds(500));
      if (outbox->closed) return;
      batch.swap(outbox->q);
    }
    if (ctx->IsCancelled()) return;
    for (const auto& m : batch) {
      if (!stream->Write(m)) return;
    }
  }
}

}  // namespace

absl::Status WorkerServiceImpl::CheckWorker(grpc::ServerContext* ctx) const {
  ASSIGN_OR_RETURN(Principal p, CallerOf(*auth_, ctx));
  if (p.role == Principal::Role::kUser) {
    return absl::PermissionDeniedError(
        "the WorkerService needs a worker or admin token");
  }
  return absl::OkStatus();
}

grpc::Status WorkerServiceImpl::UploadArtifact(
    ServerContext* ctx, grpc::ServerReader<v1::ArtifactChunk>* reader,
    v1::UploadArtifactResponse* resp) {
  if (absl::Status st = CheckWorker(ctx); !st.ok()) return ToGrpc(st);
  v1::ArtifactChunk chunk;
  if (!reader->Read(&chunk) || !chunk.has_header()) {
    return grpc::Status(StatusCode::INVALID_ARGUMENT,
                        "upload: the first chunk must carry the header");
  }
  const v1::ArtifactHeader h = chunk.header();
  if (!IsValidArtifactName(h.name())) {
    return grpc::Status(
        StatusCode::INVALID_ARGUMENT,
        "header.name: a relative path of [A-Za-z0-9._+=,@-] segments "
        "joined by '/', none '.' or '..'");
  }
  auto job = coordinator_->JobOfRunningAttempt(h.attempt_id());
  if (!job.ok()) return ToGrpc(job.status());
  auto upload = artifacts_->Begin(h.size_bytes(), h.sha256());
  if (!upload.ok()) return ToGrpc(upload.status());
  absl::Status st = ReceiveChunks(reader, chunk, upload->get());
  if (!st.ok()) return ToGrpc(st);  // the partial file goes with the upload
  auto sha = (*upload)->Commit();
  if (!sha.ok()) return ToGrpc(sha.status());
  st = store_->AddArtifact({*job, h.name(), *sha, h.size_bytes()});
  if (!st.ok()) return ToGrpc(st);
  resp->set_sha256(*sha);
  resp->set_size_bytes(h.size_bytes());
  return grpc::Status::OK;
}

// One message of a worker's session; ABORTED ends the session.
grpc::Status WorkerServiceImpl::Handle(const std::string& worker_id,
                                       const v1::WorkerMessage& msg) {
  if (msg.has_heartbeat()) {
    absl::Status st = coordinator_->Heartbeat(worker_id);
    if (absl::IsNotFound(st)) {
      // Its lease ran out while it was silent (stopped, partitioned): its
      // attempts were given to others. End the session so it reconnects and
      // is told which of its attempts to stop.
      LOG(WARNING) << "worker " << worker_id
                   << " is back after its lease expired; ending its session";
      return grpc::Status(StatusCode::ABORTED,
                          "this worker's lease expired; reconnect");
    }
    if (!st.ok()) LOG(WARNING) << "heartbeat from " << worker_id << ": " << st;
  } else if (msg.has_metrics()) {
    std::vector<MetricPoint> points;
    const int64_t now = SystemClock::Get()->NowMillis();
    for (const std::string& line : msg.metrics().jsonl_lines()) {
      std::vector<MetricPoint> p = ParseMetricLine(line, now);
      points.insert(points.end(), p.begin(), p.end());
    }
    absl::Status st = coordinator_->IngestMetrics(msg.metrics().attempt_id(),
                                                  std::move(points));
    if (!st.ok() && !absl::IsFailedPrecondition(st))
      LOG(WARNING) << "metrics: " << st;
  } else if (msg.has_logs()) {
    auto job = coordinator_->JobOfRunningAttempt(msg.logs().attempt_id());
    if (job.ok()) {
      absl::Status st = logs_->Append(*job, msg.logs().attempt_id(),
                                      msg.logs().stream(), msg.logs().data());
      if (!st.ok()) LOG(WARNING) << "logs: " << st;
    }
  } else if (msg.has_draining()) {
    absl::Status st = coordinator_->DrainWorker(worker_id);
    if (!st.ok()) LOG(WARNING) << "drain of " << worker_id << ": " << st;
  } else if (msg.has_rendezvous()) {
    absl::Status st = coordinator_->Rendezvous(
        worker_id, msg.rendezvous().attempt_id(), msg.rendezvous().port());
    if (!st.ok()) LOG(WARNING) << "rendezvous from " << worker_id << ": " << st;
  } else if (msg.has_result()) {
    const v1::AttemptResult& r = msg.result();
    AttemptOutcome outcome = AttemptOutcome::kFailed;
    if (r.outcome() == v1::AttemptResult::OUTCOME_SUCCEEDED)
      outcome = AttemptOutcome::kSucceeded;
    if (r.outcome() == v1::AttemptResult::OUTCOME_CANCELLED)
      outcome = AttemptOutcome::kCancelled;
    // Stopped for a drain (after a checkpoint): runs again, no retry used.
    if (r.outcome() == v1::AttemptResult::OUTCOME_STOPPED)
      outcome = AttemptOutcome::kStopped;
    absl::Status st =
        coordinator_->ReportResult(worker_id, r.attempt_id(), outcome,
                                   r.exit_code(), r.reason(), r.summary_json());
    if (!st.ok()) LOG(WARNING) << "result from " << worker_id << ": " << st;
  }
  return grpc::Status::OK;
}

grpc::Status WorkerServiceImpl::Session(
    ServerContext* ctx,
    grpc::ServerReaderWriter<v1::CoordinatorMessage, v1::WorkerMessage>*
        stream) {
  if (absl::Status st = CheckWorker(ctx); !st.ok()) return ToGrpc(st);
  v1::WorkerMessage first;
  if (!stream->Read(&first))
    return grpc::Status(StatusCode::CANCELLED, "stream closed before hello");
  if (!first.has_hello()) {
    return grpc::Status(StatusCode::INVALID_ARGUMENT,
                        "session: the first message must be hello");
  }
  const v1::WorkerHello& hello = first.hello();
  if (absl::Status st = CheckHello(hello); !st.ok()) return ToGrpc(st);
  WorkerInfo info;
  info.id = hello.worker_id();
  info.name = hello.name().empty() ? hello.worker_id() : hello.name();
  info.capacity = {hello.gpus(), hello.cpu_slots()};
  nlohmann::json labels = nlohmann::json::object();
  for (const auto& [k, v] : hello.labels()) labels[k] = v;
  info.labels_json = labels.dump();
  info.address =
      hello.address().empty() ? PeerHost(ctx->peer()) : hello.address();

  auto outbox = std::make_shared<Outbox>();
  auto sink = [outbox](const WorkerCommand& c) {
    v1::CoordinatorMessage m = MessageOf(c);
    absl::MutexLock lock(&outbox->mu);
    outbox->q.push_back(std::move(m));
  };
  uint64_t session = 0;
  std::vector<int64_t> running(hello.running_attempt_ids().begin(),
                               hello.running_attempt_ids().end());
  {
    // Hold the outbox so the welcome goes out before any assignment
    // ConnectWorker pushes.
    absl::StatusOr<std::vector<int64_t>> stop =
        coordinator_->ConnectWorker(info, running, sink, &session);
    if (!stop.ok()) return ToGrpc(stop.status());
    v1::CoordinatorMessage welcome;
    welcome.mutable_welcome()->set_worker_id(info.id);
    welcome.mutable_welcome()->set_heartbeat_interval_ms(
        heartbeat_interval_ms_);
    welcome.mutable_welcome()->set_lease_ms(lease_ms_);
    for (int64_t a : *stop) welcome.mutable_welcome()->add_stop_attempt_ids(a);
    absl::MutexLock lock(&outbox->mu);
    outbox->q.push_front(std::move(welcome));
  }
  LOG(INFO) << "worker " << info.id << " connected (" << info.capacity.gpus
            << " GPUs, " << info.capacity.cpu_slots << " CPU slots)";

  std::thread writer(
      [outbox, stream, ctx] { WriteOutbox(outbox.get(), stream, ctx); });
  v1::WorkerMessage msg;
  grpc::Status end = grpc::Status::OK;
  while (end.ok() && stream->Read(&msg)) end = Handle(info.id, msg);
  coordinator_->DisconnectWorker(info.id, session);
  {
    absl::MutexLock lock(&outbox->mu);
    outbox->closed = true;
  }
  writer.join();
  LOG(INFO) << "worker " << info.id << " disconnected";
  return end;
}

}  // namespace ladle
