// Prometheus metrics of ladle-worker (served on --metrics_listen when set).
#ifndef LADLE_WORKER_METRICS_H_
#define LADLE_WORKER_METRICS_H_

#include <map>

#include "prometheus/counter.h"
#include "prometheus/gauge.h"
#include "prometheus/registry.h"

namespace ladle {

struct WorkerMetrics {
  explicit WorkerMetrics(prometheus::Registry& r)
      : running(prometheus::BuildGauge()
                    .Name("ladle_worker_running_attempts")
                    .Help("Attempts whose child process is running")
                    .Register(r)
                    .Add({})),
        connected(prometheus::BuildGauge()
                      .Name("ladle_worker_connected")
                      .Help("1 while the session with the coordinator is open")
                      .Register(r)
                      .Add({})),
        attempts(prometheus::BuildCounter()
                     .Name("ladle_worker_attempts_total")
                     .Help("Attempts ended on this worker, by outcome")
                     .Register(r)),
        succeeded(attempts.Add({{"outcome", "succeeded"}})),
        failed(attempts.Add({{"outcome", "failed"}})),
        cancelled(attempts.Add({{"outcome", "cancelled"}})),
        metric_lines(prometheus::BuildCounter()
                         .Name("ladle_worker_metric_lines_relayed_total")
                         .Help("Metric lines sent to the coordinator")
                         .Register(r)
                         .Add({})),
        metric_lines_skipped(
            prometheus::BuildCounter()
                .Name("ladle_worker_metric_lines_skipped_total")
                .Help("Metrics-file lines skipped: not a JSON object with an "
                      "integer step")
                .Register(r)
                .Add({})),
        log_bytes(prometheus::BuildCounter()
                      .Name("ladle_worker_log_bytes_relayed_total")
                      .Help("stdout/stderr bytes sent to the coordinator")
                      .Register(r)
                      .Add({})),
        log_bytes_dropped(
            prometheus::BuildCounter()
                .Name("ladle_worker_log_bytes_dropped_total")
                .Help("stdout/stderr bytes cut from attempt log files over "
                      "--log_file_cap_bytes")
                .Register(r)
                .Add({})),
        gpu_memory_used(
            prometheus::BuildGauge()
                .Name("ladle_worker_gpu_memory_used_bytes")
                .Help("GPU memory in use (NVML), per GPU of this worker")
                .Register(r)),
        gpu_utilization(
            prometheus::BuildGauge()
                .Name("ladle_worker_gpu_utilization_ratio")
                .Help("GPU busy fraction (NVML), per GPU of this worker")
                .Register(r)),
        upload_bytes(prometheus::BuildCounter()
                         .Name("ladle_worker_artifact_upload_bytes_total")
                         .Help("Artifact bytes uploaded")
                         .Register(r)
                         .Add({})) {
    prometheus::BuildGauge()
        .Name("ladle_build_info")
        .Help("Build of this ladle-worker; always 1")
        .Register(r)
        .Add({{"version", "0.1.0"}})
        .Set(1);
  }

  // ladle_worker_info{slurm_job_id, node} 1: where this worker runs (its own
  // scrape target, so one series), from its labels of those names.
  void SetPlacement(prometheus::Registry& r,
                    const std::map<std::string, std::string>& labels) {
    std::map<std::string, std::string> info;
    for (const char* key : {"slurm_job_id", "node"}) {
      auto it = labels.find(key);
      if (it != labels.end()) info[key] = it->second;
    }
    prometheus::BuildGauge()
        .Name("ladle_worker_info")
        .Help(
            "Where this worker runs: its Slurm job and node, when it has them")
        .Register(r)
        .Add(info)
        .Set(1);
  }

  prometheus::Gauge& running;
  prometheus::Gauge& connected;
  prometheus::Family<prometheus::Counter>& attempts;
  prometheus::Counter& succeeded;
  prometheus::Counter& failed;
  prometheus::Counter& cancelled;
  prometheus::Counter& metric_lines;
  prometheus::Counter& metric_lines_skipped;
  prometheus::Counter& log_bytes;
  prometheus::Counter& log_bytes_dropped;
  prometheus::Family<prometheus::Gauge>& gpu_memory_used;
  prometheus::Family<prometheus::Gauge>& gpu_utilization;
  prometheus::Counter& upload_bytes;
};

}  // namespace ladle

#endif  // LADLE_WORKER_METRICS_H_
