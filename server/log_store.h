// Job logs on the coordinator's disk: data_dir/logs/<job id>/<attempt
// id>.<stream>.log, capped per attempt and stream (the rest is dropped with one
// marker line). Names are validated so a job id can never escape the logs
// directory.
//
// Thread safety: all methods may be called concurrently.
#ifndef LADLE_SERVER_LOG_STORE_H_
#define LADLE_SERVER_LOG_STORE_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

namespace ladle {

class LogStore {
 public:
  LogStore(std::string dir, int64_t cap_bytes)
      : dir_(std::move(dir)), cap_bytes_(cap_bytes) {}

  // Appends `data` to the attempt's stream ("stdout" or "stderr").
  absl::Status Append(const std::string& job_id, int64_t attempt_id,
                      const std::string& stream, const std::string& data);

  struct Chunk {
    int64_t attempt_id = 0;
    std::string stream;
    std::string data;
  };
  // Everything past `offsets` (keyed by "<attempt>.<stream>", updated in
  // place), oldest attempt first, at most `max_bytes` in total.
  absl::StatusOr<std::vector<Chunk>> ReadNew(
      const std::string& job_id, std::map<std::string, int64_t>* offsets,
      int64_t max_bytes);

 private:
  absl::StatusOr<std::string> JobDir(const std::string& job_id) const;

  const std::string dir_;
  const int64_t cap_bytes_;
  absl::Mutex mu_;
};

}  // namespace ladle

#endif  // LADLE_SERVER_LOG_STORE_H_
