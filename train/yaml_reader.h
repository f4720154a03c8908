// MapReader: strict, path-naming access to one YAML mapping, shared by every
// spec parser (trial specs, experiment specs). Every key read is recorded;
// Finish() rejects the others. Errors are INVALID_ARGUMENT with the key's
// dotted path first: "train.optimizer.lr: ...".
#ifndef LADLE_TRAIN_YAML_READER_H_
#define LADLE_TRAIN_YAML_READER_H_

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/inlined_vector.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "common/status_macros.h"
#include "train/yaml_load.h"
#include "yaml-cpp/yaml.h"

namespace ladle {

inline absl::Status Invalid(const std::string& path, const std::string& msg) {
  return absl::InvalidArgumentError(absl::StrCat(path, ": ", msg));
}

inline std::string Join(const std::string& parent, const std::string& key) {
  return parent.empty() ? key : parent + "." + key;
}

// Strict access to one YAML mapping: every key read is recorded, and Finish()
// rejects the rest.
// Parses YAML text into a node; malformed YAML is INVALID_ARGUMENT with line
// and column, and a document that is not a mapping is INVALID_ARGUMENT naming
// `expected_keys`.
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

inline absl::StatusOr<YAML::Node> LoadYamlMapping(
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
  ASSIGN_OR_RETURN(YAML::Node root, LoadYaml(text));
  if (!root.IsMap()) {
    return absl::InvalidArgumentError(
        absl::StrCat("spec: must be a mapping with ", expected_keys));
  }
  return root;
}

// Keys and the path are views: pass literals, or strings that outlive the
// reader (every caller does; nothing is copied per lookup).
class MapReader {
 public:
  MapReader(YAML::Node node, absl::string_view path)
      : node_(std::move(node)), path_(path) {
    // One pass over the mapping: yaml-cpp's own lookup compares every key
    // through a conversion that allocates, for each of the ~100 lookups of
    // a trial spec.
    if (node_.IsMap()) {
      for (const auto& kv : node_) {
        if (kv.first.IsScalar()) {
          children_.emplace(kv.first.Scalar(), kv.second);
        } else {
          all_keys_scalar_ = false;
        }
      }
    }
  }

  absl::Status CheckIsMap() const {
    if (!node_.IsDefined() || node_.IsNull()) return absl::OkStatus();
    if (!node_.IsMap()) {
      return Invalid(path_.empty() ? "spec" : std::string(path_),
                     "must be a mapping of key: value");
    }
    return absl::OkStatus();
  }

  bool Has(absl::string_view key) { return Find(key) != nullptr; }
  YAML::Node Child(absl::string_view key) {
    seen_.push_back(key);
    if (!node_.IsMap()) return Empty();
    const YAML::Node& n = At(key);
    return n.IsDefined() ? n : Empty();  // missing: an empty node
  }
  std::string PathOf(absl::string_view key) const {
    return Join(std::string(path_), std::string(key));
  }

