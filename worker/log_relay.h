// Relaying what an attempt's child writes: new complete lines of its
// metrics.jsonl, and new bytes of its stdout/stderr logs (capped per stream),
// as WorkerMessages; and keeping the log files themselves under a cap on disk.
// Each call reads from an offset the caller keeps per attempt. No state,
// thread-compatible.
#ifndef LADLE_WORKER_LOG_RELAY_H_
#define LADLE_WORKER_LOG_RELAY_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "ladle/v1/workers.pb.h"

namespace ladle {

// True for a line of the metrics protocol: a JSON object with an integer
// "step" >= 0 (its numeric keys are the metrics; other values are ignored).
bool IsMetricLine(const std::string& line);

// The complete lines appended to `path` since `*offset` as one metrics
// message (a partial last line waits for the next call); nullopt when there
// is none or no file. Lines that are not metric lines are left out, and
// appended to `malformed` when given. Advances `*offset` past the lines read.
std::optional<v1::WorkerMessage> ReadMetricLines(
    int64_t attempt_id, const std::string& path, int64_t* offset,
    std::vector<std::string>* malformed = nullptr);

// New bytes of the log `path` of `stream` ("stdout" / "stderr") since
// `*offset`, in messages of at most 256 KiB: one per call, or — `drain`, once
// the child has exited — all that is left. At most `cap` bytes in all are
// relayed; the message that reaches the cap ends with a notice naming the
// file, which keeps the rest. Advances `*offset`.
std::vector<v1::WorkerMessage> ReadLogChunks(int64_t attempt_id,
                                             const std::string& stream,
                                             const std::string& path,
                                             int64_t cap, bool drain,
                                             int64_t* offset);

// Keeps a child's log file (opened O_APPEND by the child) under `cap` bytes:
// past it, the file is cut back to its first half, a notice and the last
// quarter of what was written (the end of a log says why a run failed). In
// place where the file system can (FALLOC_FL_COLLAPSE_RANGE); elsewhere by
// truncating and appending. Returns the bytes dropped.
int64_t CapLogFile(const std::string& path, int64_t cap);

// The whole file; empty when it cannot be read.
std::string ReadFile(const std::string& path);

// The last non-empty line of a file, reading at most its last 64 KiB.
std::string LastLine(const std::string& path);

}  // namespace ladle

#endif  // LADLE_WORKER_LOG_RELAY_H_
