#include "code/archive.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "code/ignore.h"
#include "common/byte_size.h"
#include "common/sha256.h"
#include "common/status_macros.h"

namespace ladle {
namespace {

namespace fs = std::filesystem;

struct ArchiveCloser {
  void operator()(archive* a) const {
    if (a != nullptr) archive_free(a);  // closes, then frees
  }
};
using ArchivePtr = std::unique_ptr<archive, ArchiveCloser>;

// libarchive's error as a Status with file:line (its one checker).
absl::Status ArchiveError(archive* a, const char* what, const char* file,
                          int line) {
  const char* msg = archive_error_string(a);
  return absl::InternalError(absl::StrCat(
      what, ": ", msg ? msg : "libarchive error", " (", file, ":", line, ")"));
}
#define ARCHIVE_CHECK(a, expr, what)                        \
  do {                                                      \
    if ((expr) < ARCHIVE_WARN)                              \
      return ArchiveError((a), (what), __FILE__, __LINE__); \
  } while (0)

std::string LargestText(const CodeArchiveInfo& info) {
  std::vector<std::string> parts;
  for (const auto& [path, size] : info.largest)
    parts.push_back(absl::StrCat(path, " (", ByteSizeText(size), ")"));
  return absl::StrJoin(parts, ", ");
}

void NoteFile(const std::string& path, int64_t size, CodeArchiveInfo* info) {
  ++info->file_count;
  info->unpacked_bytes += size;
  info->largest.emplace_back(path, size);
  std::sort(info->largest.begin(), info->largest.end(),
            [](const auto& a, const auto& b) { return a.second > b.second; });
  if (info->largest.size() > 5) info->largest.pop_back();
}

absl::Status CheckLimits(const CodeArchiveInfo& info, const CodeLimits& l) {
  std::string over;
  if (info.file_count > l.max_files) {
    over = absl::StrCat(info.file_count, " files, over the limit of ",
                        l.max_files, " (--max_code_files)");
  } else if (info.unpacked_bytes > l.max_unpacked_bytes) {
    over = absl::StrCat(ByteSizeText(info.unpacked_bytes),
                        " unpacked, over the limit of ",
                        ByteSizeText(l.max_unpacked_bytes));
  } else if (info.size_bytes > l.max_archive_bytes) {
    over = absl::StrCat(
        ByteSizeText(info.size_bytes), " packed, over the limit of ",
        ByteSizeText(l.max_archive_bytes), " (--max_code_bytes)");
  }
  if (over.empty()) return absl::OkStatus();
  return absl::ResourceExhaustedError(absl::StrCat(
      "code: ", over, "; largest files: ", LargestText(info),
      ". Leave data and outputs out with a .ladleignore (gitignore syntax)"));
}

// One entry of a directory being packed.
struct Entry {
  std::string path;   // relative, '/'-separated
  unsigned type = 0;  // S_IFREG, S_IFDIR, S_IFLNK
  int64_t size = 0;
  bool executable = false;
  std::string link;
};

absl::Status Walk(const fs::path& root, const std::string& rel,
                  const IgnoreRules& ignore, std::vector<Entry>* out) {
  std::vector<std::string> names;
  std::error_code ec;
  for (const fs::directory_entry& d : fs::directory_iterator(root / rel, ec)) {
    names.push_back(d.path().filename().string());
  }
  if (ec)
    return absl::InvalidArgumentError(absl::StrCat(
        "code: cannot read ", (root / rel).string(), ": ", ec.message()));
  std::sort(names.begin(), names.end());
  for (const std::string& name : names) {
    if (name == ".git") continue;  // never packed
    const std::string path = rel.empty() ? name : rel + "/" + name;
    struct stat st;
    if (::lstat((root / path).c_str(), &st) != 0) continue;  // gone
    const bool dir = S_ISDIR(st.st_mode);
    if (ignore.Ignored(path, dir)) continue;
    Entry e;
    e.path = path;
    e.type = st.st_mode & S_IFMT;
    if (S_ISLNK(st.st_mode)) {
      e.link = fs::read_symlink(root / path, ec).string();
    } else if (S_ISREG(st.st_mode)) {
      e.size = st.st_size;
      e.executable = (st.st_mode & 0111) != 0;
    } else if (!dir) {
      return absl::InvalidArgumentError(absl::StrCat(
          "code: ", path,
          " is not a file, directory or link (a socket, FIFO or device); "
          "add it to .ladleignore"));
    }
    RETURN_IF_ERROR(CheckEntry(path, e.type, e.link, false));
    out->push_back(e);
    if (dir) RETURN_IF_ERROR(Walk(root, path, ignore, out));
  }
  return absl::OkStatus();
}

absl::Status WriteEntry(archive* a, const fs::path& root, const Entry& e) {
  std::unique_ptr<archive_entry, void (*)(archive_entry*)> entry(
      archive_entry_new(), archive_entry_free);
  archive_entry_set_pathname(entry.get(), e.path.c_str());
  archive_entry_set_filetype(entry.get(), e.type);
  archive_entry_set_perm(entry.get(),
                         e.type == S_IFDIR || e.executable ? 0755 : 0644);
  archive_entry_set_mtime(entry.get(), 0, 0);
  if (e.type == S_IFLNK) archive_entry_set_symlink(entry.get(), e.link.c_str());
  if (e.type == S_IFREG) archive_entry_set_size(entry.get(), e.size);
  ARCHIVE_CHECK(a, archive_write_header(a, entry.get()), "writing the archive");
  if (e.type != S_IFREG) return absl::OkStatus();
  std::ifstream in(root / e.path, std::ios::binary);
  std::string buf(1 << 16, '\0');
  int64_t left = e.size;
  while (left > 0 && in) {
    in.read(buf.data(), std::min<int64_t>(left, buf.size()));
    const std::streamsize n = in.gcount();
    if (n <= 0) break;
    if (archive_write_data(a, buf.data(), n) < 0)
      return ArchiveError(a, "writing the archive", __FILE__, __LINE__);
    left -= n;
  }
  if (left != 0) {
    return absl::AbortedError(absl::StrCat(
        "code: ", e.path, " changed while it was packed; submit again"));
  }
  return absl::OkStatus();
}

ArchivePtr OpenForReading(const std::string& path, absl::Status* st) {
  ArchivePtr r(archive_read_new());
  archive_read_support_filter_gzip(r.get());
  archive_read_support_format_tar(r.get());
  if (archive_read_open_filename(r.get(), path.c_str(), 1 << 16) !=
      ARCHIVE_OK) {
    *st = absl::InvalidArgumentError(
        absl::StrCat("code archive: not a gzipped tar (",
                     archive_error_string(r.get()), ")"));
    return nullptr;
  }
  return r;
}

// Reads the next header; false at the end. Sets *st on a broken archive.
bool NextEntry(archive* r, archive_entry** e, absl::Status* st) {
  const int rc = archive_read_next_header(r, e);
  if (rc == ARCHIVE_EOF) return false;
  if (rc < ARCHIVE_WARN) {
    *st = absl::InvalidArgumentError(
        absl::StrCat("code archive: broken (", archive_error_string(r), ")"));
    return false;
  }
  return true;
}

absl::Status CheckArchiveEntry(archive_entry* e) {
  const char* path = archive_entry_pathname(e);
  const char* hard = archive_entry_hardlink(e);
  const char* sym = archive_entry_symlink(e);
  const unsigned type = archive_entry_filetype(e);
  return CheckEntry(path ? path : "", hard ? S_IFREG : type,
                    hard ? hard : (sym ? sym : ""), hard != nullptr);
}

// Opens (creating directories on the way) the parent directory of `path`
// under `root_fd`, never following a link: every component O_NOFOLLOW.
absl::StatusOr<int> OpenParent(int root_fd, const std::string& path,
                               std::string* name) {
  std::vector<std::string> parts = absl::StrSplit(path, '/', absl::SkipEmpty());
  *name = parts.back();
  int fd = ::dup(root_fd);
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    ::mkdirat(fd, parts[i].c_str(), 0755);  // EEXIST is fine
    const int next = ::openat(fd, parts[i].c_str(),
                              O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    ::close(fd);
    if (next < 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "archive entry '", path, "': ", parts[i],
          " is not a directory here (a link or file is in the way)"));
    }
    fd = next;
  }
  return fd;
}

