// Code archives of kind command experiments: UploadCode and GetCodeArchive
// (ExperimentService), DownloadCode (WorkerService). Archives are stored in
// the content-addressed artifact store and checked entry by entry on arrival
// (code/archive.h): a hostile or oversized archive is refused, not stored.
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "code/archive.h"
#include "common/byte_size.h"
#include "common/status_macros.h"
#include "proto/api_util.h"
#include "server/service.h"

namespace ladle {
namespace {

using grpc::StatusCode;

// The stored archive of `sha256`, open for reading at its start, and its size.
absl::StatusOr<std::FILE*> OpenArchive(ArtifactStore* artifacts,
                                       const std::string& sha256,
                                       int64_t* size) {
  if (!IsSha256Hex(sha256))
    return absl::InvalidArgumentError("sha256: 64 lowercase hex digits");
  ASSIGN_OR_RETURN(const std::string path, artifacts->PathOf(sha256));
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return absl::InternalError("code archive unreadable");
  std::fseek(f, 0, SEEK_END);
  *size = std::ftell(f);
  std::rewind(f);
  return f;
}

}  // namespace

absl::Status CheckCodeArchive(ArtifactStore* artifacts,
                              const std::string& sha256) {
  if (sha256.empty()) return absl::OkStatus();
  if (!IsSha256Hex(sha256)) {
    return absl::InvalidArgumentError(
        "code_sha256: 64 lowercase hex digits (UploadCode's sha256)");
  }
  if (!artifacts->PathOf(sha256).ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat("code_sha256: no code archive ", sha256.substr(0, 12),
                     "... on this server; upload it first (UploadCode)"));
  }
  return absl::OkStatus();
}

grpc::Status ExperimentServiceImpl::UploadCode(
    grpc::ServerContext* ctx, grpc::ServerReader<v1::CodeChunk>* reader,
    v1::CodeArchive* resp) {
  if (auto caller = User(ctx); !caller.ok()) return ToGrpc(caller.status());
  v1::CodeChunk chunk;
  if (!reader->Read(&chunk) || !chunk.has_header()) {
    return grpc::Status(StatusCode::INVALID_ARGUMENT,
                        "upload: the first chunk must carry the header");
  }
  const v1::CodeArchiveHeader h = chunk.header();
  if (!IsSha256Hex(h.sha256())) {
    return grpc::Status(StatusCode::INVALID_ARGUMENT,
                        "header.sha256: 64 lowercase hex digits");
  }
  if (h.size_bytes() > code_limits_.max_archive_bytes || h.size_bytes() < 0) {
    return grpc::Status(
        StatusCode::RESOURCE_EXHAUSTED,
        absl::StrCat("code: the archive is ", ByteSizeText(h.size_bytes()),
                     " packed, over the server's limit of ",
                     ByteSizeText(code_limits_.max_archive_bytes),
                     " (--max_code_bytes); leave data and outputs out "
                     "with a .ladleignore"));
  }
  auto upload = artifacts_->Begin(h.size_bytes(), h.sha256());
  if (!upload.ok()) return ToGrpc(upload.status());
  if (absl::Status st = ReceiveChunks(reader, chunk, upload->get()); !st.ok())
    return ToGrpc(st);
  // Checked where it will be read from; refused archives are removed (the
  // same bytes are refused the same way, so no valid upload loses its file).
  auto sha = (*upload)->Commit();
  if (!sha.ok()) return ToGrpc(sha.status());
  auto path = artifacts_->PathOf(*sha);
  if (!path.ok()) return ToGrpc(path.status());
  absl::StatusOr<CodeArchiveInfo> info = InspectArchive(*path, code_limits_);
  if (!info.ok()) {
    std::remove(path->c_str());
    return ToGrpc(info.status());
  }
  resp->set_sha256(h.sha256());
  resp->set_size_bytes(h.size_bytes());
  resp->set_file_count(info->file_count);
  return grpc::Status::OK;
}

grpc::Status ExperimentServiceImpl::GetCodeArchive(
    grpc::ServerContext* ctx, const v1::GetCodeArchiveRequest* req,
    v1::CodeArchive* resp) {
  if (auto caller = User(ctx); !caller.ok()) return ToGrpc(caller.status());
  int64_t size = 0;
  absl::StatusOr<std::FILE*> f = OpenArchive(artifacts_, req->sha256(), &size);
  if (!f.ok()) return ToGrpc(f.status());
  std::fclose(*f);
  resp->set_size_bytes(size);
  resp->set_sha256(req->sha256());
  return grpc::Status::OK;
}

grpc::Status WorkerServiceImpl::DownloadCode(
    grpc::ServerContext* ctx, const v1::DownloadCodeRequest* req,
    grpc::ServerWriter<v1::ArtifactChunk>* writer) {
  if (absl::Status st = CheckWorker(ctx); !st.ok()) return ToGrpc(st);
  int64_t size = 0;
  absl::StatusOr<std::FILE*> f = OpenArchive(artifacts_, req->sha256(), &size);
  if (!f.ok()) return ToGrpc(f.status());
  v1::ArtifactHeader header;
  header.set_name("code.tar.gz");
  header.set_size_bytes(size);
  header.set_sha256(req->sha256());
  WriteFileChunks(*f, header, writer);  // a broken stream is the worker's
  std::fclose(*f);
  return grpc::Status::OK;
}

}  // namespace ladle
