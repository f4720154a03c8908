#include "code/ignore.h"

#include <sstream>

namespace ladle {
namespace {

// Matches a class at pattern[p] ('[' ... ']') against c; sets *next past it.
// False with *next = npos when the class is not closed (then '[' is literal).
bool ClassMatch(const std::string& pattern, size_t p, char c, size_t* next) {
  size_t i = p + 1;
  bool negate = false;
  if (i < pattern.size() && (pattern[i] == '!' || pattern[i] == '^')) {
    negate = true;
    ++i;
  }
  bool matched = false, first = true;
  for (; i < pattern.size() && (first || pattern[i] != ']'); ++i) {
    first = false;
    char lo = pattern[i];
    if (lo == '\\' && i + 1 < pattern.size()) lo = pattern[++i];
    char hi = lo;
    if (i + 2 < pattern.size() && pattern[i + 1] == '-' &&
        pattern[i + 2] != ']') {
      hi = pattern[i + 2];
      i += 2;
    }
    if (c >= lo && c <= hi) matched = true;
  }
  if (i >= pattern.size()) {
    *next = std::string::npos;
    return false;
  }
  *next = i + 1;
  return matched != negate && c != '/';
}

bool Match(const std::string& pat, size_t p, const std::string& s, size_t i) {
  while (p < pat.size()) {
    const char c = pat[p];
    if (c == '*') {
      const bool double_star = p + 1 < pat.size() && pat[p + 1] == '*';
      if (double_star) {
        // "**/" matches zero or more whole segments; a trailing "**" all.
        size_t q = p + 2;
        if (q < pat.size() && pat[q] == '/') ++q;
        for (size_t k = i; k <= s.size(); ++k) {
          if ((k == i || s[k - 1] == '/') && Match(pat, q, s, k)) return true;
          if (q == pat.size()) return true;
        }
        return false;
      }
      for (size_t k = i; k <= s.size(); ++k) {
        if (Match(pat, p + 1, s, k)) return true;
        if (k < s.size() && s[k] == '/') break;  // '*' stays in a segment
      }
      return false;
    }
    if (i >= s.size()) return false;
    if (c == '?') {
      if (s[i] == '/') return false;
    } else if (c == '[') {
      size_t next = 0;
      const bool m = ClassMatch(pat, p, s[i], &next);
      if (next != std::string::npos) {
        if (!m) return false;
        p = next;
        ++i;
        continue;
      }
      if (s[i] != '[') return false;  // unclosed: a literal '['
    } else if (c == '\\' && p + 1 < pat.size()) {
      if (s[i] != pat[++p]) return false;
    } else if (c != s[i]) {
      return false;
    }
    ++p;
    ++i;
  }
  return i == s.size();
}

}  // namespace

bool GlobMatch(const std::string& pattern, const std::string& text) {
  return Match(pattern, 0, text, 0);
}

IgnoreRules IgnoreRules::Parse(const std::string& text) {
  IgnoreRules r;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    // Trailing spaces are dropped unless escaped.
    while (!line.empty() && line.back() == ' ' &&
           !(line.size() > 1 && line[line.size() - 2] == '\\'))
      line.pop_back();
    if (line.empty() || line[0] == '#') continue;
    Rule rule;
    if (line[0] == '!') {
      rule.negate = true;
      line.erase(0, 1);
    } else if (line[0] == '\\' && line.size() > 1 &&
               (line[1] == '#' || line[1] == '!')) {
      line.erase(0, 1);
    }
    if (!line.empty() && line.back() == '/') {
      rule.dir_only = true;
      line.pop_back();
    }
    if (!line.empty() && line[0] == '/') {
      rule.anchored = true;
      line.erase(0, 1);
    }
    if (line.find('/') != std::string::npos) rule.anchored = true;
    if (line.empty()) continue;
    rule.pattern = line;
    r.rules_.push_back(std::move(rule));
  }
  return r;
}

bool IgnoreRules::Ignored(const std::string& path, bool is_dir) const {
  const size_t slash = path.rfind('/');
  const std::string name =
      slash == std::string::npos ? path : path.substr(slash + 1);
  bool ignored = false;
  for (const Rule& r : rules_) {
    if (r.dir_only && !is_dir) continue;
    if (r.negate == ignored) {
      // Only a rule that would flip the answer needs matching.
      if (GlobMatch(r.pattern, r.anchored ? path : name)) ignored = !r.negate;
    }
  }
  return ignored;
}

}  // namespace ladle