absl::Status WriteFileData(archive* r, int fd, const std::string& path) {
  const void* block;
  size_t size;
  la_int64_t offset;
  int rc;
  while ((rc = archive_read_data_block(r, &block, &size, &offset)) ==
         ARCHIVE_OK) {
    if (::pwrite(fd, block, size, offset) != static_cast<ssize_t>(size)) {
      return absl::InternalError(
          absl::StrCat("unpacking ", path, ": ", std::strerror(errno)));
    }
  }
  if (rc != ARCHIVE_EOF) {
    return absl::InvalidArgumentError(absl::StrCat(
        "code archive: broken at ", path, " (", archive_error_string(r), ")"));
  }
  return absl::OkStatus();
}

absl::Status UnpackEntry(archive* r, archive_entry* e, int root_fd) {
  const std::string path = archive_entry_pathname(e);
  std::string name;
  ASSIGN_OR_RETURN(int parent, OpenParent(root_fd, path, &name));
  absl::Status st;
  const char* hard = archive_entry_hardlink(e);
  const unsigned type = archive_entry_filetype(e);
  if (hard != nullptr) {
    std::string target_name;
    absl::StatusOr<int> target = OpenParent(root_fd, hard, &target_name);
    if (!target.ok()) {
      st = target.status();
    } else {
      if (::linkat(*target, target_name.c_str(), parent, name.c_str(), 0) != 0)
        st = absl::InvalidArgumentError(
            absl::StrCat("archive entry '", path, "': cannot link to ", hard,
                         ": ", std::strerror(errno)));
      ::close(*target);
    }
  } else if (type == S_IFDIR) {
    if (::mkdirat(parent, name.c_str(), 0755) != 0 && errno != EEXIST)
      st = absl::InternalError(
          absl::StrCat("unpacking ", path, ": ", std::strerror(errno)));
  } else if (type == S_IFLNK) {
    if (::symlinkat(archive_entry_symlink(e), parent, name.c_str()) != 0)
      st = absl::InvalidArgumentError(
          absl::StrCat("archive entry '", path, "': ", std::strerror(errno)));
  } else {
    const mode_t mode = (archive_entry_perm(e) & 0111) ? 0755 : 0644;
    const int fd =
        ::openat(parent, name.c_str(),
                 O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
    if (fd < 0) {
      st = absl::InvalidArgumentError(
          absl::StrCat("archive entry '", path, "': ", std::strerror(errno),
                       errno == EEXIST ? " (a duplicate entry)" : ""));
    } else {
      st = WriteFileData(r, fd, path);
      ::close(fd);
    }
  }
  ::close(parent);
  return st;
}

}  // namespace

