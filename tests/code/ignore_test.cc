#include "code/ignore.h"

#include "gtest/gtest.h"

namespace ladle {
namespace {

TEST(Glob, SegmentsClassesAndDoubleStars) {
  EXPECT_TRUE(GlobMatch("*.pt", "model.pt"));
  EXPECT_FALSE(GlobMatch("*.pt", "a/model.pt"));  // '*' stays in a segment
  EXPECT_TRUE(GlobMatch("**/*.pt", "a/b/model.pt"));
  EXPECT_TRUE(GlobMatch("**/*.pt", "model.pt"));
  EXPECT_TRUE(GlobMatch("data/**", "data/x/y"));
  EXPECT_TRUE(GlobMatch("a/**/b", "a/b"));
  EXPECT_TRUE(GlobMatch("a/**/b", "a/x/y/b"));
  EXPECT_FALSE(GlobMatch("a/**/b", "a/x/c"));
  EXPECT_TRUE(GlobMatch("run[0-9].log", "run7.log"));
  EXPECT_FALSE(GlobMatch("run[!0-9].log", "run7.log"));
  EXPECT_TRUE(GlobMatch("?.txt", "a.txt"));
  EXPECT_TRUE(GlobMatch("\\*.txt", "*.txt"));
  EXPECT_FALSE(GlobMatch("\\*.txt", "a.txt"));
  EXPECT_TRUE(GlobMatch("[unclosed", "[unclosed"));
}

TEST(Ignore, GitignoreRules) {
  const IgnoreRules r = IgnoreRules::Parse(
      "# comment\n"
      "*.pt\n"
      "!keep.pt\n"
      "data/\n"
      "/top.txt\n"
      "logs/*.log\n"
      "trailing   \n");
  EXPECT_TRUE(r.Ignored("model.pt", false));
  EXPECT_TRUE(r.Ignored("sub/model.pt", false));  // no '/': any depth
  EXPECT_FALSE(r.Ignored("keep.pt", false));      // re-included
  EXPECT_TRUE(r.Ignored("data", true));
  EXPECT_TRUE(r.Ignored("sub/data", true));
  EXPECT_FALSE(r.Ignored("data", false));  // dir-only
  EXPECT_TRUE(r.Ignored("top.txt", false));
  EXPECT_FALSE(r.Ignored("sub/top.txt", false));  // anchored
  EXPECT_TRUE(r.Ignored("logs/a.log", false));
  EXPECT_FALSE(r.Ignored("x/logs/a.log", false));
  EXPECT_TRUE(r.Ignored("trailing", false));
  EXPECT_FALSE(r.Ignored("train.py", false));
}

}  // namespace
}  // namespace ladle
