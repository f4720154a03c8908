#include "kernels/safetensors.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <numeric>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "nlohmann/json.hpp"

namespace ladle {
namespace {

int64_t ElementSize(const std::string& dtype) {
  if (dtype == "F32" || dtype == "I32") return 4;
  return 0;
}

absl::Status ErrnoError(const std::string& what, const std::string& path) {
  return absl::InternalError(
      absl::StrCat(what, " ", path, ": ", std::strerror(errno)));
}

absl::Status WriteAll(int fd, const void* data, size_t n,
                      const std::string& path) {
  const char* p = static_cast<const char*>(data);
  while (n > 0) {
    const ssize_t w = ::write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return ErrnoError("write", path);
    }
    p += w;
    n -= w;
  }
  return absl::OkStatus();
}

}  // namespace

SafeTensor SafeTensor::FromFloats(std::string name, std::vector<int64_t> shape,
                                  const float* data) {
  SafeTensor t;
  t.name = std::move(name);
  t.dtype = "F32";
  const int64_t n = std::accumulate(shape.begin(), shape.end(), int64_t{1},
                                    std::multiplies<>());
  t.shape = std::move(shape);
  t.bytes.resize(n * 4);
  std::memcpy(t.bytes.data(), data, n * 4);
  return t;
}

SafeTensor SafeTensor::FromInts(std::string name, std::vector<int64_t> shape,
                                const int32_t* data) {
  SafeTensor t = FromFloats(std::move(name), std::move(shape),
                            reinterpret_cast<const float*>(data));
  t.dtype = "I32";
  return t;
}

std::vector<float> SafeTensor::AsFloats() const {
  std::vector<float> out(bytes.size() / 4);
  std::memcpy(out.data(), bytes.data(), out.size() * 4);
  return out;
}

std::vector<int32_t> SafeTensor::AsInts() const {
  std::vector<int32_t> out(bytes.size() / 4);
  std::memcpy(out.data(), bytes.data(), out.size() * 4);
  return out;
}

const SafeTensor* SafeTensorsFile::Find(const std::string& name) const {
  for (const SafeTensor& t : tensors) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

absl::Status WriteSafeTensors(const std::string& path,
                              const SafeTensorsFile& file) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!file.metadata.empty()) header["__metadata__"] = file.metadata;
  uint64_t offset = 0;
  for (const SafeTensor& t : file.tensors) {
    if (ElementSize(t.dtype) == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("safetensors: unsupported dtype ", t.dtype));
    }
    header[t.name] = {{"dtype", t.dtype},
                      {"shape", t.shape},
                      {"data_offsets", {offset, offset + t.bytes.size()}}};
    offset += t.bytes.size();
  }
  std::string text = header.dump();
  // Pad the header with spaces to 8-byte alignment (allowed by the format) for
  // aligned data.
  while ((text.size() + 8) % 8 != 0) text.push_back(' ');
  const uint64_t len = text.size();
  uint8_t len_le[8];
  for (int i = 0; i < 8; ++i) len_le[i] = static_cast<uint8_t>(len >> (8 * i));

  const std::string tmp = path + ".tmp";
  const int fd =
      ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoError("open", tmp);
  absl::Status st = WriteAll(fd, len_le, 8, tmp);
  if (st.ok()) st = WriteAll(fd, text.data(), text.size(), tmp);
  for (const SafeTensor& t : file.tensors) {
    if (st.ok()) st = WriteAll(fd, t.bytes.data(), t.bytes.size(), tmp);
  }
  if (st.ok() && ::fsync(fd) != 0) st = ErrnoError("fsync", tmp);
  ::close(fd);
  if (st.ok() && std::rename(tmp.c_str(), path.c_str()) != 0)
    st = ErrnoError("rename", tmp);
  if (!st.ok()) ::unlink(tmp.c_str());
  return st;
}

absl::StatusOr<SafeTensorsFile> ReadSafeTensors(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return absl::NotFoundError(absl::StrCat("safetensors: cannot open ", path));
  uint8_t len_le[8];
  if (!in.read(reinterpret_cast<char*>(len_le), 8)) {
    return absl::DataLossError(
        absl::StrCat(path, ": too short for a safetensors file"));
  }
  uint64_t len = 0;
  for (int i = 0; i < 8; ++i) len |= uint64_t{len_le[i]} << (8 * i);
  if (len > (uint64_t{100} << 20)) {
    return absl::DataLossError(
        absl::StrCat(path, ": header length ", len, " is implausible"));
  }
  std::string text(len, '\0');
  if (!in.read(text.data(), len))
    return absl::DataLossError(absl::StrCat(path, ": truncated header"));
  nlohmann::json header =
      nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!header.is_object())
    return absl::DataLossError(absl::StrCat(path, ": header is not JSON"));
  std::vector<uint8_t> data((std::istreambuf_iterator<char>(in)),
                            std::istreambuf_iterator<char>());
  SafeTensorsFile file;
  for (auto& [name, value] : header.items()) {
    if (name == "__metadata__") {
      if (!value.is_object())
        return absl::DataLossError(absl::StrCat(path, ": bad __metadata__"));
      for (auto& [k, v] : value.items()) {
        if (v.is_string()) file.metadata[k] = v.get<std::string>();
      }
      continue;
    }
    if (!value.is_object() || !value.contains("dtype") ||
        !value.contains("shape") || !value.contains("data_offsets") ||
        !value["dtype"].is_string() || !value["shape"].is_array() ||
        !value["data_offsets"].is_array() ||
        value["data_offsets"].size() != 2) {
      return absl::DataLossError(
          absl::StrCat(path, ": malformed entry for tensor ", name));
    }
    SafeTensor t;
    t.name = name;
    t.dtype = value["dtype"].get<std::string>();
    const int64_t esize = ElementSize(t.dtype);
    if (esize == 0) {
      return absl::UnimplementedError(
          absl::StrCat(path, ": tensor ", name, " has dtype ", t.dtype,
                       "; only F32 and I32 are read"));
    }
    int64_t count = 1;
    for (const auto& d : value["shape"]) {
      if (!d.is_number_integer() || d.get<int64_t>() < 0) {
        return absl::DataLossError(
            absl::StrCat(path, ": bad shape for ", name));
      }
      t.shape.push_back(d.get<int64_t>());
      count *= t.shape.back();
    }
    const uint64_t begin = value["data_offsets"][0].get<uint64_t>();
    const uint64_t end = value["data_offsets"][1].get<uint64_t>();
    if (begin > end || end > data.size() ||
        end - begin != static_cast<uint64_t>(count * esize)) {
      return absl::DataLossError(
          absl::StrCat(path, ": data offsets of ", name, " out of range"));
    }
    t.bytes.assign(data.begin() + begin, data.begin() + end);
    file.tensors.push_back(std::move(t));
  }
  return file;
}

}  // namespace ladle
