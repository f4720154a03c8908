#include "worker/log_relay.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

namespace ladle {
namespace {

// Cuts the middle out of the file in place (FALLOC_FL_COLLAPSE_RANGE: the
// kernel shifts what follows under the inode's lock, so whatever the child
// appends meanwhile is kept, its last line included) and writes the notice
// over the end of the kept start. Needs block-aligned ranges and a file
// system that has it (ext4, xfs); false where it cannot, and nothing changed.
bool CollapseLogFile(const std::string& path, const struct stat& st,
                     int64_t cap, int64_t* dropped) {
  const int64_t block = st.st_blksize > 0 ? st.st_blksize : 4096;
  const int64_t from = (cap / 2 + block - 1) / block * block;
  const int64_t to = (st.st_size - cap / 4) / block * block;
  if (to <= from) return false;
  const int fd = ::open(path.c_str(), O_WRONLY);  // pwrite: no O_APPEND
  if (fd < 0) return false;
  bool done = false;
  if (::fallocate(fd, FALLOC_FL_COLLAPSE_RANGE, from, to - from) == 0) {
    const std::string notice = absl::StrCat(
        "\n[ladle-worker: output dropped to keep this file under "
        "--log_file_cap_bytes=",
        cap, "; its last bytes follow]\n");
    // The notice replaces the output it covers (counted as dropped); a failed
    // write leaves the log without it, the cut itself is done.
    const ssize_t wrote = ::pwrite(fd, notice.data(), notice.size(),
                                   from - static_cast<int64_t>(notice.size()));
    *dropped = to - from + (wrote > 0 ? wrote : 0);
    done = true;
  }
  ::close(fd);
  return done;
}

}  // namespace

bool IsMetricLine(const std::string& line) {
  const nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
  if (!j.is_object()) return false;
  auto step = j.find("step");
  return step != j.end() && step->is_number_integer() &&
         step->get<int64_t>() >= 0;
}

std::optional<v1::WorkerMessage> ReadMetricLines(
    int64_t attempt_id, const std::string& path, int64_t* offset,
    std::vector<std::string>* malformed) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  in.seekg(*offset);
  std::string chunk((std::istreambuf_iterator<char>(in)),
                    std::istreambuf_iterator<char>());
  const size_t last_nl = chunk.rfind('\n');
  if (last_nl == std::string::npos) return std::nullopt;
  v1::WorkerMessage m;
  m.mutable_metrics()->set_attempt_id(attempt_id);
  std::stringstream lines(chunk.substr(0, last_nl));
  for (std::string line; std::getline(lines, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    if (IsMetricLine(line)) {
      m.mutable_metrics()->add_jsonl_lines(line);
    } else if (malformed != nullptr) {
      malformed->push_back(std::move(line));
    }
  }
  *offset += static_cast<int64_t>(last_nl + 1);
  if (m.metrics().jsonl_lines().empty()) return std::nullopt;
  return m;
}

std::vector<v1::WorkerMessage> ReadLogChunks(int64_t attempt_id,
                                             const std::string& stream,
                                             const std::string& path,
                                             int64_t cap, bool drain,
                                             int64_t* offset) {
  std::vector<v1::WorkerMessage> out;
  std::ifstream log(path, std::ios::binary);
  if (!log) return out;
  do {
    const int64_t room = cap - *offset;
    if (room <= 0) break;
    log.clear();
    log.seekg(*offset);
    std::string data(std::min<int64_t>(256 << 10, room), '\0');
    log.read(data.data(), static_cast<std::streamsize>(data.size()));
    data.resize(static_cast<size_t>(log.gcount()));
    if (data.empty()) break;
    *offset += static_cast<int64_t>(data.size());
    if (*offset >= cap) {
      absl::StrAppend(&data, "\n[ladle-worker: ", stream,
                      " relayed up to --log_cap_bytes=", cap,
                      "; the rest is in ", path, "]\n");
    }
    v1::WorkerMessage m;
    m.mutable_logs()->set_attempt_id(attempt_id);
    m.mutable_logs()->set_stream(stream);
    m.mutable_logs()->set_data(std::move(data));
    out.push_back(std::move(m));
  } while (drain);
  return out;
}

int64_t CapLogFile(const std::string& path, int64_t cap) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0 || st.st_size <= cap) return 0;
  int64_t collapsed = 0;
  if (CollapseLogFile(path, st, cap, &collapsed)) return collapsed;
  const int64_t head = cap / 2, keep_tail = cap / 4;
  std::string tail(static_cast<size_t>(keep_tail), '\0');
  const int fd = ::open(path.c_str(), O_RDWR | O_APPEND);
  if (fd < 0) return 0;
  const ssize_t n =
      ::pread(fd, tail.data(), tail.size(), st.st_size - keep_tail);
  tail.resize(n > 0 ? static_cast<size_t>(n) : 0);
  const std::string rest = absl::StrCat(
      "\n[ladle-worker: output past ", head,
      " bytes dropped to keep this file under --log_file_cap_bytes=", cap,
      "; its last bytes follow]\n", tail);
  int64_t dropped = 0;
  if (::ftruncate(fd, head) == 0 && ::write(fd, rest.data(), rest.size()) ==
                                        static_cast<ssize_t>(rest.size())) {
    dropped = st.st_size - head - static_cast<int64_t>(tail.size());
  }
  ::close(fd);
  return dropped;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string LastLine(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) return "";
  const std::streamoff size = in.tellg();
  const std::streamoff from = std::max<std::streamoff>(0, size - (64 << 10));
  std::string text(static_cast<size_t>(size - from), '\0');
  in.seekg(from);
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  size_t end = text.find_last_not_of("\n");
  if (end == std::string::npos) return "";
  size_t begin = text.rfind('\n', end);
  return text.substr(begin == std::string::npos ? 0 : begin + 1,
                     end - (begin == std::string::npos ? 0 : begin + 1) + 1);
}

}  // namespace ladle
