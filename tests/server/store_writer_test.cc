// The writer thread: group commit, per-batch atomicity inside a group, callback
// order, back-pressure, draining on destruction, and injected commit failures.
#include "server/store_writer.h"

#include <atomic>
#include <thread>

#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/testing/fault_store.h"

namespace ladle {
namespace {

using ::testing::ElementsAre;

WriteBatch Worker(const std::string& id) {
  WriteBatch b;
  b.workers.push_back({id, id, 0, 1, "{}", "alive", 1});
  return b;
}

WriteBatch GhostJobUpdate() {
  WriteBatch b;
  JobRecord ghost;
  ghost.id = "ghost";
  b.job_updates.push_back(ghost);
  b.workers.push_back({"rolled-back", "x", 0, 1, "{}", "alive", 1});
  return b;
}

class StoreWriterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    base_ = std::move(*OpenSqliteStore(":memory:"));
    faults_ = std::make_unique<FaultStore>(base_.get());
  }
  std::unique_ptr<Store> base_;
  std::unique_ptr<FaultStore> faults_;
};

TEST_F(StoreWriterTest, BatchesQueuedDuringACommitShareTheNextOne) {
  std::atomic<int> hook_batches{0};
  StoreWriter writer(faults_.get(), {},
                     [&](double, int64_t, int b) { hook_batches += b; });
  faults_->CloseGate();
  writer.Enqueue(Worker("a"));
  faults_->AwaitWaiting(1);  // the writer holds "a" in its commit
  std::vector<std::thread> clients;
  std::atomic<int> ok{0};
  for (int i = 0; i < 8; ++i) {
    clients.emplace_back(
        [&, i] { ok += writer.Write(Worker("w" + std::to_string(i))).ok(); });
  }
  // Let all eight queue behind the held commit, then release it.
  while (writer.pending_rows() < 8) absl::SleepFor(absl::Milliseconds(1));
  faults_->OpenGate();
  for (auto& t : clients) t.join();
  EXPECT_EQ(ok, 8);
  writer.Sync();
  EXPECT_THAT(faults_->commit_sizes(), ElementsAre(1, 8));
  EXPECT_EQ(hook_batches, 9);
  EXPECT_EQ(base_->ListWorkers()->size(), 9u);
}

TEST_F(StoreWriterTest, AWriteCallerCommitsOnItsOwnThreadAndEnqueuesDoNot) {
  std::vector<std::thread::id> committed_on;
  absl::Mutex mu;
  StoreWriter writer(faults_.get(), {}, [&](double, int64_t, int) {
    absl::MutexLock lock(&mu);
    committed_on.push_back(std::this_thread::get_id());
  });
  ASSERT_TRUE(writer.Write(Worker("sync")).ok());
  absl::Notification enqueued_done;
  writer.Enqueue(Worker("async"),
                 [&](const absl::Status&) { enqueued_done.Notify(); });
  enqueued_done.WaitForNotification();
  absl::MutexLock lock(&mu);
  ASSERT_EQ(committed_on.size(), 2u);
  EXPECT_EQ(committed_on[0], std::this_thread::get_id());  // no hand-off
  EXPECT_NE(committed_on[1], std::this_thread::get_id());  // the writer's
}

TEST_F(StoreWriterTest,
       TheGroupHookRunsAfterItsCallbacksAndMayEnqueuePastTheCap) {
  std::vector<std::string> order;  // only the committing thread appends
  StoreWriter* self = nullptr;
  bool enqueued_from_hook = false;
  StoreWriter::Options options;
  options.max_pending_rows = 1;
  StoreWriter writer(faults_.get(), options, nullptr, [&] {
    order.push_back("hook");
    if (enqueued_from_hook) return;
    enqueued_from_hook = true;
    // Over the cap: an ordinary caller would wait for room here, which only
    // this thread can make.
    self->Enqueue(Worker("x"),
                  [&](const absl::Status&) { order.push_back("x"); });
    self->Enqueue(Worker("y"),
                  [&](const absl::Status&) { order.push_back("y"); });
  });
  self = &writer;
  faults_->CloseGate();
  writer.Enqueue(Worker("a"),
                 [&](const absl::Status&) { order.push_back("a"); });
  faults_->AwaitWaiting(1);
  writer.Enqueue(Worker("b"),
                 [&](const absl::Status&) { order.push_back("b"); });
  faults_->OpenGate();
  writer.Sync();
  // One hook per group, after that group's callbacks; x and y (enqueued by
  // the first hook) join b in the next group. (Sync's barrier may form a
  // group of its own: one more hook.)
  ASSERT_GE(order.size(), 6u);
  EXPECT_THAT(std::vector<std::string>(order.begin(), order.begin() + 6),
              ElementsAre("a", "hook", "b", "x", "y", "hook"));
  for (size_t i = 6; i < order.size(); ++i) EXPECT_EQ(order[i], "hook");
  EXPECT_EQ(base_->ListWorkers()->size(), 4u);
}

