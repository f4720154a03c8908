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
// The request's query parameters as fields of `m`, by their proto names
// (grpc-gateway's rule): bools true/false, integers, strings, enums by name
// or by the part after their prefix (state=running), repeated strings
// comma-separated (metric_names=a,b). INVALID_ARGUMENT naming the parameter
// for an unknown one (listing those `m` takes) or a value of the wrong type.
absl::Status QueryToMessage(const httplib::Request& req,
                            google::protobuf::Message* m);

}  // namespace ladle::http_internal

#endif  // LADLE_SERVER_HTTP_INTERNAL_H_
