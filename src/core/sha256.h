// SHA-256 (FIPS 180-4), for the data hashes in audit reports.
#ifndef QAUDIT_SRC_CORE_SHA256_H_
#define QAUDIT_SRC_CORE_SHA256_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

namespace qaudit {

class Sha256 {
 public:
  Sha256();
  void Update(const void* data, size_t size);
  std::string HexDigest();  // finishes the hash; call once

 private:
  void Block(const uint8_t* block);

  std::array<uint32_t, 8> state_;
  std::array<uint8_t, 64> buffer_{};
  size_t buffered_ = 0;
  uint64_t total_bytes_ = 0;
};

}  // namespace qaudit

#endif  // QAUDIT_SRC_CORE_SHA256_H_
