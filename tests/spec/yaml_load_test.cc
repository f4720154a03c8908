// LoadYaml (libyaml, its own tree) against YAML::Load (yaml-cpp): the same
// tree, tag for tag, on every spec in the repository and on the corners
// readers rely on; the scalar decoders against yaml-cpp's.
#include "spec/yaml_load.h"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "gtest/gtest.h"
#include "yaml-cpp/yaml.h"

namespace ladle {
namespace {

// Structural equality with a path for the first difference.
std::string Diff(const YamlNode& a, const YAML::Node& b,
                 const std::string& path) {
  const YAML::NodeType::value types[] = {
      YAML::NodeType::Null, YAML::NodeType::Scalar, YAML::NodeType::Sequence,
      YAML::NodeType::Map};
  if (types[static_cast<int>(a.type())] != b.Type())
    return path + ": type " + std::to_string(static_cast<int>(a.type())) +
           " vs " + std::to_string(b.Type());
  switch (b.Type()) {
    case YAML::NodeType::Scalar:
      if (a.scalar() != b.Scalar())
        return path + ": '" + a.scalar() + "' vs '" + b.Scalar() + "'";
      if (a.tag() != b.Tag())
        return path + ": tag '" + a.tag() + "' vs '" + b.Tag() + "'";
      return "";
    case YAML::NodeType::Sequence:
      if (a.size() != b.size()) return path + ": sequence sizes differ";
      for (size_t i = 0; i < a.size(); ++i) {
        std::string d =
            Diff(a.items()[i], b[i], path + "[" + std::to_string(i) + "]");
        if (!d.empty()) return d;
      }
      return "";
    case YAML::NodeType::Map: {
      if (a.size() != b.size()) return path + ": map sizes differ";
      auto ib = b.begin();
      for (const YamlNode::Pair& kv : a.pairs()) {
        std::string d = Diff(kv.first, ib->first, path + ".<key>");
        if (d.empty())
          d = Diff(kv.second, ib->second,
                   path + "." +
                       (kv.first.IsScalar() ? kv.first.scalar() : "<complex>"));
        if (!d.empty()) return d;
        ++ib;
      }
      return "";
    }
    default:
      return "";
  }
}

void ExpectSameAsYamlCpp(const std::string& text) {
  SCOPED_TRACE(text.substr(0, 200));
  absl::StatusOr<YamlNode> mine = LoadYaml(text);
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
           "a: &x [&x 1, *x]\nb: *x\n",
           "a: &x {k: &y v}\nb: *x\nc: *y\nd: &x [*y]\ne: *x\n",
           "~: 1\n",
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
  absl::StatusOr<YamlNode> n = LoadYaml("a: 1\nb: [1, 2\nc: 3\n");
  ASSERT_FALSE(n.ok());
  EXPECT_EQ(n.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(n.status().message().find("spec: malformed YAML at line"),
            std::string::npos)
      << n.status();
  EXPECT_FALSE(LoadYaml("a: *nowhere\n").ok());
}

// yaml-cpp makes an alias inside its own anchor's node a cycle, which no
// reader could walk; here it is an unknown anchor.
TEST(LoadYaml, AliasCyclesAreRefused) {
  absl::StatusOr<YamlNode> n = LoadYaml("a: &x [1, *x]\n");
  ASSERT_FALSE(n.ok());
  EXPECT_NE(n.status().message().find("unknown anchor *x"), std::string::npos)
      << n.status();
}

// Each alias copies its anchor: ten levels of ten aliases would be 10^10
// nodes from ~300 bytes of text.
TEST(LoadYaml, AliasExpansionIsBounded) {
  std::string text = "l0: &l0 [x, x, x, x, x, x, x, x, x, x]\n";
  for (int i = 1; i <= 10; ++i) {
    const std::string prev = "*l" + std::to_string(i - 1);
    text += "l" + std::to_string(i) + ": &l" + std::to_string(i) + " [";
    for (int k = 0; k < 10; ++k) text += (k ? ", " : "") + prev;
    text += "]\n";
  }
  absl::StatusOr<YamlNode> n = LoadYaml(text);
  ASSERT_FALSE(n.ok());
  EXPECT_NE(n.status().message().find("aliases expand to more than"),
            std::string::npos)
      << n.status();
  // Three levels (~1,100 nodes) load, and read as yaml-cpp's tree.
  ExpectSameAsYamlCpp(text.substr(0, text.find("l4:")));
}

// The decoders against yaml-cpp's own, on the corners of each.
TEST(LoadYaml, ScalarDecodersMatchYamlCpp) {
  for (const std::string text : {"0",
                                 "-0",
                                 "+5",
                                 "7",
                                 "010",
                                 "08",
                                 "0x1f",
                                 "-0x10",
                                 "+0x10",
                                 "1e3",
                                 "1.5",
                                 ".5",
                                 "0.",
                                 "5.",
                                 " 5",
                                 "5 ",
                                 "",
                                 "-",
                                 "+",
                                 "1_000",
                                 "0b101",
                                 "123456789012345678",
                                 "-123456789012345678",
                                 "1234567890123456789",
                                 "9223372036854775807",
                                 "9223372036854775808",
                                 "-9223372036854775808",
                                 "-9223372036854775809",
                                 "1e400",
                                 "-1e400",
                                 "1e-400",
                                 ".inf",
                                 "-.Inf",
                                 "+.INF",
                                 ".nan",
                                 ".NaN",
                                 "nan",
                                 "inf",
                                 "true",
                                 "True",
                                 "TRUE",
                                 "tRue",
                                 "y",
                                 "Y",
                                 "yes",
                                 "Yes",
                                 "no",
                                 "NO",
                                 "on",
                                 "On",
                                 "off",
                                 "OFF",
                                 "n",
                                 "false",
                                 "abc",
                                 "1,5",
                                 "0x",
                                 "1e",
                                 "--1",
                                 "12abc"}) {
    SCOPED_TRACE("'" + text + "'");
    const YAML::Node node(text);
    int64_t i_mine = 0, i_theirs = 0;
    const bool i_ok = DecodeInt64(text, &i_mine);
    ASSERT_EQ(i_ok, YAML::convert<int64_t>::decode(node, i_theirs));
    if (i_ok) EXPECT_EQ(i_mine, i_theirs);
    double d_mine = 0, d_theirs = 0;
    const bool d_ok = DecodeDouble(text, &d_mine);
    ASSERT_EQ(d_ok, YAML::convert<double>::decode(node, d_theirs));
    if (d_ok && !std::isnan(d_theirs)) EXPECT_EQ(d_mine, d_theirs);
    if (d_ok && std::isnan(d_theirs)) EXPECT_TRUE(std::isnan(d_mine));
    bool b_mine = false, b_theirs = false;
    const bool b_ok = DecodeBool(text, &b_mine);
    ASSERT_EQ(b_ok, YAML::convert<bool>::decode(node, b_theirs));
    if (b_ok) EXPECT_EQ(b_mine, b_theirs);
  }
}

TEST(LoadYaml, DeepNestingIsRefusedNotRecursedInto) {
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  absl::StatusOr<YamlNode> n = LoadYaml(deep);
  ASSERT_FALSE(n.ok());
  EXPECT_NE(n.status().message().find("nested deeper than"), std::string::npos);
  std::string ok = "a: ";
  for (int i = 0; i < 100; ++i) ok += "[";
  for (int i = 0; i < 100; ++i) ok += "]";
  ExpectSameAsYamlCpp(ok);
}

}  // namespace
}  // namespace ladle
