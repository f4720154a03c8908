#include "server/metrics.h"

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

void ServerMetrics::OnTotals(const ExperimentProgress& jobs, int workers_alive,
                             int workers_known) {
  jobs_pending_->Set(jobs.pending);
  jobs_queued_->Set(jobs.queued);
  jobs_running_->Set(jobs.running);
  workers_alive_->Set(workers_alive);
  workers_lost_->Set(workers_known - workers_alive);
}

}  // namespace ladle
