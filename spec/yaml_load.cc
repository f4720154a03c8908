#include "spec/yaml_load.h"

#include <yaml.h>

#include <ios>
#include <limits>
#include <map>
#include <sstream>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
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

absl::StatusOr<YamlNode> LoadYaml(const std::string& text) {
  Parser parser(text);
  std::vector<Open> stack;
  // A collection's anchor is dropped when the collection opens (an alias of
  // it inside would be a cycle) and names it once complete, unless the name
  // was defined again inside: the later definition stands, as in yaml-cpp.
  std::map<std::string, YamlNode, std::less<>> anchors;
  YamlNode root;  // Null (empty input) unless a document has content
  bool started = false;
  int64_t nodes = 0;

  // Places a finished node into its parent (or makes it the root).
  auto place = [&](YamlNode node) {
    if (stack.empty()) {
      root = std::move(node);
      return;
    }
    Open& top = stack.back();
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
  };
  // A redefined anchor names the new node from here on.
  auto remember = [&](absl::string_view anchor, const YamlNode& node) {
    if (anchor.empty()) return;
    anchors.insert_or_assign(std::string(anchor), node);
  };
  auto too_many = [] {
    return absl::InvalidArgumentError(absl::StrCat(
        "spec: aliases expand to more than ", kMaxYamlNodes, " nodes"));
  };

  while (true) {
    absl::StatusOr<const yaml_event_t*> next = parser.Next();
    if (!next.ok()) return next.status();
    const yaml_event_t& e = **next;
    switch (e.type) {
      case YAML_STREAM_END_EVENT:
        return root;
      case YAML_DOCUMENT_START_EVENT:
        if (started) return root;  // the first document only, as YAML::Load
        started = true;
        break;
      case YAML_DOCUMENT_END_EVENT:
        return root;
      case YAML_SCALAR_EVENT: {
        if (++nodes > kMaxYamlNodes) return too_many();
        const auto& s = e.data.scalar;
        const absl::string_view value(reinterpret_cast<const char*>(s.value),
                                      s.length);
        const absl::string_view tag = Text(s.tag);
        const bool plain = s.style == YAML_PLAIN_SCALAR_STYLE;
        YamlNode node;  // Null
        if (!(plain && tag.empty() && IsNullText(value))) {
          node = YamlNode::Scalar(std::string(value), !tag.empty()
                                                          ? std::string(tag)
                                                      : plain ? "?"
                                                              : "!");
        }
        remember(Text(s.anchor), node);
        place(std::move(node));
        break;
      }
      case YAML_SEQUENCE_START_EVENT:
      case YAML_MAPPING_START_EVENT: {
        if (static_cast<int>(stack.size()) >= kMaxYamlDepth) {
          return absl::InvalidArgumentError(absl::StrCat(
              "spec: nested deeper than ", kMaxYamlDepth, " levels"));
        }
        if (++nodes > kMaxYamlNodes) return too_many();
        const bool is_map = e.type == YAML_MAPPING_START_EVENT;
        const yaml_char_t* tag =
            is_map ? e.data.mapping_start.tag : e.data.sequence_start.tag;
        std::string t = tag != nullptr ? std::string(Text(tag)) : "?";
        Open open;
        open.is_map = is_map;
        open.node = is_map ? YamlNode::Map(std::move(t))
                           : YamlNode::Sequence(std::move(t));
        open.anchor = std::string(Text(is_map ? e.data.mapping_start.anchor
                                              : e.data.sequence_start.anchor));
        if (!open.anchor.empty()) anchors.erase(open.anchor);
        stack.push_back(std::move(open));
        break;
      }
      case YAML_SEQUENCE_END_EVENT:
      case YAML_MAPPING_END_EVENT: {
        Open done = std::move(stack.back());
        stack.pop_back();
        if (!done.anchor.empty()) anchors.emplace(done.anchor, done.node);
        place(std::move(done.node));
        break;
      }
      case YAML_ALIAS_EVENT: {
        const absl::string_view name = Text(e.data.alias.anchor);
        auto it = anchors.find(name);
        if (it == anchors.end()) {
          // (Also an alias inside its own anchor's node: a cycle, which the
          // readers could not walk.)
          return absl::InvalidArgumentError(absl::StrCat(
              "spec: malformed YAML at line ", e.start_mark.line + 1,
              ", column ", e.start_mark.column + 1, ": unknown anchor *",
              name));
        }
        nodes += it->second.CountNodes();
        if (nodes > kMaxYamlNodes) return too_many();
        place(it->second);
        break;
      }
      default:  // stream start, no-op
        break;
    }
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
