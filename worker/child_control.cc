#include "worker/child_control.h"

#include <sys/wait.h>

#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "common/byte_size.h"
#include "worker/log_relay.h"

namespace ladle {
namespace {
constexpr int kStoppedExitCode = 3;  // saved a checkpoint and stopped
}  // namespace

ChildSignal NextSignal(ChildTimers& t, int64_t now_ms, int64_t kill_grace_ms) {
  if (t.deadline_ms > 0 && now_ms >= t.deadline_ms && !t.timed_out &&
      !t.cancel_requested) {
    t.timed_out = true;
    t.term_sent_ms = now_ms;
    return ChildSignal::kTerm;
  }
  if (t.term_sent_ms > 0 && now_ms >= t.term_sent_ms + kill_grace_ms) {
    t.term_sent_ms = now_ms;  // once per grace period, until reaped
    return ChildSignal::kKill;
  }
  return ChildSignal::kNone;
}

v1::AttemptResult ExitResult(int64_t attempt_id, int status,
                             const ChildTimers& t,
                             const AttemptLayout& layout) {
  v1::AttemptResult r;
  r.set_attempt_id(attempt_id);
  const int code =
      WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.set_exit_code(code);
  if (code == 0) {
    r.set_outcome(v1::AttemptResult::OUTCOME_SUCCEEDED);
    r.set_summary_json(ReadFile(layout.summary_file));
  } else if (t.memory_exceeded_bytes > 0) {
    r.set_outcome(v1::AttemptResult::OUTCOME_FAILED);
    r.set_reason(absl::StrCat(
        "exceeded memory_bytes = ", ByteSizeText(t.memory_limit_bytes),
        " (its processes held ", ByteSizeText(t.memory_exceeded_bytes),
        " resident); killed. Raise resources.memory_bytes or use less"));
  } else if (t.timed_out) {
    r.set_outcome(v1::AttemptResult::OUTCOME_FAILED);
    r.set_reason(absl::StrCat(
        "timed out: still running after timeout_seconds = ", t.timeout_seconds,
        "; stopped (exit code ", code, ")"));
  } else if (t.cancel_requested) {
    r.set_outcome(v1::AttemptResult::OUTCOME_CANCELLED);
    r.set_reason("stopped on request");
  } else if (t.drain_requested && code == kStoppedExitCode) {
    r.set_outcome(v1::AttemptResult::OUTCOME_STOPPED);
    r.set_reason(absl::StrCat(layout.program,
                              " stopped for the worker's drain after "
                              "saving a checkpoint (exit 3)"));
  } else {
    r.set_outcome(v1::AttemptResult::OUTCOME_FAILED);
    r.set_reason(absl::StrCat(layout.program, " exited with code ", code, ": ",
                              LastLine(layout.stderr_log)));
  }
  return r;
}

}  // namespace ladle
