#include "server/auth.h"

#include "gtest/gtest.h"

namespace ladle {
namespace {

TEST(Authenticator, ParsesRolesAndAuthenticates) {
  auto a = Authenticator::FromText(
      "# comment\nuser-token-0123456789 user alice\nworker-token-012345678 "
      "worker\n\n"
      "admin-token-012345678 admin\n");
  ASSERT_TRUE(a.ok()) << a.status();
  auto p = a->Authenticate("Bearer user-token-0123456789");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->role, Principal::Role::kUser);
  EXPECT_EQ(p->name, "alice");
  EXPECT_EQ(a->Authenticate("Bearer worker-token-012345678")->role,
            Principal::Role::kWorker);
  EXPECT_EQ(a->Authenticate("").status().code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(a->Authenticate("Bearer nope").status().code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(a->Authenticate("user-token-0123456789").status().code(),
            absl::StatusCode::kUnauthenticated);  // no "Bearer "
  EXPECT_TRUE(CanAccess(*p, "alice"));
  EXPECT_FALSE(CanAccess(*p, "bob"));
  EXPECT_TRUE(
      CanAccess(*a->Authenticate("Bearer admin-token-012345678"), "bob"));
  EXPECT_FALSE(
      CanAccess(*a->Authenticate("Bearer worker-token-012345678"), "bob"));
}

TEST(Authenticator, RejectsBadFilesNamingTheLine) {
  for (const char* bad :
       {"short user alice\n", "long-enough-token-1234 user\n",
        "long-enough-token-1234 root x\n",
        "long-enough-token-1234 admin\nlong-enough-token-1234 admin\n", ""}) {
    EXPECT_EQ(Authenticator::FromText(bad).status().code(),
              absl::StatusCode::kInvalidArgument)
        << bad;
  }
  EXPECT_EQ(Authenticator::FromFile("/nonexistent/tokens").status().code(),
            absl::StatusCode::kNotFound);
}

TEST(Authenticator, OffMeansLocalAdmin) {
  Authenticator off;
  auto p = off.Authenticate("");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->role, Principal::Role::kAdmin);
}

}  // namespace
}  // namespace ladle
