#include "client/code_upload.h"

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "code/archive.h"
#include "common/byte_size.h"
#include "proto/api_util.h"
#include "spec/experiment.h"

namespace ladle {
namespace {

namespace fs = std::filesystem;

// Streams the archive file; the first chunk carries the header.
grpc::Status Upload(Connection& c, const std::string& path,
                    const CodeArchiveInfo& info, v1::CodeArchive* out) {
  return c.Call([&](grpc::ClientContext* ctx) {
    std::FILE* f = std::fopen(path.c_str(), "rb");
    if (f == nullptr)
      return grpc::Status(grpc::StatusCode::INTERNAL, "cannot read " + path);
    auto writer = c.stub().UploadCode(ctx, out);
    v1::CodeArchiveHeader header;
    header.set_size_bytes(info.size_bytes);
    header.set_sha256(info.sha256);
    WriteFileChunks(f, header, writer.get());  // Finish says why it broke
    std::fclose(f);
    writer->WritesDone();
    return writer->Finish();
  });
}

std::string Short(const std::string& sha) { return sha.substr(0, 12); }

}  // namespace

absl::StatusOr<std::string> UploadSpecCode(Connection& c,
                                           const std::string& spec_path,
                                           const std::string& spec_text) {
  absl::StatusOr<ExperimentSpec> spec = ParseExperimentSpec(spec_text);
  if (!spec.ok() || spec->kind != "command" || !spec->kind_config.is_object() ||
      !spec->kind_config.contains("code") ||
      !spec->kind_config["code"].is_string()) {
    return std::string();
  }
  const fs::path dir = fs::absolute(spec_path).parent_path() /
                       spec->kind_config["code"].get<std::string>();
  const std::string archive = (fs::temp_directory_path() /
                               absl::StrCat("ladle-code-", getpid(), ".tar.gz"))
                                  .string();
  absl::StatusOr<CodeArchiveInfo> info =
      PackDirectory(dir.lexically_normal().string(), archive, CodeLimits{});
  if (!info.ok()) {
    std::remove(archive.c_str());
    return info.status();
  }
  v1::GetCodeArchiveRequest get;
  get.set_sha256(info->sha256);
  v1::CodeArchive stored;
  grpc::Status st = c.Call([&](grpc::ClientContext* ctx) {
    return c.stub().GetCodeArchive(ctx, get, &stored);
  });
  const bool have = st.ok();
  if (!have && st.error_code() == grpc::StatusCode::NOT_FOUND)
    st = Upload(c, archive, *info, &stored);
  std::remove(archive.c_str());
  if (!st.ok()) {
    std::string msg = st.error_message();
    if (st.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED &&
        msg.find("largest files") == std::string::npos) {
      msg += "; largest files:";
      for (const auto& [path, size] : info->largest)
        absl::StrAppend(&msg, " ", path, " (", ByteSizeText(size), ")");
    }
    return absl::Status(static_cast<absl::StatusCode>(st.error_code()), msg);
  }
  std::cerr << "code: " << dir.lexically_normal().string() << ", "
            << info->file_count << " files, " << ByteSizeText(info->size_bytes)
            << " packed, sha256 " << Short(info->sha256)
            << (have ? " (already stored)" : " (uploaded)") << "\n";
  return info->sha256;
}

}  // namespace ladle
