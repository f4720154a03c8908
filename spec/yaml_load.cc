#include "spec/yaml_load.h"

#include <yaml.h>

#include <ios>
#include <limits>
#include <map>
#include <optional>
#include <sstream>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "yaml-cpp/yaml.h"

namespace ladle {
namespace {

// Owns a libyaml parser and its current event.
class Parser {
 public:
  explicit Parser(const std::string& text) {
    yaml_parser_initialize(&parser_);
    yaml_parser_set_input_string(
        &parser_, reinterpret_cast<const unsigned char*>(text.data()),
        text.size());
  }
  ~Parser() {
    if (has_event_) yaml_event_delete(&event_);
    yaml_parser_delete(&parser_);
  }
  Parser(const Parser&) = delete;
  Parser& operator=(const Parser&) = delete;

  // The next event, or an error naming where the input broke.
  absl::StatusOr<const yaml_event_t*> Next() {
    if (has_event_) yaml_event_delete(&event_);
    has_event_ = false;
    if (!yaml_parser_parse(&parser_, &event_)) {
      const yaml_mark_t& m = parser_.problem_mark;
      return absl::InvalidArgumentError(absl::StrCat(
          "spec: malformed YAML at line ", m.line + 1, ", column ",
          m.column + 1, ": ",
          parser_.problem != nullptr ? parser_.problem : "cannot parse",
          parser_.context != nullptr ? absl::StrCat(" ", parser_.context)
                                     : ""));
    }
    has_event_ = true;
    return &event_;
  }

 private:
  yaml_parser_t parser_;
  yaml_event_t event_;
  bool has_event_ = false;
};

absl::string_view Text(const yaml_char_t* s) {
  return s == nullptr ? absl::string_view()
                      : absl::string_view(reinterpret_cast<const char*>(s));
}

bool IsNullText(absl::string_view s) {
  return s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL";
}

// A mapping or sequence being filled; a mapping's pending key waits here for
// its value.
struct Open {
  YamlNode node;
  bool is_map = false;
  bool has_key = false;
  YamlNode key;
  std::string anchor;  // registered when the node is complete
};

}  // namespace

int64_t YamlNode::CountNodes() const {
  int64_t n = 1;
  for (const YamlNode& i : items_) n += i.CountNodes();
  for (const Pair& p : pairs_)
    n += p.first.CountNodes() + p.second.CountNodes();
  return n;
}

namespace {

// Builds the tree from libyaml's events: a stack of open collections, the
// anchors defined so far, and the node count that bounds alias expansion.
class TreeBuilder {
 public:
  // The first document's root once `e` ends it; nullopt while it goes on.
  absl::StatusOr<std::optional<YamlNode>> Feed(const yaml_event_t& e) {
    switch (e.type) {
      case YAML_STREAM_END_EVENT:
      case YAML_DOCUMENT_END_EVENT:
        return std::optional<YamlNode>(std::move(root_));
      case YAML_DOCUMENT_START_EVENT:
        // The first document only, as YAML::Load.
        if (started_) return std::optional<YamlNode>(std::move(root_));
        started_ = true;
        break;
      case YAML_SCALAR_EVENT:
        RETURN_IF_ERROR(Scalar(e));
        break;
      case YAML_SEQUENCE_START_EVENT:
      case YAML_MAPPING_START_EVENT:
        RETURN_IF_ERROR(Start(e));
        break;
      case YAML_SEQUENCE_END_EVENT:
      case YAML_MAPPING_END_EVENT:
        End();
        break;
      case YAML_ALIAS_EVENT:
        RETURN_IF_ERROR(Alias(e));
        break;
      default:  // stream start, no-op
        break;
    }
    return std::optional<YamlNode>();
  }

 private:
  static absl::Status TooMany() {
    return absl::InvalidArgumentError(absl::StrCat(
        "spec: aliases expand to more than ", kMaxYamlNodes, " nodes"));
  }

  // Places a finished node into its parent (or makes it the root).
  void Place(YamlNode node) {
    if (stack_.empty()) {
      root_ = std::move(node);
      return;
    }
    Open& top = stack_.back();
    if (!top.is_map) {
      top.node.Append(std::move(node));
    } else if (!top.has_key) {
      top.key = std::move(node);
      top.has_key = true;
    } else {
      top.node.Insert(std::move(top.key), std::move(node));
      top.key = YamlNode();
      top.has_key = false;
    }
  }

  absl::Status Scalar(const yaml_event_t& e) {
    if (++nodes_ > kMaxYamlNodes) return TooMany();
    const auto& s = e.data.scalar;
    const absl::string_view value(reinterpret_cast<const char*>(s.value),
                                  s.length);
    const absl::string_view tag = Text(s.tag);
    const bool plain = s.style == YAML_PLAIN_SCALAR_STYLE;
    YamlNode node;  // Null
    if (!(plain && tag.empty() && IsNullText(value))) {
      node =
          YamlNode::Scalar(std::string(value), !tag.empty() ? std::string(tag)
                                               : plain      ? "?"
                                                            : "!");
    }
    // A redefined anchor names the new node from here on.
    const absl::string_view anchor = Text(s.anchor);
    if (!anchor.empty()) anchors_.insert_or_assign(std::string(anchor), node);
    Place(std::move(node));
    return absl::OkStatus();
  }

