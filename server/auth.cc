#include "server/auth.h"

#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace ladle {

absl::StatusOr<Authenticator> Authenticator::FromFile(const std::string& path) {
  std::ifstream in(path);
  if (!in)
    return absl::NotFoundError(
        absl::StrCat("--token_file ", path, " cannot be read"));
  std::stringstream ss;
  ss << in.rdbuf();
  auto a = FromText(ss.str());
  if (!a.ok())
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": ", a.status().message()));
  return a;
}

absl::StatusOr<Authenticator> Authenticator::FromText(const std::string& text) {
  Authenticator a;
  a.enabled_ = true;
  int line_no = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_no;
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line[0] == '#') continue;
    std::vector<std::string> f = absl::StrSplit(line, ' ', absl::SkipEmpty());
    if (f.size() < 2 || f.size() > 3) {
      return absl::InvalidArgumentError(
          absl::StrCat("line ", line_no,
                       ": expected '<token> <user|worker|admin> [<name>]'"));
    }
    if (f[0].size() < 16) {
      return absl::InvalidArgumentError(
          absl::StrCat("line ", line_no, ": tokens need >= 16 characters"));
    }
    Principal p;
    if (f[1] == "user") {
      p.role = Principal::Role::kUser;
      if (f.size() != 3)
        return absl::InvalidArgumentError(
            absl::StrCat("line ", line_no, ": a user token needs a name"));
    } else if (f[1] == "worker") {
      p.role = Principal::Role::kWorker;
    } else if (f[1] == "admin") {
      p.role = Principal::Role::kAdmin;
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("line ", line_no, ": unknown role '", f[1], "'"));
    }
    p.name = f.size() == 3 ? f[2] : f[1];
    if (!a.tokens_.emplace(f[0], p).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("line ", line_no, ": duplicate token"));
    }
  }
  if (a.tokens_.empty()) return absl::InvalidArgumentError("no tokens");
  return a;
}

absl::StatusOr<Principal> Authenticator::Authenticate(
    const std::string& authorization) const {
  if (!enabled_) return Principal{Principal::Role::kAdmin, "local"};
  absl::string_view v = authorization;
  if (!absl::ConsumePrefix(&v, "Bearer ")) {
    return absl::UnauthenticatedError(
        "missing bearer token: pass --token_file or set LADLE_TOKEN");
  }
  auto it = tokens_.find(std::string(v));
  if (it == tokens_.end())
    return absl::UnauthenticatedError("unknown or revoked token");
  return it->second;
}

}  // namespace ladle
