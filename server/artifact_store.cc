#include "server/artifact_store.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <filesystem>

#include "absl/strings/str_cat.h"

namespace ladle {

namespace fs = std::filesystem;

namespace {
std::atomic<uint64_t> g_upload_counter{0};
}  // namespace

absl::StatusOr<std::unique_ptr<ArtifactStore::Upload>> ArtifactStore::Begin(
    int64_t size, const std::string& sha256) {
  if (size < 0 || size > max_bytes_) {
    return absl::InvalidArgumentError(absl::StrCat(
        "artifact.size_bytes: must be in [0, ", max_bytes_, "], got ", size));
  }
  if (!IsSha256Hex(sha256)) {
    return absl::InvalidArgumentError(
        "artifact.sha256: must be 64 lowercase hex digits");
  }
  std::error_code ec;
  fs::create_directories(fs::path(dir_) / "tmp", ec);
  if (ec)
    return absl::InternalError(
        absl::StrCat("artifacts: ", dir_, ": ", ec.message()));
  auto up = std::unique_ptr<Upload>(new Upload());
  up->tmp_path_ =
      (fs::path(dir_) / "tmp" /
       absl::StrCat(getpid(), "-", g_upload_counter.fetch_add(1), ".part"))
          .string();
  up->final_dir_ = (fs::path(dir_) / sha256.substr(0, 2)).string();
  up->declared_sha_ = sha256;
  up->declared_size_ = size;
  up->file_ = std::fopen(up->tmp_path_.c_str(), "wb");
  if (up->file_ == nullptr) {
    return absl::InternalError(
        absl::StrCat("artifacts: cannot create ", up->tmp_path_));
  }
  return up;
}

ArtifactStore::Upload::~Upload() {
  if (file_ != nullptr) std::fclose(file_);
  if (!committed_) ::unlink(tmp_path_.c_str());
}

absl::Status ArtifactStore::Upload::Write(const std::string& data) {
  if (written_ + static_cast<int64_t>(data.size()) > declared_size_) {
    return absl::InvalidArgumentError(absl::StrCat(
        "artifact: more bytes than the declared size_bytes ", declared_size_));
  }
  if (std::fwrite(data.data(), 1, data.size(), file_) != data.size()) {
    return absl::ResourceExhaustedError("artifacts: write failed (disk full?)");
  }
  hash_.Update(data);
  written_ += static_cast<int64_t>(data.size());
  return absl::OkStatus();
}

absl::StatusOr<std::string> ArtifactStore::Upload::Commit() {
  if (written_ != declared_size_) {
    return absl::InvalidArgumentError(absl::StrCat(
        "artifact: got ", written_, " bytes, declared ", declared_size_));
  }
  const std::string sha = hash_.HexDigest();
  if (sha != declared_sha_) {
    return absl::DataLossError(absl::StrCat("artifact: content hashes to ", sha,
                                            ", declared ", declared_sha_));
  }
  if (std::fflush(file_) != 0 || ::fsync(fileno(file_)) != 0) {
    return absl::ResourceExhaustedError(
        "artifacts: cannot flush the upload (disk full?)");
  }
  std::fclose(file_);
  file_ = nullptr;
  std::error_code ec;
  fs::create_directories(final_dir_, ec);
  const std::string final_path = (fs::path(final_dir_) / sha).string();
  if (!fs::exists(final_path)) {
    fs::rename(tmp_path_, final_path, ec);
    if (ec)
      return absl::InternalError(absl::StrCat("artifacts: ", ec.message()));
    committed_ = true;
  }
  return sha;
}

absl::StatusOr<std::string> ArtifactStore::PathOf(
    const std::string& sha256) const {
  if (!IsSha256Hex(sha256))
    return absl::InvalidArgumentError("sha256: not a digest");
  const std::string path =
      (fs::path(dir_) / sha256.substr(0, 2) / sha256).string();
  if (!fs::exists(path))
    return absl::NotFoundError(
        absl::StrCat("artifact ", sha256, " not stored"));
  return path;
}

}  // namespace ladle