TEST_F(StoreWriterTest, AFailedBatchIsRolledBackAloneAndCallbacksRunInOrder) {
  StoreWriter writer(faults_.get(), {});
  faults_->CloseGate();
  writer.Enqueue(Worker("first"));
  faults_->AwaitWaiting(1);
  std::vector<std::pair<std::string, absl::StatusCode>> seen;
  auto record = [&](std::string name) {
    return [&seen, name](const absl::Status& st) {
      seen.emplace_back(name, st.code());
    };
  };
  writer.Enqueue(Worker("a"), record("a"));
  writer.Enqueue(GhostJobUpdate(), record("ghost"));
  writer.Enqueue(Worker("b"), record("b"));
  faults_->OpenGate();
  writer.Sync();
  using P = std::pair<std::string, absl::StatusCode>;
  EXPECT_THAT(seen, ElementsAre(P{"a", absl::StatusCode::kOk},
                                P{"ghost", absl::StatusCode::kNotFound},
                                P{"b", absl::StatusCode::kOk}));
  EXPECT_THAT(faults_->commit_sizes(), ElementsAre(1, 3));  // one transaction
  std::vector<std::string> ids;
  const std::vector<WorkerRecord> workers = *base_->ListWorkers();
  for (const WorkerRecord& w : workers) ids.push_back(w.id);
  EXPECT_THAT(ids, ElementsAre("a", "b", "first"));  // not "rolled-back"
}

TEST_F(StoreWriterTest, AFailedTransactionFailsEveryBatchInIt) {
  StoreWriter writer(faults_.get(), {});
  faults_->FailCommits(1, absl::ResourceExhaustedError("disk full"));
  EXPECT_EQ(writer.Write(Worker("a")).code(),
            absl::StatusCode::kResourceExhausted);
  EXPECT_TRUE(base_->ListWorkers()->empty());
  EXPECT_TRUE(writer.Write(Worker("a")).ok());  // space is back
  EXPECT_EQ(base_->ListWorkers()->size(), 1u);
}

TEST_F(StoreWriterTest, EnqueueBlocksWhileTheQueueIsFull) {
  StoreWriter::Options o;
  o.max_pending_rows = 2;
  StoreWriter writer(faults_.get(), o);
  faults_->CloseGate();
  writer.Enqueue(Worker("held"));
  faults_->AwaitWaiting(1);
  writer.Enqueue(Worker("q1"));
  writer.Enqueue(Worker("q2"));  // the queue now holds its maximum
  absl::Notification enqueued;
  std::thread t([&] {
    writer.Enqueue(Worker("q3"));
    enqueued.Notify();
  });
  EXPECT_FALSE(enqueued.WaitForNotificationWithTimeout(absl::Milliseconds(50)));
  faults_->OpenGate();
  enqueued.WaitForNotification();
  t.join();
  writer.Sync();
  EXPECT_EQ(base_->ListWorkers()->size(), 4u);
}

TEST_F(StoreWriterTest, DestructionCommitsWhatIsQueued) {
  bool done = false;
  {
    StoreWriter writer(faults_.get(), {});
    faults_->CloseGate();
    writer.Enqueue(Worker("a"));
    faults_->AwaitWaiting(1);
    writer.Enqueue(Worker("b"),
                   [&](const absl::Status& st) { done = st.ok(); });
    faults_->OpenGate();
  }
  EXPECT_TRUE(done);
  EXPECT_EQ(base_->ListWorkers()->size(), 2u);
}

}  // namespace
}  // namespace ladle