  absl::Status Int(absl::string_view key, int64_t* out, int64_t lo,
                   int64_t hi) {
    const YAML::Node* found = Find(key);
    if (found == nullptr) return absl::OkStatus();
    const YAML::Node& n = *found;
    int64_t v;
    double d;
    if (!n.IsScalar() || !YAML::convert<int64_t>::decode(n, v)) {
      // Accept integral floats like 1e3 written by tools, reject 1.5.
      if (n.IsScalar() && YAML::convert<double>::decode(n, d) &&
          std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9e15) {
        v = static_cast<int64_t>(d);
      } else {
        return Invalid(PathOf(key),
                       absl::StrCat("must be an integer, got '", Text(n), "'"));
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
    const YAML::Node* found = Find(key);
    if (found == nullptr) return absl::OkStatus();
    const YAML::Node& n = *found;
    double v;
    if (!n.IsScalar() || !YAML::convert<double>::decode(n, v)) {
      return Invalid(PathOf(key),
                     absl::StrCat("must be a number, got '", Text(n), "'"));
    }
    if (!std::isfinite(v))
      return Invalid(PathOf(key), "must be a finite number, got " + Text(n));
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
    const YAML::Node* found = Find(key);
    if (found == nullptr) return absl::OkStatus();
    bool v;
    if (!found->IsScalar() || !YAML::convert<bool>::decode(*found, v)) {
      return Invalid(PathOf(key),
                     "must be true or false, got '" + Text(*found) + "'");
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
    const YAML::Node* found = Find(key);
    if (found == nullptr) return absl::OkStatus();
    if (!found->IsScalar()) return Invalid(PathOf(key), "must be a string");
    const std::string& v = found->Scalar();
    if (allowed.size() != 0 &&
        std::find(allowed.begin(), allowed.end(), v) == allowed.end()) {
      return Invalid(PathOf(key),
                     absl::StrCat("unknown value '", v, "'; use one of: ",
                                  absl::StrJoin(allowed, ", ")));
    }
    *out = v;
    return absl::OkStatus();
  }

  // A list of 1..max_items non-empty strings.
  absl::Status StringList(absl::string_view key, std::vector<std::string>* out,
                          size_t max_items) {
    const YAML::Node* found = Find(key);
    if (found == nullptr) return absl::OkStatus();
    const YAML::Node& n = *found;
    if (!n.IsSequence() || n.size() == 0 || n.size() > max_items) {
      return Invalid(PathOf(key), absl::StrCat("must be a list of 1 to ",
                                               max_items, " strings"));
    }
    out->clear();
    for (const YAML::Node& e : n) {
      if (!e.IsScalar() || e.Scalar().empty())
        return Invalid(PathOf(key), "items must be non-empty strings");
      out->push_back(e.Scalar());
    }
    return absl::OkStatus();
  }

  absl::Status IntList(absl::string_view key, std::vector<int64_t>* out,
                       int64_t lo, int64_t hi) {
    const YAML::Node* found = Find(key);
    if (found == nullptr) return absl::OkStatus();
    const YAML::Node& n = *found;
    if (!n.IsSequence())
      return Invalid(PathOf(key),
                     "must be a list of integers, e.g. [256, 256]");
    std::vector<int64_t> values;
    for (size_t i = 0; i < n.size(); ++i) {
      int64_t v;
      if (!n[i].IsScalar() || !YAML::convert<int64_t>::decode(n[i], v)) {
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
    for (const auto& kv : node_) {
      const std::string key = kv.first.as<std::string>();
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
  static std::string Text(const YAML::Node& n) {
    if (n.IsScalar()) return n.Scalar();
    if (n.IsSequence()) return "a list";
    if (n.IsMap()) return "a mapping";
    return "null";
  }

  // An empty node, shared: YAML::Node() allocates its memory holder, and a
  // trial spec asks for a dozen sections that are usually missing. Readers
  // never write to it, so sharing it across threads is safe.
  static YAML::Node Empty() {
    static const YAML::Node* const kEmpty = new YAML::Node();
    return *kEmpty;
  }

  // Records `key` as read; its node, or null when missing or null.
  const YAML::Node* Find(absl::string_view key) {
    seen_.push_back(key);
    if (children_.empty() && all_keys_scalar_) return nullptr;  // no lookup
    const YAML::Node& n = At(key);
    return n.IsDefined() && !n.IsNull() ? &n : nullptr;
  }

  // Lookup without insertion: operator[] of a non-const YAML::Node adds a
  // null entry for a missing key and allocates on every call (half the
  // cost of validating a 10,000-point sweep went there).
  const YAML::Node& At(absl::string_view key) const {
    auto it = children_.find(key);
    if (it != children_.end()) return it->second;
    if (all_keys_scalar_) {
      // Missing: the same "zombie" node yaml-cpp's const lookup returns
      // (IsDefined() false), without its scan.
      static const YAML::Node kMissing = [] {
        const YAML::Node empty(YAML::NodeType::Map);
        return empty["missing"];
      }();
      return kMissing;
    }
    const YAML::Node& n = node_;
    lookup_ = n[std::string(key)];
    return lookup_;
  }

  YAML::Node node_;
  absl::flat_hash_map<std::string, YAML::Node> children_;
  bool all_keys_scalar_ = true;
  mutable YAML::Node lookup_;  // At's result for maps with non-scalar keys
  absl::string_view path_;
  // Keys read, in order (a handful per mapping: inline, no allocation;
  // Finish sorts them for its message).
  absl::InlinedVector<absl::string_view, 24> seen_;
};

}  // namespace ladle

#endif  // LADLE_TRAIN_YAML_READER_H_
