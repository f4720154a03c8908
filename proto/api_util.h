// Helpers shared by everything that speaks ladle.v1 (server, worker, CLI):
// state names, and streaming a file as ArtifactChunks (the header on the first
// chunk only).
#ifndef LADLE_PROTO_API_UTIL_H_
#define LADLE_PROTO_API_UTIL_H_

#include <cstdio>
#include <string>

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

// Writes `f` from its current position to `writer` (a gRPC ServerWriter or
// ClientWriter of ArtifactChunk) in 1 MiB chunks; `header` goes on the first
// chunk, which is sent even for an empty file. Returns false when the stream
// broke.
template <typename Writer>
bool WriteFileChunks(std::FILE* f, const v1::ArtifactHeader& header,
                     Writer* writer) {
  v1::ArtifactChunk chunk;
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

}  // namespace ladle

#endif  // LADLE_PROTO_API_UTIL_H_
