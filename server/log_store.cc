#include "server/log_store.h"

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace ladle {

namespace fs = std::filesystem;

absl::StatusOr<std::string> LogStore::JobDir(const std::string& job_id) const {
  const bool safe = !job_id.empty() && job_id.size() <= 200 &&
                    std::all_of(job_id.begin(), job_id.end(), [](char c) {
                      return std::isalnum(static_cast<unsigned char>(c)) ||
                             c == '-' || c == '_';
                    });
  if (!safe)
    return absl::InvalidArgumentError(
        absl::StrCat("job_id: '", job_id, "' is not a job id"));
  return (fs::path(dir_) / job_id).string();
}

absl::Status LogStore::Append(const std::string& job_id, int64_t attempt_id,
                              const std::string& stream,
                              const std::string& data) {
  if (stream != "stdout" && stream != "stderr") {
    return absl::InvalidArgumentError("logs.stream: must be stdout or stderr");
  }
  ASSIGN_OR_RETURN(std::string dir, JobDir(job_id));
  absl::MutexLock lock(&mu_);
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec)
    return absl::InternalError(absl::StrCat("logs: ", dir, ": ", ec.message()));
  const std::string path =
      absl::StrCat(dir, "/", attempt_id, ".", stream, ".log");
  const int64_t size =
      fs::exists(path) ? static_cast<int64_t>(fs::file_size(path)) : 0;
  if (size >= cap_bytes_) return absl::OkStatus();  // already capped
  std::ofstream out(path, std::ios::binary | std::ios::app);
  const int64_t room = cap_bytes_ - size;
  if (static_cast<int64_t>(data.size()) <= room) {
    out << data;
  } else {
    out.write(data.data(), room);
    out << "\n[ladle: log capped at " << cap_bytes_
        << " bytes; the rest was dropped]\n";
  }
  if (!out)
    return absl::ResourceExhaustedError(
        absl::StrCat("logs: cannot write ", path));
  return absl::OkStatus();
}

absl::StatusOr<std::vector<LogStore::Chunk>> LogStore::ReadNew(
    const std::string& job_id, std::map<std::string, int64_t>* offsets,
    int64_t max_bytes) {
  ASSIGN_OR_RETURN(std::string dir, JobDir(job_id));
  std::vector<Chunk> out;
  if (!fs::is_directory(dir)) return out;
  std::vector<std::pair<int64_t, std::string>> files;  // (attempt, stream)
  for (const auto& entry : fs::directory_iterator(dir)) {
    const std::string name =
        entry.path().filename().string();  // <attempt>.<stream>.log
    const size_t dot = name.find('.');
    if (dot == std::string::npos) continue;
    int64_t attempt = 0;
    try {
      attempt = std::stoll(name.substr(0, dot));
    } catch (...) {
      continue;
    }
    const std::string stream = name.substr(dot + 1, name.rfind('.') - dot - 1);
    files.emplace_back(attempt, stream);
  }
  std::sort(files.begin(), files.end());
  int64_t budget = max_bytes;
  for (const auto& [attempt, stream] : files) {
    const std::string key = absl::StrCat(attempt, ".", stream);
    std::ifstream in(absl::StrCat(dir, "/", key, ".log"), std::ios::binary);
    int64_t& off = (*offsets)[key];
    in.seekg(off);
    std::string data(static_cast<size_t>(std::max<int64_t>(0, budget)), '\0');
    in.read(data.data(), budget);
    data.resize(static_cast<size_t>(in.gcount()));
    if (data.empty()) continue;
    off += static_cast<int64_t>(data.size());
    budget -= static_cast<int64_t>(data.size());
    out.push_back({attempt, stream, std::move(data)});
    if (budget <= 0) break;
  }
  return out;
}

}  // namespace ladle
