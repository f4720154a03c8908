// Loads one YAML document, through libyaml's parser, into a small tree of
// its own (YamlNode) that the spec readers walk.
//
// yaml-cpp's own scanner matches characters through its regex engine and took
// ~75% of parsing an experiment spec; libyaml's C scanner does the same work
// several times faster. Its node tree then cost more than the scan (a shared
// memory holder per node, merged on every insert, reference counts on every
// copy), so the readers walk this plain tree instead. The tree holds what
// YAML::Load would give, node for node (tests/train/yaml_load_test.cc compares
// the two on every spec in the repository and on corner cases): plain scalars
// carry tag "?" and quoted ones "!" (explicit tags are kept), plain
// ~/null/Null/NULL and empty values are Null nodes, duplicate keys are kept in
// order, and only the first document counts. An alias is a copy of its
// anchor's node (yaml-cpp shares it; readers never write, so it reads the
// same).
//
// Errors: INVALID_ARGUMENT "spec: malformed YAML at line L, column C: ..."
// (1-based); "spec: nested deeper than N levels" (N = kMaxYamlDepth: specs
// are shallow, and readers recurse); "spec: aliases expand to more than N
// nodes" (N = kMaxYamlNodes: each alias copies its anchor, so nested aliases
// could grow a small text exponentially; a 1 MiB spec without aliases has at
// most ~500k nodes).
//
// Thread safety: a YamlNode is a value; const access from many threads is safe.
#ifndef LADLE_SPEC_YAML_LOAD_H_
#define LADLE_SPEC_YAML_LOAD_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace ladle {

inline constexpr int kMaxYamlDepth = 256;
inline constexpr int64_t kMaxYamlNodes = 1'000'000;

class YamlNode {
 public:
  // (A missing key reads as Null: MapReader::Child.)
  enum class Type : uint8_t { kNull, kScalar, kSequence, kMap };
  using Pair = std::pair<YamlNode, YamlNode>;

  YamlNode() = default;  // Null
  static YamlNode Scalar(std::string text, std::string tag) {
    YamlNode n(Type::kScalar);
    n.scalar_ = std::move(text);
    n.tag_ = std::move(tag);
    return n;
  }
  static YamlNode Sequence(std::string tag = "?") {
    YamlNode n(Type::kSequence);
    n.tag_ = std::move(tag);
    return n;
  }
  static YamlNode Map(std::string tag = "?") {
    YamlNode n(Type::kMap);
    n.tag_ = std::move(tag);
    return n;
  }

  Type type() const { return type_; }
  bool IsNull() const { return type_ == Type::kNull; }
  bool IsScalar() const { return type_ == Type::kScalar; }
  bool IsSequence() const { return type_ == Type::kSequence; }
  bool IsMap() const { return type_ == Type::kMap; }
  // A scalar's text; empty for other nodes.
  const std::string& scalar() const { return scalar_; }
  const std::string& tag() const { return tag_; }
  // Items of a sequence, pairs of a mapping (in document order); empty for
  // other nodes.
  const std::vector<YamlNode>& items() const { return items_; }
  const std::vector<Pair>& pairs() const { return pairs_; }
  size_t size() const { return IsMap() ? pairs_.size() : items_.size(); }

  // Building (the loader and converters): on a sequence / a mapping.
  void Append(YamlNode item) { items_.push_back(std::move(item)); }
  void Insert(YamlNode key, YamlNode value) {
    pairs_.emplace_back(std::move(key), std::move(value));
  }
  // Nodes in this tree, this one included.
  int64_t CountNodes() const;

 private:
  explicit YamlNode(Type type) : type_(type) {}

  Type type_ = Type::kNull;
  std::string scalar_;
  std::string tag_;
  std::vector<YamlNode> items_;
  std::vector<Pair> pairs_;
};

absl::StatusOr<YamlNode> LoadYaml(const std::string& text);

// Scalar conversions, each exactly yaml-cpp's YAML::convert<T>::decode on a
// scalar of this text (ints in any base the C++ stream reads, ".inf", ".nan",
// y/yes/true/on and their flexible cases, ...): false when it does not convert.
bool DecodeInt64(const std::string& text, int64_t* out);
bool DecodeDouble(const std::string& text, double* out);
bool DecodeBool(const std::string& text, bool* out);

}  // namespace ladle

#endif  // LADLE_SPEC_YAML_LOAD_H_
