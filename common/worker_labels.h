// Worker labels (`ladle-worker --label KEY=VALUE`; under Slurm also
// slurm_job_id and node): shown by `ladle workers`, the web UI and the API. One
// rule, checked by the worker at start and by the coordinator on every hello.
#ifndef LADLE_COMMON_WORKER_LABELS_H_
#define LADLE_COMMON_WORKER_LABELS_H_

#include <map>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace ladle {

inline constexpr int kMaxWorkerLabels = 32;

// A key of 1-63 of [a-z0-9_.-] starting with a letter; a value of at most 256
// printable characters. INVALID_ARGUMENT naming `where` and the fix.
inline absl::Status CheckWorkerLabel(const std::string& key,
                                     const std::string& value,
                                     const std::string& where) {
  bool key_ok =
      !key.empty() && key.size() <= 63 && key[0] >= 'a' && key[0] <= 'z';
  for (char c : key) {
    key_ok = key_ok && ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                        c == '_' || c == '.' || c == '-');
  }
  if (!key_ok) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": label key '", key,
                     "': use 1-63 of a-z, 0-9, '_', '.', '-', starting with a "
                     "letter"));
  }
  bool value_ok = value.size() <= 256;
  for (unsigned char c : value) value_ok = value_ok && c >= 0x20 && c != 0x7f;
  if (!value_ok) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": label ", key,
                     ": a value of at most 256 printable characters"));
  }
  return absl::OkStatus();
}

inline absl::Status CheckWorkerLabels(
    const std::map<std::string, std::string>& labels,
    const std::string& where) {
  if (labels.size() > static_cast<size_t>(kMaxWorkerLabels)) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": at most ", kMaxWorkerLabels, " labels"));
  }
  for (const auto& [k, v] : labels) {
    if (absl::Status st = CheckWorkerLabel(k, v, where); !st.ok()) return st;
  }
  return absl::OkStatus();
}

}  // namespace ladle

#endif  // LADLE_COMMON_WORKER_LABELS_H_