  // A collection's anchor is dropped when the collection opens (an alias of
  // it inside would be a cycle) and names it once complete, unless the name
  // was defined again inside: the later definition stands, as in yaml-cpp.
  absl::Status Start(const yaml_event_t& e) {
    if (static_cast<int>(stack_.size()) >= kMaxYamlDepth) {
      return absl::InvalidArgumentError(
          absl::StrCat("spec: nested deeper than ", kMaxYamlDepth, " levels"));
    }
    if (++nodes_ > kMaxYamlNodes) return TooMany();
    const bool is_map = e.type == YAML_MAPPING_START_EVENT;
    const yaml_char_t* tag =
        is_map ? e.data.mapping_start.tag : e.data.sequence_start.tag;
    std::string t = tag != nullptr ? std::string(Text(tag)) : "?";
    Open open;
    open.is_map = is_map;
    open.node =
        is_map ? YamlNode::Map(std::move(t)) : YamlNode::Sequence(std::move(t));
    open.anchor = std::string(Text(is_map ? e.data.mapping_start.anchor
                                          : e.data.sequence_start.anchor));
    if (!open.anchor.empty()) anchors_.erase(open.anchor);
    stack_.push_back(std::move(open));
    return absl::OkStatus();
  }

  void End() {
    Open done = std::move(stack_.back());
    stack_.pop_back();
    if (!done.anchor.empty()) anchors_.emplace(done.anchor, done.node);
    Place(std::move(done.node));
  }

  absl::Status Alias(const yaml_event_t& e) {
    const absl::string_view name = Text(e.data.alias.anchor);
    auto it = anchors_.find(name);
    if (it == anchors_.end()) {
      // (Also an alias inside its own anchor's node: a cycle, which the
      // readers could not walk.)
      return absl::InvalidArgumentError(absl::StrCat(
          "spec: malformed YAML at line ", e.start_mark.line + 1, ", column ",
          e.start_mark.column + 1, ": unknown anchor *", name));
    }
    nodes_ += it->second.CountNodes();
    if (nodes_ > kMaxYamlNodes) return TooMany();
    Place(it->second);
    return absl::OkStatus();
  }

  std::vector<Open> stack_;
  std::map<std::string, YamlNode, std::less<>> anchors_;
  YamlNode root_;  // Null (empty input) unless a document has content
  bool started_ = false;
  int64_t nodes_ = 0;
};

}  // namespace

absl::StatusOr<YamlNode> LoadYaml(const std::string& text) {
  Parser parser(text);
  TreeBuilder builder;
  while (true) {
    absl::StatusOr<const yaml_event_t*> next = parser.Next();
    if (!next.ok()) return next.status();
    ASSIGN_OR_RETURN(std::optional<YamlNode> root, builder.Feed(**next));
    if (root.has_value()) return *std::move(root);
  }
}

bool DecodeInt64(const std::string& text, int64_t* out) {
  // Plain decimals without a leading zero (which the stream would read as
  // octal) and short enough not to overflow read the same directly.
  size_t digits_at = !text.empty() && (text[0] == '-' || text[0] == '+');
  const size_t digits = text.size() - digits_at;
  if (digits >= 1 && digits <= 18 && (text[digits_at] != '0' || digits == 1)) {
    bool all = true;
    for (size_t i = digits_at; i < text.size() && all; ++i)
      all = text[i] >= '0' && text[i] <= '9';
    if (all) return absl::SimpleAtoi(text, out);
  }
  // yaml-cpp's convert<long>::decode, step for step.
  std::stringstream stream(text);
  stream.unsetf(std::ios::dec);
  int64_t v;
  if ((stream >> std::noskipws >> v) && (stream >> std::ws).eof()) {
    *out = v;
    return true;
  }
  return false;
}

bool DecodeDouble(const std::string& text, double* out) {
  // yaml-cpp's convert<double>::decode, step for step.
  std::stringstream stream(text);
  stream.unsetf(std::ios::dec);
  double v;
  if ((stream >> std::noskipws >> v) && (stream >> std::ws).eof()) {
    *out = v;
    return true;
  }
  if (YAML::conversion::IsInfinity(text)) {
    *out = std::numeric_limits<double>::infinity();
    return true;
  }
  if (YAML::conversion::IsNegativeInfinity(text)) {
    *out = -std::numeric_limits<double>::infinity();
    return true;
  }
  if (YAML::conversion::IsNaN(text)) {
    *out = std::numeric_limits<double>::quiet_NaN();
    return true;
  }
  return false;
}

bool DecodeBool(const std::string& text, bool* out) {
  // Rare (booleans only): yaml-cpp's own decoder, on a scalar of this text.
  bool v;
  if (!YAML::convert<bool>::decode(YAML::Node(text), v)) return false;
  *out = v;
  return true;
}

}  // namespace ladle
