// Sha256Hex: the lower-case hex SHA-256 of bytes (OpenSSL), the one spelling of it: dead
// letters' original-value hash, the key verifier's cache of secrets, the operator token.
// Header-only: include it only where OpenSSL's libcrypto is linked.
//
//   headers.push_back({"payorch.original.sha256", Sha256Hex(record.value)});
#pragma once

#include <openssl/sha.h>

#include <string>
#include <string_view>

namespace payorch {

inline std::string Sha256Hex(std::string_view bytes) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), digest);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * SHA256_DIGEST_LENGTH);
  for (unsigned char c : digest) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 0xf]);
  }
  return out;
}

}  // namespace payorch
