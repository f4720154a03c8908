// `ladle submit` of a kind command spec that names `command.code`: packs the
// directory (relative to the spec file) and uploads it unless the coordinator
// already holds that archive.
#ifndef LADLE_CLIENT_CODE_UPLOAD_H_
#define LADLE_CLIENT_CODE_UPLOAD_H_

#include <string>

#include "absl/status/statusor.h"
#include "client/connection.h"

namespace ladle {

// The SHA-256 of the spec's code archive, uploaded; empty when the spec names
// no code (or does not parse: the submit then reports why). Says what it did
// on stderr. The error names the directory, or the limit and largest files.
absl::StatusOr<std::string> UploadSpecCode(Connection& c,
                                           const std::string& spec_path,
                                           const std::string& spec_text);

}  // namespace ladle

#endif  // LADLE_CLIENT_CODE_UPLOAD_H_
