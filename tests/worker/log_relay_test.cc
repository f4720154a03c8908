// Relaying a child's files: metric lines only when complete, log chunks up to
// the cap with a notice, everything left once drained, and the on-disk cap.
#include "worker/log_relay.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ladle {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

class LogRelayTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = (std::filesystem::temp_directory_path() /
            ("ladle-relay-" + std::to_string(getpid())))
               .string();
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  void Append(const std::string& name, const std::string& text) {
    std::ofstream(dir_ + "/" + name, std::ios::app) << text;
  }
  std::string dir_;
};

TEST_F(LogRelayTest, MetricLinesGoOutWhenComplete) {
  int64_t offset = 0;
  const std::string path = dir_ + "/metrics.jsonl";
  EXPECT_FALSE(ReadMetricLines(3, path, &offset).has_value());  // no file
  Append("metrics.jsonl", "{\"step\":1}\n{\"step\":2}\n{\"st");
  auto m = ReadMetricLines(3, path, &offset);
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->metrics().attempt_id(), 3);
  EXPECT_THAT(m->metrics().jsonl_lines(),
              ElementsAre("{\"step\":1}", "{\"step\":2}"));
  EXPECT_FALSE(ReadMetricLines(3, path, &offset).has_value());  // partial
  Append("metrics.jsonl", "ep\":3}\n");
  m = ReadMetricLines(3, path, &offset);
  ASSERT_TRUE(m.has_value());
  EXPECT_THAT(m->metrics().jsonl_lines(), ElementsAre("{\"step\":3}"));
}

TEST_F(LogRelayTest, MalformedMetricLinesAreSkippedAndHandedBack) {
  int64_t offset = 0;
  const std::string path = dir_ + "/metrics.jsonl";
  Append("metrics.jsonl",
         "epoch 1 done\n{\"step\":1,\"acc\":0.5}\n[1,2]\n"
         "{\"acc\":0.6}\n{\"step\":-1}\n{\"step\":2}\r\n");
  std::vector<std::string> bad;
  auto m = ReadMetricLines(3, path, &offset, &bad);
  ASSERT_TRUE(m.has_value());
  EXPECT_THAT(m->metrics().jsonl_lines(),
              ElementsAre("{\"step\":1,\"acc\":0.5}", "{\"step\":2}"));
  EXPECT_THAT(bad, ElementsAre("epoch 1 done", "[1,2]", "{\"acc\":0.6}",
                               "{\"step\":-1}"));
  Append("metrics.jsonl", "not json either\n");
  bad.clear();
  EXPECT_FALSE(ReadMetricLines(3, path, &offset, &bad).has_value());
  EXPECT_THAT(bad, ElementsAre("not json either"));
}

TEST_F(LogRelayTest, LogChunksStopAtTheCapWithANotice) {
  const std::string path = dir_ + "/stdout.log";
  Append("stdout.log", std::string(700 << 10, 'x'));  // 700 KiB
  int64_t offset = 0;
  // Running child: one chunk of 256 KiB per call.
  auto chunks = ReadLogChunks(1, "stdout", path, 1 << 20, false, &offset);
  ASSERT_EQ(chunks.size(), 1u);
  EXPECT_EQ(chunks[0].logs().data().size(), 256u << 10);
  EXPECT_EQ(chunks[0].logs().stream(), "stdout");
  // Exited: everything left, in chunks.
  chunks = ReadLogChunks(1, "stdout", path, 1 << 20, true, &offset);
  ASSERT_EQ(chunks.size(), 2u);
  EXPECT_EQ(offset, 700 << 10);
  // Past the cap: the rest stays on disk, and the last chunk says where.
  offset = 0;
  chunks = ReadLogChunks(1, "stdout", path, 300 << 10, true, &offset);
  ASSERT_EQ(chunks.size(), 2u);
  EXPECT_EQ(offset, 300 << 10);
  EXPECT_THAT(chunks[1].logs().data(),
              HasSubstr("relayed up to --log_cap_bytes=307200; the rest is "
                        "in " +
                        path));
  EXPECT_TRUE(
      ReadLogChunks(1, "stdout", path, 300 << 10, true, &offset).empty());
}

TEST_F(LogRelayTest, CapLogFileKeepsTheStartANoticeAndTheEnd) {
  const std::string path = dir_ + "/stderr.log";
  std::string text;
  for (int i = 0; i < 20000; ++i) text += "line " + std::to_string(i) + "\n";
  Append("stderr.log", text);
  const int64_t cap = 64 << 10;
  const int64_t dropped = CapLogFile(path, cap);
  EXPECT_GT(dropped, 0);
  const int64_t size = std::filesystem::file_size(path);
  EXPECT_LE(size, cap);
  std::ifstream in(path);
  std::string kept((std::istreambuf_iterator<char>(in)), {});
  EXPECT_EQ(kept.rfind("line 0\n", 0), 0u);
  EXPECT_THAT(kept, HasSubstr("--log_file_cap_bytes=65536"));
  EXPECT_EQ(LastLine(path), "line 19999");
  EXPECT_EQ(CapLogFile(path, cap), 0);  // under the cap: untouched
}

}  // namespace
}  // namespace ladle
