// Reading and writing the safetensors format
// (https://huggingface.co/docs/safetensors): an 8-byte little-endian header
// length, a JSON header mapping names to dtype, shape and byte offsets (plus an
// optional "__metadata__" string map), then the raw little-endian data. Files
// written here can be read by the Python `safetensors` package and by PyTorch
// tooling.
//
// Writes are atomic: data goes to a temporary file in the same directory, is
// fsync'd, then renamed over the target, so a crash leaves either the old file
// or the new one.
#ifndef LADLE_KERNELS_SAFETENSORS_H_
#define LADLE_KERNELS_SAFETENSORS_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace ladle {

struct SafeTensor {
  std::string name;
  std::string dtype = "F32";  // F32 or I32
  std::vector<int64_t> shape;
  std::vector<uint8_t> bytes;  // little-endian element data

  static SafeTensor FromFloats(std::string name, std::vector<int64_t> shape,
                               const float* data);
  static SafeTensor FromInts(std::string name, std::vector<int64_t> shape,
                             const int32_t* data);
  std::vector<float> AsFloats() const;
  std::vector<int32_t> AsInts() const;
};

struct SafeTensorsFile {
  std::vector<SafeTensor> tensors;
  std::map<std::string, std::string> metadata;

  const SafeTensor* Find(const std::string& name) const;
};

absl::Status WriteSafeTensors(const std::string& path,
                              const SafeTensorsFile& file);
absl::StatusOr<SafeTensorsFile> ReadSafeTensors(const std::string& path);

}  // namespace ladle

#endif  // LADLE_KERNELS_SAFETENSORS_H_
