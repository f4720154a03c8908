// Code archives: a deterministic pack that honours .ladleignore, limits that
// name the largest files, and unpacking that refuses hostile archives with
// nothing written outside the destination.
#include "code/archive.h"

#include <archive.h>
#include <archive_entry.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ladle {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

class CodeArchiveTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() /
            ("ladle-code-" + std::to_string(getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    fs::create_directories(root_ / "src/pkg");
    fs::create_directories(root_ / "src/.git/objects");
    fs::create_directories(root_ / "src/data");
    Write("src/train.py", "print('hi')\n");
    Write("src/pkg/util.py", "X = 1\n");
    Write("src/run.sh", "#!/bin/sh\necho run\n");
    fs::permissions(root_ / "src/run.sh", fs::perms::owner_all);
    Write("src/.git/objects/abc", "git object");
    Write("src/data/big.bin", std::string(100000, 'x'));
    Write("src/model.pt", "weights");
    Write("src/.ladleignore", "data/\n*.pt\n");
    fs::create_symlink("pkg/util.py", root_ / "src/util_link.py");
  }
  void TearDown() override { fs::remove_all(root_); }
  void Write(const std::string& rel, const std::string& text) {
    std::ofstream(root_ / rel, std::ios::binary) << text;
  }
  std::string Read(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }
  // Everything under `dir`, as relative paths.
  std::vector<std::string> Listing(const fs::path& dir) {
    std::vector<std::string> out;
    for (auto& e : fs::recursive_directory_iterator(dir))
      out.push_back(e.path().lexically_relative(dir).string());
    std::sort(out.begin(), out.end());
    return out;
  }
  fs::path root_;
};

TEST_F(CodeArchiveTest, PacksDeterministicallyAndUnpacksTheSameTree) {
  absl::StatusOr<CodeArchiveInfo> a =
      PackDirectory((root_ / "src").string(), (root_ / "a.tgz").string(), {});
  ASSERT_TRUE(a.ok()) << a.status();
  // Touch a file's time: the content address must not change.
  fs::last_write_time(root_ / "src/train.py",
                      fs::file_time_type::clock::now() - std::chrono::hours(5));
  absl::StatusOr<CodeArchiveInfo> b =
      PackDirectory((root_ / "src").string(), (root_ / "b.tgz").string(), {});
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(a->sha256, b->sha256);
  EXPECT_EQ(a->file_count, 4);  // train.py, util.py, run.sh, .ladleignore
  const std::string bytes = Read(root_ / "a.tgz");
  ASSERT_GT(bytes.size(), 8u);
  EXPECT_EQ(bytes.substr(4, 4), std::string(4, '\0'));  // no gzip mtime

  ASSERT_TRUE(
      UnpackArchive((root_ / "a.tgz").string(), (root_ / "out").string(), {})
          .ok());
  EXPECT_THAT(Listing(root_ / "out"),
              ::testing::ElementsAre(".ladleignore", "pkg", "pkg/util.py",
                                     "run.sh", "train.py", "util_link.py"));
  EXPECT_EQ(Read(root_ / "out/util_link.py"), "X = 1\n");
  EXPECT_TRUE((fs::status(root_ / "out/run.sh").permissions() &
               fs::perms::owner_exec) != fs::perms::none);
  EXPECT_TRUE((fs::status(root_ / "out/train.py").permissions() &
               fs::perms::owner_exec) == fs::perms::none);
}

