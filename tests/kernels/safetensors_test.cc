#include "kernels/safetensors.h"

#include <cstring>
#include <filesystem>
#include <fstream>

#include "gtest/gtest.h"

namespace ladle {
namespace {

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)),
                     std::istreambuf_iterator<char>());
}

TEST(SafeTensors, RoundTripsTensorsAndMetadata) {
  const std::string path = ::testing::TempDir() + "/rt.safetensors";
  const float w[6] = {1, 2, 3, 4, 5, -6.5f};
  const int32_t ids[3] = {7, -1, 9};
  SafeTensorsFile f;
  f.tensors.push_back(SafeTensor::FromFloats("layers.0.weight", {2, 3}, w));
  f.tensors.push_back(SafeTensor::FromInts("ids", {3}, ids));
  f.metadata["step"] = "42";
  ASSERT_TRUE(WriteSafeTensors(path, f).ok());
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));

  // The layout is the published format: u64 LE header size, JSON header, raw
  // data.
  const std::string raw = Slurp(path);
  uint64_t n = 0;
  std::memcpy(&n, raw.data(), 8);
  EXPECT_EQ((8 + n) % 8, 0u);
  const std::string header = raw.substr(8, n);
  EXPECT_NE(header.find("\"layers.0.weight\":{\"dtype\":\"F32\",\"shape\":[2,3]"
                        ",\"data_offsets\":[0,24]}"),
            std::string::npos)
      << header;
  EXPECT_EQ(raw.size(), 8 + n + 24 + 12);

  auto back = ReadSafeTensors(path);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->metadata.at("step"), "42");
  const SafeTensor* t = back->Find("layers.0.weight");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(t->AsFloats(), std::vector<float>(w, w + 6));
  EXPECT_EQ(back->Find("ids")->AsInts(), std::vector<int32_t>(ids, ids + 3));
}

TEST(SafeTensors, RejectsCorruptFiles) {
  const std::string dir = ::testing::TempDir();
  std::ofstream(dir + "/short.st") << "abc";
  EXPECT_EQ(ReadSafeTensors(dir + "/short.st").status().code(),
            absl::StatusCode::kDataLoss);
  // Offsets past the end of the data.
  std::string header =
      "{\"x\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}";
  std::string bytes(8, '\0');
  const uint64_t n = header.size();
  std::memcpy(bytes.data(), &n, 8);
  std::ofstream(dir + "/trunc.st", std::ios::binary)
      << bytes << header << "12345678";
  EXPECT_EQ(ReadSafeTensors(dir + "/trunc.st").status().code(),
            absl::StatusCode::kDataLoss);
  EXPECT_EQ(ReadSafeTensors(dir + "/missing.st").status().code(),
            absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace ladle
