// Artifact names: what a job's stored output files are called (the worker
// uploads them, the coordinator stores them, `ladle download` writes them).
// A name is a relative path: 1-16 segments joined by '/', each 1-128 of
// [A-Za-z0-9._+=,@-] and not "." or "..", 512 bytes at most — so it can be
// written under any directory without leaving it.
#ifndef LADLE_COMMON_ARTIFACT_NAME_H_
#define LADLE_COMMON_ARTIFACT_NAME_H_

#include <cctype>
#include <string>

namespace ladle {

// The artifact a job's checkpoint directory is uploaded as (by the worker,
// when its program announces one); the coordinator hands the latest to the
// job's next attempt.
inline constexpr char kCheckpointArtifact[] = "checkpoint.tar.gz";

inline bool IsValidArtifactName(const std::string& name) {
  if (name.empty() || name.size() > 512) return false;
  int segments = 0;
  size_t begin = 0;
  while (begin <= name.size()) {
    size_t end = name.find('/', begin);
    if (end == std::string::npos) end = name.size();
    const std::string seg = name.substr(begin, end - begin);
    if (seg.empty() || seg.size() > 128 || seg == "." || seg == "..")
      return false;
    for (char c : seg) {
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' &&
          c != '_' && c != '-' && c != '+' && c != '=' && c != ',' && c != '@')
        return false;
    }
    if (++segments > 16) return false;
    begin = end + 1;
  }
  return true;
}

}  // namespace ladle

#endif  // LADLE_COMMON_ARTIFACT_NAME_H_
