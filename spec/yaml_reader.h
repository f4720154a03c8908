// MapReader: strict, path-naming access to one YAML mapping, shared by every
// spec parser (trial specs, experiment specs). Every key read is recorded;
// Finish() rejects the others. Errors are INVALID_ARGUMENT with the key's
// dotted path first: "train.optimizer.lr: ...".
#ifndef LADLE_SPEC_YAML_READER_H_
#define LADLE_SPEC_YAML_READER_H_

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <set>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/inlined_vector.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "common/status_macros.h"
#include "spec/yaml_load.h"

namespace ladle {

inline absl::Status Invalid(const std::string& path, const std::string& msg) {
  return absl::InvalidArgumentError(absl::StrCat(path, ": ", msg));
}

inline std::string Join(const std::string& parent, const std::string& key) {
  return parent.empty() ? key : parent + "." + key;
}

// Offset of the first byte that is not part of valid UTF-8, or -1. Specs
// become JSON (which must be UTF-8) and reach users' terminals, so invalid
// text is refused at the door (found by tests/fuzz: it crashed the planner).
inline int64_t FirstInvalidUtf8(absl::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const size_t n = s.size();
  for (size_t i = 0; i < n;) {
    const unsigned char c = p[i];
    size_t len = c < 0x80           ? 1
                 : (c >> 5) == 0x6  ? 2
                 : (c >> 4) == 0xE  ? 3
                 : (c >> 3) == 0x1E ? 4
                                    : 0;
    if (len == 0 || i + len > n) return static_cast<int64_t>(i);
    for (size_t k = 1; k < len; ++k)
      if ((p[i + k] & 0xC0) != 0x80) return static_cast<int64_t>(i);
    // Overlong forms, surrogates and code points past U+10FFFF.
    const uint32_t cp =
        len == 1   ? c
        : len == 2 ? ((c & 0x1Fu) << 6) | (p[i + 1] & 0x3Fu)
        : len == 3 ? ((c & 0x0Fu) << 12) | ((p[i + 1] & 0x3Fu) << 6) |
                         (p[i + 2] & 0x3Fu)
                   : ((c & 0x07u) << 18) | ((p[i + 1] & 0x3Fu) << 12) |
                         ((p[i + 2] & 0x3Fu) << 6) | (p[i + 3] & 0x3Fu);
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) ||
        (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF))
      return static_cast<int64_t>(i);
    i += len;
  }
  return -1;
}

// Parses YAML text into a node; malformed YAML is INVALID_ARGUMENT with line
// and column, and a document that is not a mapping is INVALID_ARGUMENT naming
// `expected_keys`.
inline absl::StatusOr<YamlNode> LoadYamlMapping(
    const std::string& text, const std::string& expected_keys) {
  if (const int64_t bad = FirstInvalidUtf8(text); bad >= 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "spec: not valid UTF-8 (byte ", bad, "); save the file as UTF-8"));
  }
  for (size_t i = 0; i < text.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7F) {
      return absl::InvalidArgumentError(
          absl::StrCat("spec: control character 0x", absl::Hex(c), " at byte ",
                       i, "; YAML allows tabs and line breaks only"));
    }
  }
  ASSIGN_OR_RETURN(YamlNode root, LoadYaml(text));
  if (!root.IsMap()) {
    return absl::InvalidArgumentError(
        absl::StrCat("spec: must be a mapping with ", expected_keys));
  }
  return root;
}

// A mapping key as text: a scalar's own, "null" for a null key (as yaml-cpp
// reads it); false for a collection used as a key.
inline bool KeyText(const YamlNode& key, std::string* out) {
  if (key.IsScalar()) {
    *out = key.scalar();
    return true;
  }
  if (key.IsNull()) {
    *out = "null";
    return true;
  }
  return false;
}

// Strict access to one YAML mapping: every key read is recorded, and Finish()
// rejects the rest.
// Keys and the path are views: pass literals, or strings that outlive the
// reader (every caller does; nothing is copied per lookup). The node must
// outlive the reader and what Child returns.
class MapReader {
 public:
  MapReader(const YamlNode& node, absl::string_view path)
      : node_(node), path_(path) {
    // Big mappings get an index; a spec's have a handful of keys, scanned.
    if (node_.IsMap() && node_.pairs().size() > kScanPairs) {
      for (const YamlNode::Pair& kv : node_.pairs()) {
        if (kv.first.IsScalar())
          index_.emplace(kv.first.scalar(), &kv.second);  // the first wins
      }
    }
  }

