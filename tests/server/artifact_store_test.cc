#include "server/artifact_store.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "gtest/gtest.h"

namespace ladle {
namespace {

namespace fs = std::filesystem;

std::string HashOf(const std::string& s) {
  Sha256 h;
  h.Update(s);
  return h.HexDigest();
}

int FilesUnder(const std::string& dir) {
  int n = 0;
  if (!fs::exists(dir)) return 0;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    n += e.is_regular_file();
  return n;
}

class ArtifactStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ::testing::TempDir() + "/artifact_store_test";
    fs::remove_all(dir_);
  }
  std::string dir_;
};

TEST_F(ArtifactStoreTest, KnownDigest) {
  EXPECT_EQ(HashOf("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST_F(ArtifactStoreTest, StoresVerifiedContentOnceByAddress) {
  ArtifactStore store(dir_, 1 << 20);
  const std::string data = "weights and more weights";
  for (int i = 0; i < 2; ++i) {  // the second identical upload is deduplicated
    auto up = store.Begin(data.size(), HashOf(data));
    ASSERT_TRUE(up.ok()) << up.status();
    ASSERT_TRUE((*up)->Write(data.substr(0, 5)).ok());
    ASSERT_TRUE((*up)->Write(data.substr(5)).ok());
    auto sha = (*up)->Commit();
    ASSERT_TRUE(sha.ok()) << sha.status();
    EXPECT_EQ(*sha, HashOf(data));
  }
  auto path = store.PathOf(HashOf(data));
  ASSERT_TRUE(path.ok());
  std::ifstream in(*path);
  std::stringstream ss;
  ss << in.rdbuf();
  EXPECT_EQ(ss.str(), data);
  EXPECT_EQ(FilesUnder(dir_), 1);
}

TEST_F(ArtifactStoreTest, RejectsMismatchesAndLeavesNothingHalfWritten) {
  ArtifactStore store(dir_, 100);
  const std::string data = "0123456789";
  {
    auto up = store.Begin(data.size(), HashOf("something else"));
    ASSERT_TRUE(up.ok());
    ASSERT_TRUE((*up)->Write(data).ok());
    EXPECT_EQ((*up)->Commit().status().code(), absl::StatusCode::kDataLoss);
  }
  {
    auto up = store.Begin(data.size(), HashOf(data));
    ASSERT_TRUE((*up)->Write("01234").ok());  // stops midway
    EXPECT_EQ((*up)->Commit().status().code(),
              absl::StatusCode::kInvalidArgument);
  }
  {
    auto up = store.Begin(3, HashOf("abc"));
    EXPECT_EQ((*up)->Write("abcd").code(), absl::StatusCode::kInvalidArgument);
  }
  EXPECT_EQ(FilesUnder(dir_), 0) << "every rejected upload must be removed";
  EXPECT_EQ(store.Begin(101, HashOf(data)).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store.Begin(1, "NOTHEX").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store.PathOf(HashOf("missing")).status().code(),
            absl::StatusCode::kNotFound);
}

TEST(ArtifactNames, RelativePathsThatStayInside) {
  EXPECT_TRUE(IsValidArtifactName("model.safetensors"));
  EXPECT_TRUE(IsValidArtifactName("metrics-1_a.jsonl"));
  EXPECT_TRUE(IsValidArtifactName("out/ckpt/epoch=3,step@10+1.pt"));
  for (const char* bad : {"", ".", "..", "../x", "/etc/passwd", "a//b", "a/",
                          "a/../b", "a/./b", "sp ace", "x\\n", "back\\slash"}) {
    EXPECT_FALSE(IsValidArtifactName(bad)) << bad;
  }
}

}  // namespace
}  // namespace ladle