TEST_F(CodeArchiveTest, LimitsNameTheLargestFiles) {
  fs::remove(root_ / "src/.ladleignore");
  CodeLimits limits;
  limits.max_files = 3;
  absl::StatusOr<CodeArchiveInfo> a = PackDirectory(
      (root_ / "src").string(), (root_ / "a.tgz").string(), limits);
  ASSERT_EQ(a.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(a.status().message(), HasSubstr("over the limit of 3"));
  EXPECT_THAT(a.status().message(), HasSubstr("data/big.bin (97.7 KiB)"));
  EXPECT_THAT(a.status().message(), HasSubstr(".ladleignore"));
  limits = {};
  limits.max_archive_bytes = 100;
  a = PackDirectory((root_ / "src").string(), (root_ / "a.tgz").string(),
                    limits);
  ASSERT_EQ(a.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(a.status().message(), HasSubstr("--max_code_bytes"));
}

TEST_F(CodeArchiveTest, RefusesLinksOutAndMissingDirectories) {
  fs::create_symlink("/etc/passwd", root_ / "src/passwd");
  absl::StatusOr<CodeArchiveInfo> a =
      PackDirectory((root_ / "src").string(), (root_ / "a.tgz").string(), {});
  EXPECT_THAT(a.status().message(), HasSubstr("'passwd'"));
  EXPECT_THAT(a.status().message(), HasSubstr("leaves the directory"));
  a = PackDirectory((root_ / "nope").string(), (root_ / "a.tgz").string(), {});
  EXPECT_EQ(a.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(a.status().message(), HasSubstr("is not a directory"));
}

// A hand-made archive with the given entries: {path, type, link}.
struct RawEntry {
  std::string path;
  unsigned type;
  std::string link;
  bool hardlink = false;
};
void WriteRaw(const std::string& file, const std::vector<RawEntry>& entries) {
  archive* a = archive_write_new();
  archive_write_add_filter_gzip(a);
  archive_write_set_format_pax_restricted(a);
  archive_write_open_filename(a, file.c_str());
  for (const RawEntry& r : entries) {
    archive_entry* e = archive_entry_new();
    archive_entry_set_pathname(e, r.path.c_str());
    archive_entry_set_filetype(e, r.type);
    archive_entry_set_perm(e, 0644);
    if (r.hardlink) {
      archive_entry_set_hardlink(e, r.link.c_str());
    } else if (r.type == S_IFLNK) {
      archive_entry_set_symlink(e, r.link.c_str());
    }
    const std::string data = "pwned\n";
    if (r.type == S_IFREG && !r.hardlink)
      archive_entry_set_size(e, static_cast<int64_t>(data.size()));
    archive_write_header(a, e);
    if (r.type == S_IFREG && !r.hardlink)
      archive_write_data(a, data.data(), data.size());
    archive_entry_free(e);
  }
  archive_write_close(a);
  archive_write_free(a);
}

TEST_F(CodeArchiveTest, HostileArchivesAreRefusedWithNothingOutside) {
  const std::vector<std::pair<std::vector<RawEntry>, std::string>> cases = {
      {{{"ok.txt", S_IFREG, ""}, {"../x", S_IFREG, ""}}, "'..'"},
      {{{"a/../../x", S_IFREG, ""}}, "'..'"},
      {{{"/tmp/ladle-abs-x", S_IFREG, ""}}, "absolute"},
      {{{"l", S_IFLNK, "/etc"}}, "leaves the directory"},
      {{{"l", S_IFLNK, "../.."}, {"l/x", S_IFREG, ""}}, "leaves the directory"},
      {{{"d/l", S_IFLNK, "../../up"}}, "leaves the directory"},
      {{{"dev", S_IFCHR, ""}}, "device"},
      {{{"fifo", S_IFIFO, ""}}, "FIFO"},
      {{{"h", S_IFREG, "../../etc/passwd", true}}, "hard link"},
      // A link that stays inside is fine, but nothing is written through it.
      {{{"in", S_IFLNK, "."}, {"in/x", S_IFREG, ""}}, "not a directory here"},
  };
  const fs::path outside = root_ / "outside";
  for (const auto& [entries, why] : cases) {
    fs::remove_all(outside);
    fs::create_directories(outside / "dest");
    const std::string file = (root_ / "hostile.tgz").string();
    WriteRaw(file, entries);
    absl::Status st = UnpackArchive(file, (outside / "dest").string(), {});
    EXPECT_FALSE(st.ok()) << entries.back().path;
    EXPECT_THAT(st.message(), HasSubstr(why)) << entries.back().path;
    // Nothing beside dest, and nothing at the absolute path.
    EXPECT_THAT(Listing(outside), ::testing::Contains("dest"));
    for (const std::string& p : Listing(outside))
      EXPECT_EQ(p.rfind("dest", 0), 0u) << "written outside: " << p;
    EXPECT_FALSE(fs::exists("/tmp/ladle-abs-x"));
  }
}

TEST_F(CodeArchiveTest, NotAnArchiveIsAClearError) {
  Write("junk.tgz", "this is not gzip");
  absl::StatusOr<CodeArchiveInfo> info =
      InspectArchive((root_ / "junk.tgz").string(), {});
  EXPECT_EQ(info.status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace ladle
