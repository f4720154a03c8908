// Helpers shared by everything that speaks ladle.v1 (server, worker, CLI):
// state names, and streaming a file as chunks (the header on the first chunk
// only).
#ifndef LADLE_PROTO_API_UTIL_H_
#define LADLE_PROTO_API_UTIL_H_

#include <cstdio>
#include <fstream>
#include <string>
#include <type_traits>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "common/sha256.h"
#include "ladle/v1/experiments.pb.h"
#include "ladle/v1/workers.pb.h"

namespace ladle {

// "running", "succeeded", ... as the store and the CLI spell them;
// "unspecified" for 0.
const char* ApiStateName(v1::ExperimentState s);
const char* ApiStateName(v1::JobState s);
// The inverse; UNSPECIFIED for an unknown name.
v1::ExperimentState ApiExperimentState(const std::string& name);
v1::JobState ApiJobState(const std::string& name);

// The chunk message a header type goes with: ArtifactChunk for artifacts,
// CodeChunk for code archives.
template <typename Header>
using ChunkOf =
    std::conditional_t<std::is_same_v<Header, v1::CodeArchiveHeader>,
                       v1::CodeChunk, v1::ArtifactChunk>;

// Writes `f` from its current position to `writer` (a gRPC ServerWriter or
// ClientWriter of the header's chunk type) in 1 MiB chunks; `header` goes on
// the first chunk, which is sent even for an empty file. Returns false when
// the stream broke.
template <typename Header, typename Writer>
bool WriteFileChunks(std::FILE* f, const Header& header, Writer* writer) {
  ChunkOf<Header> chunk;
  *chunk.mutable_header() = header;
  std::string buf(1 << 20, '\0');
  bool first = true;
  while (true) {
    const size_t n = std::fread(buf.data(), 1, buf.size(), f);
    if (n == 0 && !first) return true;
    chunk.set_data(buf.data(), n);
    if (!writer->Write(chunk)) return false;
    chunk.clear_header();
    first = false;
    if (n < buf.size()) return true;
  }
}

// Reads ArtifactChunks from `reader` (a ClientReader) into `path`: written to
// `path`.part, checked against the header's size and SHA-256, then renamed, so
// `path` never holds a partial or corrupt file. Does not Finish() the reader
// on success paths the caller must still check; returns the header.
template <typename Reader>
absl::StatusOr<v1::ArtifactHeader> ReadChunksToFile(Reader* reader,
                                                    const std::string& path) {
  const std::string tmp = path + ".part";
  std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
  if (!out) return absl::UnavailableError(absl::StrCat("cannot write ", tmp));
  v1::ArtifactChunk chunk;
  v1::ArtifactHeader header;
  Sha256 hash;
  int64_t got = 0;
  while (reader->Read(&chunk)) {
    if (chunk.has_header()) header = chunk.header();
    out << chunk.data();
    hash.Update(chunk.data());
    got += static_cast<int64_t>(chunk.data().size());
  }
  out.close();
  auto fail = [&](absl::Status st) {
    std::remove(tmp.c_str());
    return st;
  };
  if (!out) return fail(absl::UnavailableError("cannot write " + tmp));
  if (got != header.size_bytes()) {
    return fail(absl::DataLossError(absl::StrCat(
        "download incomplete: ", got, " of ", header.size_bytes(), " bytes")));
  }
  const std::string digest = hash.HexDigest();
  if (digest != header.sha256()) {
    return fail(absl::DataLossError(absl::StrCat(
        "download corrupt: sha256 ", digest, ", expected ", header.sha256())));
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0)
    return fail(absl::UnavailableError("cannot rename " + tmp));
  return header;
}

}  // namespace ladle

#endif  // LADLE_PROTO_API_UTIL_H_