absl::Status CheckEntry(const std::string& path, unsigned type,
                        const std::string& link, bool hardlink) {
  auto bad = [&](const std::string& why) {
    return absl::InvalidArgumentError(
        absl::StrCat("archive entry '", path, "': ", why));
  };
  if (path.empty() || path.size() > 4096) return bad("no usable path");
  if (path[0] == '/') return bad("an absolute path");
  for (absl::string_view part : absl::StrSplit(path, '/')) {
    if (part == "..") return bad("'..' leaves the directory");
  }
  if (hardlink) {
    if (link.empty() || link[0] == '/') return bad("a hard link out");
    for (absl::string_view part : absl::StrSplit(link, '/'))
      if (part == "..") return bad("a hard link out of the directory");
    return absl::OkStatus();
  }
  if (type == S_IFREG || type == S_IFDIR) return absl::OkStatus();
  if (type != S_IFLNK) return bad("a device, FIFO or socket");
  if (link.empty() || link[0] == '/')
    return bad(absl::StrCat("a link to '", link, "' leaves the directory"));
  // Lexically, from the link's own directory: the unpacker never resolves a
  // path through a link, so this is where the target is.
  int depth = static_cast<int>(
      std::count(path.begin(), path.end(), '/'));  // of the link's directory
  for (absl::string_view part : absl::StrSplit(link, '/')) {
    if (part.empty() || part == ".") continue;
    depth += part == ".." ? -1 : 1;
    if (depth < 0)
      return bad(absl::StrCat("a link to '", link, "' leaves the directory"));
  }
  return absl::OkStatus();
}

