// Content-addressed artifact files under
// data_dir/artifacts/<sha[0:2]>/<sha256>. An upload is written to a temporary
// file while hashed; only when its size and SHA-256 match what the uploader
// declared is it renamed into place (identical content is stored once). Nothing
// half-written is ever visible under its address.
//
// Thread safety: all methods may be called concurrently.
#ifndef LADLE_SERVER_ARTIFACT_STORE_H_
#define LADLE_SERVER_ARTIFACT_STORE_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "common/artifact_name.h"  // IsValidArtifactName
#include "common/sha256.h"

namespace ladle {

class ArtifactStore {
 public:
  ArtifactStore(std::string dir, int64_t max_bytes)
      : dir_(std::move(dir)), max_bytes_(max_bytes) {}

  class Upload {
   public:
    ~Upload();  // removes the temporary file unless committed
    absl::Status Write(const std::string& data);
    // Verifies size and hash, then moves the file to its address. Returns the
    // address.
    absl::StatusOr<std::string> Commit();

   private:
    friend class ArtifactStore;
    std::string tmp_path_, final_dir_, declared_sha_;
    int64_t declared_size_ = 0, written_ = 0;
    std::FILE* file_ = nullptr;
    Sha256 hash_;
    bool committed_ = false;
  };

  // Starts an upload of `size` bytes whose SHA-256 is `sha256` (lowercase hex).
  absl::StatusOr<std::unique_ptr<Upload>> Begin(int64_t size,
                                                const std::string& sha256);
  // The path of a stored artifact, NOT_FOUND if absent.
  absl::StatusOr<std::string> PathOf(const std::string& sha256) const;

 private:
  const std::string dir_;
  const int64_t max_bytes_;
};

}  // namespace ladle

#endif  // LADLE_SERVER_ARTIFACT_STORE_H_
