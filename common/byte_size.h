// Sizes as people read them in messages: "1000 bytes", "97.7 KiB", "4 GiB".
#ifndef LADLE_COMMON_BYTE_SIZE_H_
#define LADLE_COMMON_BYTE_SIZE_H_

#include <cmath>
#include <cstdint>
#include <string>

#include "absl/strings/str_cat.h"

namespace ladle {

// Powers of 1024, one decimal at most.
inline std::string ByteSizeText(int64_t bytes) {
  static const char* const kUnits[] = {"bytes", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  if (u == 0) return absl::StrCat(bytes, " bytes");
  return absl::StrCat(absl::SixDigits(std::round(v * 10) / 10), " ", kUnits[u]);
}

}  // namespace ladle

#endif  // LADLE_COMMON_BYTE_SIZE_H_
