#include "spec/command_job.h"

#include "absl/strings/str_cat.h"
#include "spec/yaml_reader.h"

namespace ladle {

using Json = nlohmann::json;

Json CommandJobToJson(const CommandJob& job) {
  Json j = {{"argv", job.argv},
            {"env", job.env},
            {"params", job.params},
            {"outputs", job.outputs},
            {"ranks", job.ranks}};
  if (job.memory_bytes > 0) j["memory_bytes"] = job.memory_bytes;
  if (!job.code_sha256.empty()) j["code_sha256"] = job.code_sha256;
  return j;
}

absl::StatusOr<CommandJob> CommandJobFromJson(const Json& j) {
  CommandJob job;
  if (!j.is_object() || !j.contains("argv") || !j["argv"].is_array() ||
      j["argv"].empty()) {
    return Invalid("command job", "needs a non-empty argv list");
  }
  try {
    job.argv = j["argv"].get<std::vector<std::string>>();
    job.env = j.value("env", std::map<std::string, std::string>{});
    job.params = j.value("params", Json::object());
    job.outputs = j.value("outputs", std::string("out"));
    job.memory_bytes = j.value("memory_bytes", int64_t{0});
    job.ranks = j.value("ranks", 1);
    job.code_sha256 = j.value("code_sha256", std::string());
  } catch (const Json::exception& e) {
    return Invalid("command job", e.what());
  }
  return job;
}

std::string ParamText(const Json& value) {
  return value.is_string() ? value.get<std::string>() : value.dump();
}

absl::StatusOr<std::string> ExpandTemplate(const std::string& text,
                                           const Json& params,
                                           const std::string& path) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if ((c == '{' || c == '}') && i + 1 < text.size() && text[i + 1] == c) {
      out += c;  // {{ or }}: a literal brace
      ++i;
      continue;
    }
    if (c == '}') {
      return Invalid(path, absl::StrCat("a lone '}' in '", text,
                                        "'; write }} for a literal brace"));
    }
    if (c != '{') {
      out += c;
      continue;
    }
    const size_t close = text.find('}', i + 1);
    if (close == std::string::npos) {
      return Invalid(path, absl::StrCat("unclosed '{' in '", text,
                                        "'; write {{ for a literal brace"));
    }
    const std::string name = text.substr(i + 1, close - i - 1);
    const bool plain =
        !name.empty() && name.find_first_of(" \"':,{") == std::string::npos;
    if (!plain) {
      return Invalid(
          path,
          absl::StrCat("'{", name.substr(0, 40), name.size() > 40 ? "..." : "",
                       "}' is not a parameter reference; write {{ "
                       "and }} for literal braces (JSON in a "
                       "shell command, say)"));
    }
    if (!params.is_object() || !params.contains(name)) {
      return Invalid(
          path, absl::StrCat("'{", name, "}' names no parameter; declare '",
                             name, "' under params (or sweep it)"));
    }
    out += ParamText(params[name]);
    i = close;
  }
  return out;
}

}  // namespace ladle