  absl::Status CheckIsMap() const {
    if (node_.IsNull()) return absl::OkStatus();
    if (!node_.IsMap()) {
      return Invalid(path_.empty() ? "spec" : std::string(path_),
                     "must be a mapping of key: value");
    }
    return absl::OkStatus();
  }

  bool Has(absl::string_view key) { return Find(key) != nullptr; }
  // The key's node; a missing key reads as an empty (null) node.
  const YamlNode& Child(absl::string_view key) {
    seen_.push_back(key);
    const YamlNode* n = At(key);
    return n != nullptr ? *n : kEmpty();
  }
  std::string PathOf(absl::string_view key) const {
    return Join(std::string(path_), std::string(key));
  }

  absl::Status Int(absl::string_view key, int64_t* out, int64_t lo,
                   int64_t hi) {
    const YamlNode* n = Find(key);
    if (n == nullptr) return absl::OkStatus();
    int64_t v;
    double d;
    if (!n->IsScalar() || !DecodeInt64(n->scalar(), &v)) {
      // Accept integral floats like 1e3 written by tools, reject 1.5.
      if (n->IsScalar() && DecodeDouble(n->scalar(), &d) && std::isfinite(d) &&
          d == std::floor(d) && std::fabs(d) < 9e15) {
        v = static_cast<int64_t>(d);
      } else {
        return Invalid(PathOf(key), absl::StrCat("must be an integer, got '",
                                                 Text(*n), "'"));
      }
    }
    if (v < lo || v > hi) {
      return Invalid(PathOf(key),
                     absl::StrCat("must be in [", lo, ", ", hi, "], got ", v));
    }
    *out = v;
    return absl::OkStatus();
  }

  // lo/hi bounds; open_lo makes the lower bound exclusive.
  absl::Status Double(absl::string_view key, double* out, double lo, double hi,
                      bool open_lo = false, bool open_hi = false) {
    const YamlNode* n = Find(key);
    if (n == nullptr) return absl::OkStatus();
    double v;
    if (!n->IsScalar() || !DecodeDouble(n->scalar(), &v)) {
      return Invalid(PathOf(key),
                     absl::StrCat("must be a number, got '", Text(*n), "'"));
    }
    if (!std::isfinite(v))
      return Invalid(PathOf(key), "must be a finite number, got " + Text(*n));
    if (v < lo || v > hi || (open_lo && v == lo) || (open_hi && v == hi)) {
      return Invalid(PathOf(key),
                     absl::StrCat("must be in ", open_lo ? "(" : "[", lo, ", ",
                                  hi, open_hi ? ")" : "]", ", got ", v));
    }
    *out = v;
    return absl::OkStatus();
  }

  absl::Status Float(absl::string_view key, float* out, double lo, double hi,
                     bool open_lo = false, bool open_hi = false) {
    double v = *out;
    RETURN_IF_ERROR(Double(key, &v, lo, hi, open_lo, open_hi));
    *out = static_cast<float>(v);
    return absl::OkStatus();
  }

  absl::Status Bool(absl::string_view key, bool* out) {
    const YamlNode* n = Find(key);
    if (n == nullptr) return absl::OkStatus();
    bool v;
    if (!n->IsScalar() || !DecodeBool(n->scalar(), &v)) {
      return Invalid(PathOf(key),
                     "must be true or false, got '" + Text(*n) + "'");
    }
    *out = v;
    return absl::OkStatus();
  }

  absl::Status Seed(absl::string_view key, uint64_t* out) {
    int64_t v = static_cast<int64_t>(*out);
    RETURN_IF_ERROR(Int(key, &v, 0, std::numeric_limits<int64_t>::max()));
    *out = static_cast<uint64_t>(v);
    return absl::OkStatus();
  }

  // `allowed` (literals; empty: any) is not copied into strings per call.
  absl::Status String(absl::string_view key, std::string* out,
                      std::initializer_list<absl::string_view> allowed = {}) {
    return StringOneOf(key, out, allowed);
  }
  absl::Status String(absl::string_view key, std::string* out,
                      const std::vector<std::string>& allowed) {
    return StringOneOf(key, out, allowed);
  }

  // A list of 1..max_items non-empty strings.
  absl::Status StringList(absl::string_view key, std::vector<std::string>* out,
                          size_t max_items) {
    const YamlNode* n = Find(key);
    if (n == nullptr) return absl::OkStatus();
    if (!n->IsSequence() || n->size() == 0 || n->size() > max_items) {
      return Invalid(PathOf(key), absl::StrCat("must be a list of 1 to ",
                                               max_items, " strings"));
    }
    out->clear();
    for (const YamlNode& e : n->items()) {
      if (!e.IsScalar() || e.scalar().empty())
        return Invalid(PathOf(key), "items must be non-empty strings");
      out->push_back(e.scalar());
    }
    return absl::OkStatus();
  }

