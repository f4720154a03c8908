// Control of an attempt's child process, as decisions the worker applies:
// when to signal it (its timeout, the grace after SIGTERM) and what its exit
// means (the attempt's result). Pure: no processes, no clock of its own, so
// it is unit-tested on made-up times and wait statuses.
#ifndef LADLE_WORKER_CHILD_CONTROL_H_
#define LADLE_WORKER_CHILD_CONTROL_H_

#include <cstdint>
#include <string>

#include "ladle/v1/workers.pb.h"
#include "worker/attempt_launch.h"

namespace ladle {

// What the worker tracks of a running child to decide on signals.
struct ChildTimers {
  int64_t timeout_seconds = 0;  // 0: none
  int64_t deadline_ms = 0;      // started + timeout; 0: none
  bool timed_out = false;
  bool cancel_requested = false;
  bool drain_requested = false;  // the worker stops: exit 3 then means stopped
  int64_t term_sent_ms = 0;      // SIGTERM sent (cancel, timeout); 0: not yet
  // resources.memory_bytes (0: none), and what its processes held resident
  // when the worker killed them for going past it.
  int64_t memory_limit_bytes = 0;
  int64_t memory_exceeded_bytes = 0;  // 0: not exceeded
};

enum class ChildSignal { kNone, kTerm, kKill };

// The signal to send the (still running) child's process group at `now_ms`:
// SIGTERM once its deadline passes (unless a cancel already stopped it), then
// SIGKILL every `kill_grace_ms` while it outlives a SIGTERM. Updates `t`.
ChildSignal NextSignal(ChildTimers& t, int64_t now_ms, int64_t kill_grace_ms);

// The result of an attempt whose child exited with wait status `status`:
// succeeded (exit 0, with its summary file), failed by its timeout or its
// memory limit, cancelled on request, stopped (exit 3 when the worker
// drains: it saved a checkpoint), or failed (the program, its exit code and
// the last line of its stderr).
v1::AttemptResult ExitResult(int64_t attempt_id, int status,
                             const ChildTimers& t, const AttemptLayout& layout);

}  // namespace ladle

#endif  // LADLE_WORKER_CHILD_CONTROL_H_
