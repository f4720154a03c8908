// SHA-256 (OpenSSL's EVP) for content-addressed artifacts: incremental,
// lowercase hex out.
#ifndef LADLE_COMMON_SHA256_H_
#define LADLE_COMMON_SHA256_H_

#include <openssl/evp.h>

#include <cstdint>
#include <cstdio>
#include <string>

namespace ladle {

class Sha256 {
 public:
  Sha256() : ctx_(EVP_MD_CTX_new()) {
    EVP_DigestInit_ex(ctx_, EVP_sha256(), nullptr);
  }
  ~Sha256() { EVP_MD_CTX_free(ctx_); }
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void Update(const void* data, size_t n) { EVP_DigestUpdate(ctx_, data, n); }
  void Update(const std::string& s) { Update(s.data(), s.size()); }
  // Lowercase hex digest; the object is spent afterwards.
  std::string HexDigest() {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_DigestFinal_ex(ctx_, md, &len);
    std::string hex(2 * len, '0');
    for (unsigned int i = 0; i < len; ++i)
      std::snprintf(&hex[2 * i], 3, "%02x", md[i]);
    return hex;
  }

 private:
  EVP_MD_CTX* ctx_;
};

// True for a SHA-256 as Ladle writes it: 64 lowercase hex digits.
inline bool IsSha256Hex(const std::string& s) {
  if (s.size() != 64) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

// The SHA-256 of a file's bytes and their count; empty when it cannot be
// opened.
inline std::string Sha256OfFile(const std::string& path, int64_t* size) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  *size = 0;
  if (f == nullptr) return "";
  Sha256 hash;
  std::string buf(1 << 20, '\0');
  for (size_t n; (n = std::fread(buf.data(), 1, buf.size(), f)) > 0;) {
    hash.Update(buf.data(), n);
    *size += static_cast<int64_t>(n);
  }
  std::fclose(f);
  return hash.HexDigest();
}

}  // namespace ladle

#endif  // LADLE_COMMON_SHA256_H_
