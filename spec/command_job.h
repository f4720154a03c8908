// The resolved job of a `kind: command` experiment (spec/kinds/command.cc):
// what the coordinator stores as the job's spec and hands to a worker, which
// runs it. One JSON form, written by the planner and read by the worker.
#ifndef LADLE_SPEC_COMMAND_JOB_H_
#define LADLE_SPEC_COMMAND_JOB_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace ladle {

struct CommandJob {
  std::vector<std::string> argv;  // templates resolved; argv[0] the program
  std::map<std::string, std::string> env;  // added to the worker's environment
  nlohmann::json params = nlohmann::json::object();  // the resolved parameters
  std::string outputs = "out";  // relative to the working directory
  int64_t memory_bytes = 0;     // 0: no limit
  int ranks = 1;
  std::string code_sha256;  // the uploaded code archive; empty: none
};

nlohmann::json CommandJobToJson(const CommandJob& job);
// INVALID_ARGUMENT naming the field when the JSON is not a command job.
absl::StatusOr<CommandJob> CommandJobFromJson(const nlohmann::json& j);

// A parameter's value as it is substituted into a template: strings as they
// are, numbers and booleans as JSON writes them (0.001, 3, true), other values
// as compact JSON.
std::string ParamText(const nlohmann::json& value);

// Substitutes `{name}` with ParamText(params[name]); `{{` and `}}` are literal
// braces. INVALID_ARGUMENT, naming `path`, for an unclosed brace or a name
// that is not in `params`.
absl::StatusOr<std::string> ExpandTemplate(const std::string& text,
                                           const nlohmann::json& params,
                                           const std::string& path);

}  // namespace ladle

#endif  // LADLE_SPEC_COMMAND_JOB_H_
