// FaultStore: a Store that forwards to another and lets tests inject faults
// (leveldb's ErrorEnv is the model): fail the next commits with a given
// status (disk full, I/O error), or hold commits at a gate to arrange what a
// group commit contains. Reads always pass through.
//
// Thread safety: all methods may be called from any thread.
#ifndef LADLE_SERVER_TESTING_FAULT_STORE_H_
#define LADLE_SERVER_TESTING_FAULT_STORE_H_

#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "server/store.h"

namespace ladle {

class FaultStore final : public Store {
 public:
  // `base` must outlive this store.
  explicit FaultStore(Store* base) : base_(base) {}

  // The next `count` transactions fail with `status` (nothing stored).
  void FailCommits(int count, absl::Status status) {
    absl::MutexLock lock(&mu_);
    fail_count_ = count;
    fail_status_ = std::move(status);
  }
  // While closed, Commit waits (after counting itself in `commits_waiting`).
  void CloseGate() {
    absl::MutexLock lock(&mu_);
    gate_open_ = false;
  }
  void OpenGate() {
    absl::MutexLock lock(&mu_);
    gate_open_ = true;
  }
  // Blocks until `n` commits are waiting at the closed gate.
  void AwaitWaiting(int n) {
    absl::MutexLock lock(&mu_);
    auto enough = [this, n]()
                      ABSL_SHARED_LOCKS_REQUIRED(mu_) { return waiting_ >= n; };
    mu_.Await(absl::Condition(&enough));
  }
  // Batch counts of the transactions that reached the base store.
  std::vector<int> commit_sizes() {
    absl::MutexLock lock(&mu_);
    return commit_sizes_;
  }

  absl::Status Commit(const std::vector<const WriteBatch*>& batches,
                      std::vector<absl::Status>* each) override {
    {
      absl::MutexLock lock(&mu_);
      ++waiting_;
      mu_.Await(absl::Condition(&gate_open_));
      --waiting_;
      if (fail_count_ > 0) {
        --fail_count_;
        each->assign(batches.size(), fail_status_);
        return fail_status_;
      }
      commit_sizes_.push_back(static_cast<int>(batches.size()));
    }
    return base_->Commit(batches, each);
  }

  absl::StatusOr<std::string> FindSubmitRequest(
      const std::string& owner, const std::string& request_id) override {
    return base_->FindSubmitRequest(owner, request_id);
  }
  absl::StatusOr<ExperimentRecord> GetExperiment(
      const std::string& id) override {
    return base_->GetExperiment(id);
  }
  absl::StatusOr<ExperimentPage> ListExperiments(
      const ExperimentFilter& filter) override {
    return base_->ListExperiments(filter);
  }
  absl::StatusOr<std::string> GetJobSpec(const std::string& id) override {
    return base_->GetJobSpec(id);
  }
  absl::StatusOr<JobRecord> GetJob(const std::string& id) override {
    return base_->GetJob(id);
  }
  absl::StatusOr<std::vector<JobRecord>> ListJobs(
      const std::string& experiment_id) override {
    return base_->ListJobs(experiment_id);
  }
  absl::StatusOr<std::vector<JobRecord>> ListActiveJobs() override {
    return base_->ListActiveJobs();
  }
  absl::StatusOr<std::vector<AttemptRecord>> ListAttempts(
      const std::string& job_id) override {
    return base_->ListAttempts(job_id);
  }
  absl::StatusOr<int64_t> MaxAttemptId() override {
    return base_->MaxAttemptId();
  }
  absl::StatusOr<std::vector<WorkerRecord>> ListWorkers() override {
    return base_->ListWorkers();
  }
  absl::StatusOr<std::vector<MetricPoint>> GetMetrics(
      const std::string& job_id) override {
    return base_->GetMetrics(job_id);
  }
  absl::StatusOr<std::map<std::string, std::map<std::string, int>>>
  CountJobStates(const std::vector<std::string>& experiment_ids) override {
    return base_->CountJobStates(experiment_ids);
  }
  absl::StatusOr<ExperimentResultsData> GetExperimentResults(
      const std::string& experiment_id, const MetricsQuery& metrics) override {
    return base_->GetExperimentResults(experiment_id, metrics);
  }
  absl::StatusOr<std::vector<ArtifactRecord>> ListArtifacts(
      const std::string& job_id) override {
    return base_->ListArtifacts(job_id);
  }

 private:
  Store* const base_;
  absl::Mutex mu_;
  bool gate_open_ ABSL_GUARDED_BY(mu_) = true;
  int waiting_ ABSL_GUARDED_BY(mu_) = 0;
  int fail_count_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Status fail_status_ ABSL_GUARDED_BY(mu_);
  std::vector<int> commit_sizes_ ABSL_GUARDED_BY(mu_);
};

}  // namespace ladle

#endif  // LADLE_SERVER_TESTING_FAULT_STORE_H_
