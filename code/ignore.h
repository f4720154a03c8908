// .ladleignore: which files of a code directory `ladle submit` leaves out, in
// gitignore's syntax — one pattern a line; `#` comments; `!` re-includes; a
// trailing `/` matches directories only; a pattern with a `/` (other than a
// trailing one) is anchored at the code directory, one without matches a name
// at any depth; `*` and `?` stay within a path segment, `**` crosses them,
// `[abc]` / `[a-z]` / `[!a]` are classes; `\` escapes. The last matching
// pattern wins. Pure and thread-compatible.
#ifndef LADLE_CODE_IGNORE_H_
#define LADLE_CODE_IGNORE_H_

#include <string>
#include <vector>

namespace ladle {

class IgnoreRules {
 public:
  // Parses the text of a .ladleignore (any text parses; bad classes match
  // literally).
  static IgnoreRules Parse(const std::string& text);

  // Whether `path` (relative to the code directory, '/'-separated, no
  // leading "./") is ignored. A directory that is ignored takes its contents
  // with it: callers stop descending, as git does.
  bool Ignored(const std::string& path, bool is_dir) const;

 private:
  struct Rule {
    std::string pattern;  // without '!', the anchoring '/', the trailing '/'
    bool negate = false, dir_only = false, anchored = false;
  };
  std::vector<Rule> rules_;
};

// Glob match of `pattern` against all of `text` with the rules above.
bool GlobMatch(const std::string& pattern, const std::string& text);

}  // namespace ladle

#endif  // LADLE_CODE_IGNORE_H_
