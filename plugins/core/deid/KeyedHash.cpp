// Keyed UIDs, pseudonyms and date shifts (see KeyedHash.h).
#include "plugins/core/deid/KeyedHash.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <cctype>

#include "plugins/core/Error.h"

namespace router::deid {

KeyedHash::KeyedHash(std::string project, std::string key)
    : project_(std::move(project)), key_(std::move(key)) {
  if (project_.empty()) throw ConfigError("de-identification: the project name is empty");
  if (key_.size() < kMinimumKeyBytes) {
    throw ConfigError("de-identification: the secret key has " + std::to_string(key_.size()) +
                      " bytes; use at least " + std::to_string(kMinimumKeyBytes) +
                      " random bytes (e.g. openssl rand -hex 32)");
  }
  for (char c : project_) {
    if (prefix_.size() == 16) break;
    if (std::isalnum(static_cast<unsigned char>(c))) {
      prefix_.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
    }
  }
  if (prefix_.empty()) prefix_ = "ANON";
}

std::array<std::uint8_t, 32> KeyedHash::mac(std::string_view kind, std::string_view value) const {
  std::string message;
  message.reserve(kind.size() + project_.size() + value.size() + 2);
  message.append(kind).push_back('\0');
  message.append(project_).push_back('\0');
  message.append(value);
  std::array<std::uint8_t, 32> out{};
  unsigned int length = 0;
  if (HMAC(EVP_sha256(), key_.data(), static_cast<int>(key_.size()),
           reinterpret_cast<const unsigned char*>(message.data()), message.size(), out.data(),
           &length) == nullptr ||
      length != out.size()) {
    throw RouterError("de-identification: HMAC-SHA256 failed (OpenSSL)");
  }
  return out;
}

std::string KeyedHash::uid(std::string_view original) const {
  std::array<std::uint8_t, 32> h = mac("uid", original);
  std::array<std::uint8_t, 16> n{};
  std::copy_n(h.begin(), n.size(), n.begin());
  n[6] = static_cast<std::uint8_t>((n[6] & 0x0f) | 0x80);  // version 8
  n[8] = static_cast<std::uint8_t>((n[8] & 0x3f) | 0x80);  // variant 10xx
  // Decimal of the 128-bit big-endian number: divide by 10 until it is 0.
  // The variant bits make it non-zero, so there is never a leading zero.
  std::string digits;
  bool nonZero = true;
  while (nonZero) {
    unsigned remainder = 0;
    nonZero = false;
    for (std::uint8_t& byte : n) {
      const unsigned value = (remainder << 8) | byte;
      byte = static_cast<std::uint8_t>(value / 10);
      remainder = value % 10;
      nonZero = nonZero || byte != 0;
    }
    digits.push_back(static_cast<char>('0' + remainder));
  }
  std::reverse(digits.begin(), digits.end());
  return "2.25." + digits;
}

std::string KeyedHash::pseudonym(std::string_view patient) const {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  std::array<std::uint8_t, 32> h = mac("patient", patient);
  std::string out = prefix_ + "-";
  // 10 bytes = 80 bits = 16 groups of 5 bits.
  std::uint64_t bits = 0;
  int available = 0;
  for (int i = 0; i < 10; ++i) {
    bits = (bits << 8) | h[i];
    available += 8;
    while (available >= 5) {
      available -= 5;
      out.push_back(kAlphabet[(bits >> available) & 0x1f]);
    }
  }
  return out;
}

int KeyedHash::dateShiftDays(std::string_view patient) const {
  std::array<std::uint8_t, 32> h = mac("date-shift", patient);
  const std::uint32_t n =
      (std::uint32_t{h[0]} << 24) | (std::uint32_t{h[1]} << 16) | (std::uint32_t{h[2]} << 8) | h[3];
  return static_cast<int>(n % 3650u) + 1;
}

}  // namespace router::deid
