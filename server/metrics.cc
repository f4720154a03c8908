#include "server/metrics.h"

#include <algorithm>
#include <tuple>

namespace ladle {

using prometheus::BuildCounter;
using prometheus::BuildGauge;
using prometheus::BuildHistogram;
using prometheus::Histogram;

ServerMetrics::ServerMetrics(prometheus::Registry& r) {
  BuildGauge()
      .Name("ladle_build_info")
      .Help("Build of this ladle-server; always 1")
      .Register(r)
      .Add({{"version", "0.1.0"}})
      .Set(1);
  auto& jobs = BuildGauge()
                   .Name("ladle_jobs")
                   .Help("Jobs of running experiments by state (the queue)")
                   .Register(r);
  jobs_pending_ = &jobs.Add({{"state", "pending"}});
  jobs_queued_ = &jobs.Add({{"state", "queued"}});
  jobs_running_ = &jobs.Add({{"state", "running"}});
  auto& workers =
      BuildGauge().Name("ladle_workers").Help("Workers by state").Register(r);
  workers_alive_ = &workers.Add({{"state", "alive"}});
  workers_lost_ = &workers.Add({{"state", "lost"}});
  scheduling_latency_ = &BuildHistogram()
                             .Name("ladle_scheduling_latency_seconds")
                             .Help(
                                 "Time from a job becoming runnable (queued) "
                                 "to its dispatch to a worker")
                             .Register(r)
                             .Add({}, Histogram::BucketBoundaries{
                                          0.0005, 0.001, 0.002, 0.005, 0.01,
                                          0.05, 0.1, 0.5, 1, 5, 30, 120, 600});
  decision_seconds_ =
      &BuildHistogram()
           .Name("ladle_scheduler_decision_seconds")
           .Help(
               "Scheduler time per placement: each scheduling pass's time "
               "divided over the jobs it placed (one observation per job)")
           .Register(r)
           .Add({},
                Histogram::BucketBoundaries{1e-6, 2e-6, 5e-6, 1e-5, 2e-5, 5e-5,
                                            1e-4, 2e-4, 5e-4, 1e-3, 1e-2});
  auto& attempts = BuildCounter()
                       .Name("ladle_attempts_total")
                       .Help("Attempts ended, by outcome")
                       .Register(r);
  attempts_[static_cast<int>(AttemptOutcome::kSucceeded)] =
      &attempts.Add({{"outcome", "succeeded"}});
  attempts_[static_cast<int>(AttemptOutcome::kFailed)] =
      &attempts.Add({{"outcome", "failed"}});
  attempts_[static_cast<int>(AttemptOutcome::kLost)] =
      &attempts.Add({{"outcome", "lost"}});
  attempts_[static_cast<int>(AttemptOutcome::kCancelled)] =
      &attempts.Add({{"outcome", "cancelled"}});
  attempts_[static_cast<int>(AttemptOutcome::kStopped)] =
      &attempts.Add({{"outcome", "stopped"}});
  experiments_submitted_ = &BuildCounter()
                                .Name("ladle_experiments_submitted_total")
                                .Help("Experiments accepted")
                                .Register(r)
                                .Add({});
  jobs_submitted_ = &BuildCounter()
                         .Name("ladle_jobs_submitted_total")
                         .Help("Jobs created by accepted experiments")
                         .Register(r)
                         .Add({});
  metric_points_ = &BuildCounter()
                        .Name("ladle_metric_points_ingested_total")
                        .Help("Training metric points stored")
                        .Register(r)
                        .Add({});
  store_write_seconds_ =
      &BuildHistogram()
           .Name("ladle_store_commit_seconds")
           .Help("Duration of SQLite write transactions (one group commit)")
           .Register(r)
           .Add({}, Histogram::BucketBoundaries{0.0001, 0.0003, 0.001, 0.003,
                                                0.01, 0.03, 0.1, 0.3, 1});
  store_write_rows_ =
      &BuildHistogram()
           .Name("ladle_store_commit_rows")
           .Help("Rows written per SQLite write transaction")
           .Register(r)
           .Add({}, Histogram::BucketBoundaries{1, 4, 16, 64, 256, 1024, 4096,
                                                16384, 65536});
  // metrics.jsonl name -> exported gauge.
  for (const auto& [metric, name, help] :
       std::vector<std::tuple<std::string, std::string, std::string>>{
           {"train_loss", "ladle_job_train_loss",
            "Latest training loss of a running job"},
           {"val_accuracy", "ladle_job_val_accuracy",
            "Latest validation accuracy of a running job"},
           {"samples_per_second", "ladle_job_samples_per_second",
            "Training throughput of a running job (samples per second)"},
           {"epoch", "ladle_job_epoch",
            "Epochs done by a running job (fractional)"}}) {
    job_families_[metric] = &BuildGauge().Name(name).Help(help).Register(r);
  }
  store_write_batches_ =
      &BuildHistogram()
           .Name("ladle_store_commit_batches")
           .Help(
               "Write batches (RPCs and scheduler steps) sharing one SQLite "
               "transaction: the group-commit factor")
           .Register(r)
           .Add({},
                Histogram::BucketBoundaries{1, 2, 4, 8, 16, 32, 64, 128, 256});
}

void ServerMetrics::OnDispatched(double seconds) {
  scheduling_latency_->Observe(seconds);
}

void ServerMetrics::OnSchedulingPass(double seconds, int placements) {
  const double each = seconds / std::max(placements, 1);
  for (int i = 0; i < placements; ++i) decision_seconds_->Observe(each);
}

void ServerMetrics::OnAttemptEnded(AttemptOutcome outcome) {
  attempts_[static_cast<int>(outcome)]->Increment();
}

void ServerMetrics::OnExperimentSubmitted(int jobs) {
  experiments_submitted_->Increment();
  jobs_submitted_->Increment(jobs);
}

void ServerMetrics::OnMetricPoints(int64_t count) {
  metric_points_->Increment(static_cast<double>(count));
}

void ServerMetrics::OnStoreWrite(double seconds, int64_t rows, int batches) {
  store_write_seconds_->Observe(seconds);
  store_write_rows_->Observe(static_cast<double>(rows));
  store_write_batches_->Observe(batches);
}

void ServerMetrics::OnJobMetrics(const std::string& experiment_id,
                                 const std::string& job_id,
                                 const std::vector<MetricPoint>& points) {
  absl::MutexLock lock(&job_mu_);
  JobSeries& series = job_series_[job_id];
  for (const MetricPoint& p : points) {  // in order: the last value wins
    auto family = job_families_.find(p.name);
    if (family == job_families_.end()) continue;
    prometheus::Gauge*& g = series.by_name[p.name];
    if (g == nullptr) {
      g = &family->second->Add(
          {{"experiment", experiment_id}, {"job", job_id}});
      series.gauges.emplace_back(family->second, g);
    }
    g->Set(p.value);
  }
}

void ServerMetrics::OnJobStopped(const std::string& job_id) {
  absl::MutexLock lock(&job_mu_);
  auto it = job_series_.find(job_id);
  if (it == job_series_.end()) return;
  for (auto& [family, gauge] : it->second.gauges) family->Remove(gauge);
  job_series_.erase(it);
}

void ServerMetrics::OnTotals(const ExperimentProgress& jobs, int workers_alive,
                             int workers_known) {
  jobs_pending_->Set(jobs.pending);
  jobs_queued_->Set(jobs.queued);
  jobs_running_->Set(jobs.running);
  workers_alive_->Set(workers_alive);
  workers_lost_->Set(workers_known - workers_alive);
}

}  // namespace ladle
