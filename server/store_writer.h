// StoreWriter: the coordinator's SQLite writes, with group commit.
//
// Callers enqueue WriteBatches; a committer takes everything queued (up to a
// row cap) and commits it in one transaction, so concurrent RPCs share one
// fsync instead of paying one each. Each batch stays atomic on its own (see
// Store::Commit). After a commit the committer runs the batches' `done`
// callbacks in enqueue order: that is where callers deliver what must not be
// seen before it is durable (assignments to workers, events to watchers, RPC
// replies). One commit (with its callbacks) runs at a time.
//
// Who commits: a caller of Write or Sync that finds no commit running does it
// itself, on its own thread (as LevelDB's write queue does); the others wait
// for it and the next of them takes over. That saves two thread switches per
// write, the dearest part of a small commit on a VM. Batches only enqueued,
// with nobody waiting in Write, are committed by the writer's own thread.
//
// Thread safety: all methods may be called from any thread. `done` callbacks
// (and the `after_group` hook) run on the writer thread or on a thread inside
// Write/Sync, so: they must not call Write or Sync (they would wait for
// themselves) nor wait for locks held by a caller of Enqueue (Enqueue may
// block for back-pressure while the queue is over `max_pending_rows`), and
// Write/Sync must be called without holding a lock that a callback takes.
// They may call Enqueue: on the committing thread it never blocks (the queue
// it would wait for cannot drain until the callbacks return).
#ifndef LADLE_SERVER_STORE_WRITER_H_
#define LADLE_SERVER_STORE_WRITER_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "server/store.h"

namespace ladle {

class StoreWriter {
 public:
  struct Options {
    // Rows one transaction takes at most: bounds the latency of the batches
    // queued behind a flood.
    int64_t max_rows_per_commit = 50'000;
    // Enqueue blocks while more rows than this wait (metric floods cannot eat
    // the server's memory).
    int64_t max_pending_rows = 1'000'000;
  };
  using Done = std::function<void(const absl::Status&)>;
  // Called after each transaction: its duration, rows and batches.
  using CommitHook =
      std::function<void(double seconds, int64_t rows, int batches)>;
  // Called after each group's `done` callbacks, on the same thread, before
  // the next group commits: for work that is cheaper done once per group
  // than once per batch.
  using GroupHook = std::function<void()>;

  // `store` must outlive the writer.
  StoreWriter(Store* store, Options options, CommitHook hook = nullptr,
              GroupHook after_group = nullptr);
  // Commits everything still queued (running its callbacks), then stops.
  ~StoreWriter();
  StoreWriter(const StoreWriter&) = delete;
  StoreWriter& operator=(const StoreWriter&) = delete;

  // Queues `batch`; `done` (may be null) gets the batch's outcome after its
  // transaction. An empty batch is a barrier: its `done` runs once everything
  // queued before it has committed.
  void Enqueue(WriteBatch batch, Done done = nullptr);
  // Enqueue and wait for the outcome.
  absl::Status Write(WriteBatch batch);
  // Waits until everything enqueued before the call has committed and its
  // callback has run.
  void Sync();

  // Rows queued and not yet taken into a transaction.
  int64_t pending_rows() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  // A Write caller's outcome, set under mu_ after its group's callbacks.
  struct Waiter {
    absl::Status result;
    bool finished = false;
  };
  struct Item {
    WriteBatch batch;
    Done done;
    int64_t rows = 0;
    Waiter* waiter = nullptr;
  };
  void Run();
  // Commits one group: everything queued up to the row cap. Requires a
  // non-empty queue and no commit running; releases mu_ meanwhile.
  void CommitGroup() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void EnqueueLocked(Item item) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  Store* const store_;
  const Options options_;
  const CommitHook hook_;
  const GroupHook after_group_;
  absl::Mutex mu_;
  std::deque<Item> queue_ ABSL_GUARDED_BY(mu_);
  int64_t pending_rows_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool committing_ ABSL_GUARDED_BY(mu_) = false;
  int waiting_ ABSL_GUARDED_BY(mu_) = 0;  // callers inside Write/Sync
  std::thread thread_;
};

}  // namespace ladle

#endif  // LADLE_SERVER_STORE_WRITER_H_
