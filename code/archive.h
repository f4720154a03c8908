// Code archives: the directory a `kind: command` experiment names as its code,
// packed by `ladle submit` into one gzipped tar, stored by the coordinator
// under its SHA-256, and unpacked by a worker into each attempt's working
// directory.
//
// Packing is deterministic (entries in name order, times and owners zeroed,
// modes 0644/0755), so identical code has one address and is stored once.
// Every entry is checked before anything is written — by the coordinator when
// the archive arrives and again by the worker — and one bad entry refuses the
// whole archive: absolute paths, `..`, links whose target leaves the
// directory, devices, FIFOs and sockets. Unpacking never writes through a
// link. Thread-compatible; no state.
#ifndef LADLE_CODE_ARCHIVE_H_
#define LADLE_CODE_ARCHIVE_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace ladle {

struct CodeLimits {
  int64_t max_archive_bytes = int64_t{64} << 20;  // packed
  int64_t max_files = 10'000;
  // Unpacked: 16 × the packed limit bounds what a small, highly compressed
  // archive may expand to.
  int64_t max_unpacked_bytes = int64_t{1} << 30;
};

// No practical limit: for archives the coordinator already held to its limits
// (the worker checks their entries only) and for checkpoints.
inline CodeLimits UnlimitedCode() {
  CodeLimits l;
  l.max_archive_bytes = l.max_unpacked_bytes = int64_t{1} << 50;
  l.max_files = int64_t{1} << 40;
  return l;
}

struct CodeArchiveInfo {
  std::string sha256;          // of the archive's bytes, lowercase hex
  int64_t size_bytes = 0;      // packed
  int64_t file_count = 0;      // regular files
  int64_t unpacked_bytes = 0;  // their sizes summed
  // The largest regular files, largest first (at most 5): what to leave out
  // when a limit is hit.
  std::vector<std::pair<std::string, int64_t>> largest;
};

// Packs `dir` (honouring its .ladleignore; .git/ always left out) into the
// file `archive_path`. INVALID_ARGUMENT for a missing directory or a link out
// of it; RESOURCE_EXHAUSTED, naming the limit and the largest files, past
// `limits`.
absl::StatusOr<CodeArchiveInfo> PackDirectory(const std::string& dir,
                                              const std::string& archive_path,
                                              const CodeLimits& limits);

// Reads and checks every entry of the archive without writing anything.
// INVALID_ARGUMENT names the first bad entry; RESOURCE_EXHAUSTED a limit.
absl::StatusOr<CodeArchiveInfo> InspectArchive(const std::string& archive_path,
                                               const CodeLimits& limits);

// Checks the archive (as InspectArchive), then unpacks it into `dest_dir`
// (created if missing; should be empty). On error, what was unpacked stays
// inside dest_dir; nothing is ever written outside it.
absl::Status UnpackArchive(const std::string& archive_path,
                           const std::string& dest_dir,
                           const CodeLimits& limits);

// "archive entry '../x': ..." when an entry of that path, type and link
// target may not be unpacked; OK otherwise. `type` is the st_mode file type
// (S_IFREG, ...); `link` the target of a symlink or hard link.
absl::Status CheckEntry(const std::string& path, unsigned type,
                        const std::string& link, bool hardlink);

}  // namespace ladle

#endif  // LADLE_CODE_ARCHIVE_H_