absl::StatusOr<CodeArchiveInfo> PackDirectory(const std::string& dir,
                                              const std::string& archive_path,
                                              const CodeLimits& limits) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    return absl::InvalidArgumentError(
        absl::StrCat("command.code: ", dir,
                     " is not a directory (it is relative to the "
                     "spec file)"));
  }
  std::ifstream ignore_file(fs::path(dir) / ".ladleignore");
  std::stringstream ignore_text;
  ignore_text << ignore_file.rdbuf();
  const IgnoreRules ignore = IgnoreRules::Parse(ignore_text.str());
  std::vector<Entry> entries;
  RETURN_IF_ERROR(Walk(dir, "", ignore, &entries));
  CodeArchiveInfo info;
  for (const Entry& e : entries)
    if (e.type == S_IFREG) NoteFile(e.path, e.size, &info);
  RETURN_IF_ERROR(CheckLimits(info, limits));
  {
    ArchivePtr a(archive_write_new());
    archive_write_add_filter_gzip(a.get());
    archive_write_set_format_pax_restricted(a.get());
    // No time in the gzip header either: the same code, the same bytes.
    ARCHIVE_CHECK(a.get(),
                  archive_write_set_options(a.get(), "gzip:!timestamp"),
                  "archive options");
    ARCHIVE_CHECK(a.get(),
                  archive_write_open_filename(a.get(), archive_path.c_str()),
                  archive_path.c_str());
    for (const Entry& e : entries) RETURN_IF_ERROR(WriteEntry(a.get(), dir, e));
    ARCHIVE_CHECK(a.get(), archive_write_close(a.get()), "closing the archive");
  }
  info.sha256 = Sha256OfFile(archive_path, &info.size_bytes);
  RETURN_IF_ERROR(CheckLimits(info, limits));
  return info;
}

absl::StatusOr<CodeArchiveInfo> InspectArchive(const std::string& archive_path,
                                               const CodeLimits& limits) {
  CodeArchiveInfo info;
  info.sha256 = Sha256OfFile(archive_path, &info.size_bytes);
  absl::Status st;
  ArchivePtr r = OpenForReading(archive_path, &st);
  if (r == nullptr) return st;
  archive_entry* e = nullptr;
  while (NextEntry(r.get(), &e, &st)) {
    RETURN_IF_ERROR(CheckArchiveEntry(e));
    if (archive_entry_filetype(e) == S_IFREG &&
        archive_entry_hardlink(e) == nullptr) {
      NoteFile(archive_entry_pathname(e), archive_entry_size(e), &info);
    }
    RETURN_IF_ERROR(CheckLimits(info, limits));
  }
  RETURN_IF_ERROR(st);
  return info;
}

absl::Status UnpackArchive(const std::string& archive_path,
                           const std::string& dest_dir,
                           const CodeLimits& limits) {
  RETURN_IF_ERROR(InspectArchive(archive_path, limits).status());
  std::error_code ec;
  fs::create_directories(dest_dir, ec);
  const int root = ::open(dest_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (root < 0) {
    return absl::InternalError(
        absl::StrCat("cannot open ", dest_dir, ": ", std::strerror(errno)));
  }
  absl::Status st;
  ArchivePtr r = OpenForReading(archive_path, &st);
  archive_entry* e = nullptr;
  while (r != nullptr && st.ok() && NextEntry(r.get(), &e, &st)) {
    // Checked again: the file is read a second time.
    st = CheckArchiveEntry(e);
    if (st.ok()) st = UnpackEntry(r.get(), e, root);
  }
  ::close(root);
  return st;
}

}  // namespace ladle