  absl::Status IntList(absl::string_view key, std::vector<int64_t>* out,
                       int64_t lo, int64_t hi) {
    const YamlNode* n = Find(key);
    if (n == nullptr) return absl::OkStatus();
    if (!n->IsSequence())
      return Invalid(PathOf(key),
                     "must be a list of integers, e.g. [256, 256]");
    std::vector<int64_t> values;
    for (size_t i = 0; i < n->size(); ++i) {
      const YamlNode& e = n->items()[i];
      int64_t v;
      if (!e.IsScalar() || !DecodeInt64(e.scalar(), &v)) {
        return Invalid(absl::StrCat(PathOf(key), "[", i, "]"),
                       "must be an integer");
      }
      if (v < lo || v > hi) {
        return Invalid(
            absl::StrCat(PathOf(key), "[", i, "]"),
            absl::StrCat("must be in [", lo, ", ", hi, "], got ", v));
      }
      values.push_back(v);
    }
    *out = std::move(values);
    return absl::OkStatus();
  }

  // Rejects keys that were never asked for.
  absl::Status Finish() const {
    if (!node_.IsMap()) return absl::OkStatus();
    for (const YamlNode::Pair& kv : node_.pairs()) {
      std::string key;
      if (!KeyText(kv.first, &key)) {
        return Invalid(path_.empty() ? "spec" : std::string(path_),
                       "keys must be plain strings, not lists or mappings");
      }
      if (std::find(seen_.begin(), seen_.end(), key) == seen_.end()) {
        const std::set<std::string> sorted(seen_.begin(), seen_.end());
        std::vector<std::string> known(sorted.begin(), sorted.end());
        return Invalid(PathOf(key),
                       absl::StrCat("unknown key; expected one of: ",
                                    absl::StrJoin(known, ", ")));
      }
    }
    return absl::OkStatus();
  }

 private:
  // A string from `allowed` (any string when it is empty).
  template <typename List>
  absl::Status StringOneOf(absl::string_view key, std::string* out,
                           const List& allowed) {
    const YamlNode* n = Find(key);
    if (n == nullptr) return absl::OkStatus();
    if (!n->IsScalar()) return Invalid(PathOf(key), "must be a string");
    const std::string& v = n->scalar();
    if (allowed.size() != 0 &&
        std::find(allowed.begin(), allowed.end(), v) == allowed.end()) {
      return Invalid(PathOf(key),
                     absl::StrCat("unknown value '", v, "'; use one of: ",
                                  absl::StrJoin(allowed, ", ")));
    }
    *out = v;
    return absl::OkStatus();
  }

  static constexpr size_t kScanPairs = 16;

  static std::string Text(const YamlNode& n) {
    if (n.IsScalar()) return n.scalar();
    if (n.IsSequence()) return "a list";
    if (n.IsMap()) return "a mapping";
    return "null";
  }

  // What a missing key reads as: a null node, shared.
  static const YamlNode& kEmpty() {
    static const YamlNode* const kNull = new YamlNode();
    return *kNull;
  }

  // Records `key` as read; its node, or null when missing or null.
  const YamlNode* Find(absl::string_view key) {
    seen_.push_back(key);
    const YamlNode* n = At(key);
    return n != nullptr && !n->IsNull() ? n : nullptr;
  }

  // The first value under a scalar key equal to `key`, or null.
  const YamlNode* At(absl::string_view key) const {
    if (!node_.IsMap()) return nullptr;
    if (!index_.empty()) {
      auto it = index_.find(key);
      return it == index_.end() ? nullptr : it->second;
    }
    for (const YamlNode::Pair& kv : node_.pairs()) {
      if (kv.first.IsScalar() && kv.first.scalar() == key) return &kv.second;
    }
    return nullptr;
  }

  const YamlNode& node_;
  absl::string_view path_;
  absl::flat_hash_map<absl::string_view, const YamlNode*> index_;
  // Keys read, in order (a handful per mapping: inline, no allocation;
  // Finish sorts them for its message).
  absl::InlinedVector<absl::string_view, 24> seen_;
};

}  // namespace ladle

#endif  // LADLE_SPEC_YAML_READER_H_
