// LoadYaml (libyaml) against YAML::Load (yaml-cpp): the same tree, tag for
// tag, on every spec in the repository and on the corners readers rely on.
#include "train/yaml_load.h"

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "gtest/gtest.h"

namespace ladle {
namespace {

// Structural equality with a path for the first difference.
std::string Diff(const YAML::Node& a, const YAML::Node& b,
                 const std::string& path) {
  if (a.Type() != b.Type())
    return path + ": type " + std::to_string(a.Type()) + " vs " +
           std::to_string(b.Type());
  switch (a.Type()) {
    case YAML::NodeType::Scalar:
      if (a.Scalar() != b.Scalar())
        return path + ": '" + a.Scalar() + "' vs '" + b.Scalar() + "'";
      if (a.Tag() != b.Tag())
        return path + ": tag '" + a.Tag() + "' vs '" + b.Tag() + "'";
      return "";
    case YAML::NodeType::Sequence:
      if (a.size() != b.size()) return path + ": sequence sizes differ";
      for (size_t i = 0; i < a.size(); ++i) {
        std::string d = Diff(a[i], b[i], path + "[" + std::to_string(i) + "]");
        if (!d.empty()) return d;
      }
      return "";
    case YAML::NodeType::Map: {
      if (a.size() != b.size()) return path + ": map sizes differ";
      auto ia = a.begin();
      auto ib = b.begin();
      for (; ia != a.end(); ++ia, ++ib) {
        std::string d = Diff(ia->first, ib->first, path + ".<key>");
        if (d.empty())
          d = Diff(
              ia->second, ib->second,
              path + "." +
                  (ia->first.IsScalar() ? ia->first.Scalar() : "<complex>"));
        if (!d.empty()) return d;
      }
      return "";
    }
    default:
      return "";
  }
}

void ExpectSameAsYamlCpp(const std::string& text) {
  SCOPED_TRACE(text.substr(0, 200));
  absl::StatusOr<YAML::Node> mine = LoadYaml(text);
  ASSERT_TRUE(mine.ok()) << mine.status();
  const YAML::Node theirs = YAML::Load(text);
  EXPECT_EQ(Diff(*mine, theirs, "$"), "");
}

TEST(LoadYaml, SameTreeAsYamlCppForEveryExampleSpec) {
  int files = 0;
  for (const auto& dir : {"examples", "deploy", "tests/e2e"}) {
    const std::filesystem::path root =
        std::filesystem::path(LADLE_SOURCE_DIR) / dir;
    if (!std::filesystem::exists(root)) continue;
    for (const auto& f : std::filesystem::recursive_directory_iterator(root)) {
      const std::string ext = f.path().extension().string();
      if (ext != ".yaml" && ext != ".yml") continue;
      std::ifstream in(f.path());
      std::stringstream ss;
      ss << in.rdbuf();
      SCOPED_TRACE(f.path().string());
      ExpectSameAsYamlCpp(ss.str());
      ++files;
    }
  }
  EXPECT_GE(files, 9);  // examples/ alone has nine
}

TEST(LoadYaml, SameTreeAsYamlCppOnTheCorners) {
  for (const char* text : {
           "",
           "name: a\ntrial: {}\n",
           "a: 1\nb: '1'\nc: \"x\"\nd: ~\ne: null\nf: Null\ng:\nh: NULL\n",
           "a: 'null'\nb: \"~\"\nc: ''\n",
           "a: [1, 2.5, -3, 1e3, .inf, .nan, true, yes, off, 0x1f]\n",
           "a: !!str 5\nb: !custom x\nc: !!int '7'\n",
           "base: &b {lr: 0.1, x: [1, 2]}\nuse: *b\nagain: *b\n",
           "a: &x 1\nb: &x 2\nc: *x\n",
           "dup: 1\ndup: 2\n",
           "? [complex, key]\n: v\n",
           "l:\n  - a: 1\n    b: [x, {y: z}]\n  -\n  - ''\n",
           "multi: |\n  line one\n  line two\nfolded: >\n  a\n  b\n",
           "a: 1\n---\nb: 2\n",
           "--- \nfirst: doc\n...\n",
           "u: \"\\u00e9t\\u00e9\"\nplain: été\n",
           "sweep: {grid: {train.seed: [1, 2, 3], train.optimizer.lr: "
           "[0.1]}}\n",
       }) {
    ExpectSameAsYamlCpp(text);
  }
}

TEST(LoadYaml, MalformedInputNamesTheLine) {
  absl::StatusOr<YAML::Node> n = LoadYaml("a: 1\nb: [1, 2\nc: 3\n");
  ASSERT_FALSE(n.ok());
  EXPECT_EQ(n.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(n.status().message().find("spec: malformed YAML at line"),
            std::string::npos)
      << n.status();
  EXPECT_FALSE(LoadYaml("a: *nowhere\n").ok());
}

TEST(LoadYaml, DeepNestingIsRefusedNotRecursedInto) {
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  absl::StatusOr<YAML::Node> n = LoadYaml(deep);
  ASSERT_FALSE(n.ok());
  EXPECT_NE(n.status().message().find("nested deeper than"), std::string::npos);
  std::string ok = "a: ";
  for (int i = 0; i < 100; ++i) ok += "[";
  for (int i = 0; i < 100; ++i) ok += "]";
  ExpectSameAsYamlCpp(ok);
}

}  // namespace
}  // namespace ladle
