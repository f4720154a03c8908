// Helpers shared by the HTTP transport's files (http_api.cc, http_streams.cc);
// not an API.
#ifndef LADLE_SERVER_HTTP_INTERNAL_H_
#define LADLE_SERVER_HTTP_INTERNAL_H_

#include <httplib.h>

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "google/protobuf/message.h"

namespace ladle::http_internal {

// `json` as the reply when `st` is OK; else the error's HTTP status and
// {"code", "status", "message"}.
void Reply(const absl::Status& st, const std::string& json,
           httplib::Response& res);
// protobuf's JSON mapping, every field printed (zeros too).
absl::Status ToJson(const google::protobuf::Message& m, std::string* json);
// Query parameter `name` as an integer, left as is when absent;
// INVALID_ARGUMENT naming it when not an integer.
absl::Status IntParam(const httplib::Request& req, const char* name,
                      int64_t* out);

}  // namespace ladle::http_internal

#endif  // LADLE_SERVER_HTTP_INTERNAL_H_
