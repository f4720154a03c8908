#include "server/store_writer.h"

#include <chrono>
#include <utility>
#include <vector>

namespace ladle {

namespace {
// The writer whose group's callbacks this thread is running, if any.
thread_local const StoreWriter* running_callbacks_of = nullptr;
}  // namespace

StoreWriter::StoreWriter(Store* store, Options options, CommitHook hook,
                         GroupHook after_group)
    : store_(store),
      options_(options),
      hook_(std::move(hook)),
      after_group_(std::move(after_group)) {
  thread_ = std::thread([this] { Run(); });
}

StoreWriter::~StoreWriter() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  thread_.join();
}

void StoreWriter::Enqueue(WriteBatch batch, Done done) {
  const int64_t rows = batch.rows();
  absl::MutexLock lock(&mu_);
  EnqueueLocked({std::move(batch), std::move(done), rows, nullptr});
}

void StoreWriter::EnqueueLocked(Item item) {
  // Back-pressure; a batch alone over the cap still goes in once the queue is
  // empty, so nothing waits forever.
  const int64_t rows = item.rows;
  auto room = [this, rows]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
    return queue_.empty() || pending_rows_ + rows <= options_.max_pending_rows;
  };
  // The committing thread cannot wait: only it would make the room.
  if (running_callbacks_of != this) mu_.Await(absl::Condition(&room));
  pending_rows_ += rows;
  queue_.push_back(std::move(item));
}

absl::Status StoreWriter::Write(WriteBatch batch) {
  Waiter me;
  const int64_t rows = batch.rows();
  absl::MutexLock lock(&mu_);
  EnqueueLocked({std::move(batch), nullptr, rows, &me});
  ++waiting_;
  auto finished_or_free = [this, &me]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
    return me.finished || !committing_;
  };
  while (true) {
    mu_.Await(absl::Condition(&finished_or_free));
    if (me.finished) break;
    CommitGroup();  // nobody is committing: this caller does
  }
  --waiting_;
  return me.result;
}

int64_t StoreWriter::pending_rows() {
  absl::MutexLock lock(&mu_);
  return pending_rows_;
}

void StoreWriter::Sync() { Write(WriteBatch{}).IgnoreError(); }

void StoreWriter::Run() {
  absl::MutexLock lock(&mu_);
  // Only what no Write caller will commit: queued batches with nobody
  // waiting, or everything once stopping.
  auto mine = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
    return !committing_ && (stopping_ || (!queue_.empty() && waiting_ == 0));
  };
  while (true) {
    mu_.Await(absl::Condition(&mine));
    if (queue_.empty()) return;  // stopping, and everything is committed
    CommitGroup();
  }
}

void StoreWriter::CommitGroup() {
  committing_ = true;
  // Everything that queued while the last commit ran forms this group.
  std::vector<Item> group;
  int64_t rows = 0;
  while (!queue_.empty() &&
         (group.empty() ||
          rows + queue_.front().rows <= options_.max_rows_per_commit)) {
    rows += queue_.front().rows;
    group.push_back(std::move(queue_.front()));
    queue_.pop_front();
  }
  pending_rows_ -= rows;
  mu_.Unlock();
  // Barriers (empty batches) only wait for their turn.
  std::vector<const WriteBatch*> batches;
  std::vector<size_t> index;
  for (size_t i = 0; i < group.size(); ++i) {
    if (group[i].rows == 0) continue;
    batches.push_back(&group[i].batch);
    index.push_back(i);
  }
  std::vector<absl::Status> each(group.size(), absl::OkStatus());
  if (!batches.empty()) {
    std::vector<absl::Status> outcome;
    const auto t0 = std::chrono::steady_clock::now();
    store_->Commit(batches, &outcome).IgnoreError();  // also in `outcome`
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
            .count();
    for (size_t k = 0; k < index.size(); ++k) each[index[k]] = outcome[k];
    if (hook_) hook_(seconds, rows, static_cast<int>(batches.size()));
  }
  const StoreWriter* const outer = running_callbacks_of;
  running_callbacks_of = this;
  for (size_t i = 0; i < group.size(); ++i) {
    if (group[i].done) group[i].done(each[i]);
  }
  if (after_group_) after_group_();
  running_callbacks_of = outer;
  mu_.Lock();
  for (size_t i = 0; i < group.size(); ++i) {
    if (group[i].waiter == nullptr) continue;
    group[i].waiter->result = each[i];
    group[i].waiter->finished = true;
  }
  committing_ = false;
}

}  // namespace ladle
