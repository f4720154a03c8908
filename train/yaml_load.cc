#include "train/yaml_load.h"

#include <yaml.h>

#include <map>
#include <vector>

#include "absl/strings/str_cat.h"

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

std::string Text(const yaml_char_t* s) {
  return s == nullptr ? std::string() : reinterpret_cast<const char*>(s);
}

bool IsNullText(const std::string& s) {
  return s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL";
}

// A mapping or sequence being filled; a mapping's pending key waits here for
// its value.
struct Open {
  YAML::Node node;
  bool is_map = false;
  bool has_key = false;
  YAML::Node key;
};

}  // namespace

absl::StatusOr<YAML::Node> LoadYaml(const std::string& text) {
  Parser parser(text);
  std::vector<Open> stack;
  std::map<std::string, YAML::Node> anchors;
  YAML::Node root;  // Null (empty input) unless a document has content
  bool started = false;

  // Places a finished node into its parent (or makes it the root).
  // yaml-cpp's Node::operator= writes into the node a handle refers to (and
  // so into every alias of it); reset() rebinds the handle instead.
  auto place = [&](const YAML::Node& node) {
    if (stack.empty()) {
      root.reset(node);
      return;
    }
    Open& top = stack.back();
    if (!top.is_map) {
      top.node.push_back(node);
    } else if (!top.has_key) {
      top.key.reset(node);
      top.has_key = true;
    } else {
      top.node.force_insert(top.key, node);
      top.has_key = false;
    }
  };
  auto remember = [&](const yaml_char_t* anchor, const YAML::Node& node) {
    if (anchor == nullptr) return;
    const std::string name = Text(anchor);
    anchors.erase(name);  // a redefined anchor names the new node from here
    anchors.emplace(name, node);
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
        const auto& s = e.data.scalar;
        std::string value(reinterpret_cast<const char*>(s.value), s.length);
        const std::string tag = Text(s.tag);
        const bool plain = s.style == YAML_PLAIN_SCALAR_STYLE;
        const bool null = plain && tag.empty() && IsNullText(value);
        YAML::Node node = null ? YAML::Node(YAML::NodeType::Null)
                               : YAML::Node(std::move(value));
        if (!null) node.SetTag(!tag.empty() ? tag : plain ? "?" : "!");
        remember(s.anchor, node);
        place(node);
        break;
      }
      case YAML_SEQUENCE_START_EVENT:
      case YAML_MAPPING_START_EVENT: {
        if (static_cast<int>(stack.size()) >= kMaxYamlDepth) {
          return absl::InvalidArgumentError(absl::StrCat(
              "spec: nested deeper than ", kMaxYamlDepth, " levels"));
        }
        const bool is_map = e.type == YAML_MAPPING_START_EVENT;
        Open open;
        open.is_map = is_map;
        open.node.reset(YAML::Node(is_map ? YAML::NodeType::Map
                                          : YAML::NodeType::Sequence));
        const yaml_char_t* tag =
            is_map ? e.data.mapping_start.tag : e.data.sequence_start.tag;
        open.node.SetTag(tag != nullptr ? Text(tag) : "?");
        remember(
            is_map ? e.data.mapping_start.anchor : e.data.sequence_start.anchor,
            open.node);
        stack.push_back(std::move(open));
        break;
      }
      case YAML_SEQUENCE_END_EVENT:
      case YAML_MAPPING_END_EVENT: {
        YAML::Node done = stack.back().node;
        stack.pop_back();
        place(done);
        break;
      }
      case YAML_ALIAS_EVENT: {
        const std::string name = Text(e.data.alias.anchor);
        auto it = anchors.find(name);
        if (it == anchors.end()) {
          return absl::InvalidArgumentError(absl::StrCat(
              "spec: malformed YAML at line ", e.start_mark.line + 1,
              ", column ", e.start_mark.column + 1, ": unknown anchor *",
              name));
        }
        place(it->second);
        break;
      }
      default:  // stream start, no-op
        break;
    }
  }
}

}  // namespace ladle
