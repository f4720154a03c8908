// Bearer-token authentication and the roles behind each token.
//
// Token file (one per line, '#' comments): `<token> <role> [<name>]`, role
// user|worker|admin; users need a name (recorded as the owner of what they
// submit). Workers may only use the WorkerService; users see and cancel only
// their own experiments; admins see all. Clients send `authorization: Bearer
// <token>` metadata.
#ifndef LADLE_SERVER_AUTH_H_
#define LADLE_SERVER_AUTH_H_

#include <map>
#include <optional>
#include <string>

#include "absl/status/statusor.h"

namespace ladle {

struct Principal {
  enum class Role { kUser, kWorker, kAdmin };
  Role role = Role::kUser;
  std::string name;  // user name ("local" when auth is off)
};

class Authenticator {
 public:
  // Auth off: everyone is the admin "local".
  Authenticator() = default;
  static absl::StatusOr<Authenticator> FromFile(const std::string& path);
  static absl::StatusOr<Authenticator> FromText(const std::string& text);

  bool enabled() const { return enabled_; }
  // `authorization` is the raw metadata value (empty when absent).
  // UNAUTHENTICATED when missing or unknown.
  absl::StatusOr<Principal> Authenticate(
      const std::string& authorization) const;

 private:
  bool enabled_ = false;
  std::map<std::string, Principal> tokens_;
};

// May `p` read or cancel an experiment owned by `owner`?
inline bool CanAccess(const Principal& p, const std::string& owner) {
  return p.role == Principal::Role::kAdmin ||
         (p.role == Principal::Role::kUser && p.name == owner);
}

}  // namespace ladle

#endif  // LADLE_SERVER_AUTH_H_
