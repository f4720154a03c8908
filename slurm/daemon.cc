#include "slurm/daemon.h"

#include <algorithm>
#include <chrono>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/log.h"
#include "proto/channel.h"

namespace ladle::slurm {
namespace {

absl::Status FromGrpc(const grpc::Status& s, const char* what) {
  if (s.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(s.error_code()),
                      absl::StrCat(what, ": ", s.error_message()));
}

}  // namespace

Daemon::Daemon(const Config& config, SlurmClient* slurm,
               v1::ExperimentService::StubInterface* coordinator,
               std::string token, prometheus::Registry* registry)
    : config_(config),
      slurm_(slurm),
      coordinator_(coordinator),
      token_(std::move(token)),
      autoscaler_(config.autoscaler) {
  if (registry == nullptr) return;
  errors_ = &prometheus::BuildCounter()
                 .Name("ladle_slurm_errors_total")
                 .Help("failed Slurm commands and coordinator calls, by op")
                 .Register(*registry);
  auto& pilots = prometheus::BuildCounter()
                     .Name("ladle_slurm_pilots_total")
                     .Help("pilot jobs submitted, cancelled or drained")
                     .Register(*registry);
  submitted_ = &pilots.Add({{"action", "submitted"}});
  cancelled_ = &pilots.Add({{"action", "cancelled"}});
  drained_ = &pilots.Add({{"action", "drained"}});
  auto& now = prometheus::BuildGauge()
                  .Name("ladle_slurm_pilots")
                  .Help("pilot jobs Slurm lists, by state")
                  .Register(*registry);
  pending_ = &now.Add({{"state", "pending"}});
  running_ = &now.Add({{"state", "running"}});
  up_ = &prometheus::BuildGauge()
             .Name("ladle_slurm_up")
             .Help("1 when the last round reached Slurm and the coordinator")
             .Register(*registry)
             .Add({});
}

void Daemon::Count(const std::string& op) {
  if (errors_ != nullptr) errors_->Add({{"op", op}}).Increment();
}

absl::Status Daemon::Round(int64_t now_ms) {
  // A fresh context per call: a deadline, the admin token.
  auto context = [this](grpc::ClientContext* ctx) {
    ctx->set_deadline(std::chrono::system_clock::now() +
                      std::chrono::seconds(10));
    AddBearerToken(ctx, token_);
  };
  v1::QueueSummary summary;
  v1::ListWorkersResponse workers;
  grpc::ClientContext summary_ctx, workers_ctx;
  context(&summary_ctx);
  context(&workers_ctx);
  absl::Status st =
      FromGrpc(coordinator_->GetQueueSummary(&summary_ctx, {}, &summary),
               "GetQueueSummary");
  if (st.ok()) {
    st = FromGrpc(coordinator_->ListWorkers(&workers_ctx, {}, &workers),
                  "ListWorkers");
  }
  if (!st.ok()) {
    Count("coordinator");
    if (up_ != nullptr) up_->Set(0);
    return st;
  }
  absl::StatusOr<std::vector<Pilot>> pilots = slurm_->ListPilots();
  if (!pilots.ok()) {
    Count("squeue");
    if (up_ != nullptr) up_->Set(0);
    return pilots.status();
  }
  if (up_ != nullptr) up_->Set(1);
  std::vector<Demand> demand;
  for (const v1::ShapeDemand& d : summary.shapes()) {
    demand.push_back({d.shape().gpus(), d.shape().cpu_slots(),
                      d.shape().ranks(), d.shape().gpu_share_milli(),
                      d.queued_jobs(), d.max_memory_bytes()});
  }
  std::vector<PilotWorker> pilot_workers;
  for (const v1::Worker& w : workers.workers()) {
    auto id = w.labels().find("slurm_job_id");
    if (id == w.labels().end()) continue;
    pilot_workers.push_back(
        {id->second, w.state() == "alive", w.running_attempts()});
  }
  int pending = 0, running = 0;
  for (const Pilot& p : *pilots) (p.running ? running : pending) += 1;
  if (pending_ != nullptr) {
    pending_->Set(pending);
    running_->Set(running);
  }
  const Actions actions =
      autoscaler_.Decide(demand, *pilots, pilot_workers, now_ms);
  for (const std::string& shape : actions.unfit)
    LOG(WARNING) << "no pilot type fits " << shape;
  for (const std::string& type : actions.submit) {
    const PilotType* t = nullptr;
    for (const PilotType& c : config_.autoscaler.types)
      if (c.name == type) t = &c;
    absl::StatusOr<std::string> id = slurm_->Submit(*t);
    if (!id.ok()) {
      Count("sbatch");
      LOG(WARNING) << "sbatch (" << type << "): " << id.status();
      continue;
    }
    if (submitted_ != nullptr) submitted_->Increment();
    LOG(INFO) << "submitted pilot " << *id << " (" << type << ")";
  }
  for (const std::string& id : actions.cancel) {
    absl::Status st = slurm_->Cancel(id);
    if (!st.ok()) Count("scancel");
    if (st.ok() && cancelled_ != nullptr) cancelled_->Increment();
    LOG(INFO) << "cancelled pilot " << id << (st.ok() ? "" : ": ")
              << (st.ok() ? "" : st.ToString());
  }
  for (const std::string& id : actions.drain) {
    absl::Status st = slurm_->Drain(id);
    if (!st.ok()) Count("scancel");
    if (st.ok() && drained_ != nullptr) drained_->Increment();
    LOG(INFO) << "draining pilot " << id << " before its time limit";
  }
  return absl::OkStatus();
}

void Daemon::Run(int64_t interval_ms) {
  int64_t wait = interval_ms;
  while (!stop_) {
    absl::Status st = Round(absl::ToUnixMillis(absl::Now()));
    if (st.ok()) {
      wait = interval_ms;
    } else {
      wait = std::min<int64_t>(wait * 2, 60'000);
      LOG(WARNING) << st << "; next round in " << wait << " ms";
    }
    for (int64_t slept = 0; slept < wait && !stop_; slept += 50)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

}  // namespace ladle::slurm
