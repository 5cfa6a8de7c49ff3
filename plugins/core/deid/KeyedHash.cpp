// Keyed UIDs, pseudonyms and date shifts (see KeyedHash.h).
#include "plugins/core/deid/KeyedHash.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <cctype>

#include "plugins/core/Error.h"

namespace router::deid {

std::string KeyedHash::checkUidRoot(const std::string& root) {
  if (root.size() > kMaximumRootLength)
    return "is " + std::to_string(root.size()) + " characters; at most " +
           std::to_string(kMaximumRootLength) + " leave room for the replacement's digits";
  bool componentStart = true;
  for (size_t i = 0; i < root.size(); ++i) {
    const char c = root[i];
    if (c == '.') {
      if (componentStart) return "has an empty component";
      componentStart = true;
    } else if (c >= '0' && c <= '9') {
      if (componentStart && c == '0' && i + 1 < root.size() && root[i + 1] != '.')
        return "has a component with a leading zero";
      componentStart = false;
    } else {
      return "must be digits and dots, like 1.2.826.0.1.3680043.10.1234";
    }
  }
  if (root.empty() || componentStart) return "must not be empty or end with a dot";
  return {};
}

KeyedHash::KeyedHash(std::string project, std::string key, std::string uidRoot)
    : project_(std::move(project)), key_(std::move(key)), uidRoot_(std::move(uidRoot)) {
  if (project_.empty()) throw ConfigError("de-identification: the project name is empty");
  if (!uidRoot_.empty()) {
    const std::string problem = checkUidRoot(uidRoot_);
    if (!problem.empty()) throw ConfigError("de-identification: the UID root \"" + uidRoot_ + "\" " + problem);
  }
  if (key_.size() < kMinimumKeyBytes) {
    throw ConfigError("de-identification: the secret key has " + std::to_string(key_.size()) +
                      " bytes; use at least " + std::to_string(kMinimumKeyBytes) +
                      " random bytes (e.g. openssl rand -hex 32)");
  }
  prefix_ = prefixOf(project_);
}

std::string KeyedHash::prefixOf(std::string_view project) {
  std::string prefix;
  for (char c : project) {
    if (prefix.size() == 16) break;
    if (std::isalnum(static_cast<unsigned char>(c))) {
      prefix.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
    }
  }
  return prefix.empty() ? "ANON" : prefix;
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
  if (uidRoot_.empty()) {
    n[6] = static_cast<std::uint8_t>((n[6] & 0x0f) | 0x80);  // version 8
    n[8] = static_cast<std::uint8_t>((n[8] & 0x3f) | 0x80);  // variant 10xx
  } else {
    // "<root>." + digits <= 64: keep the high bits that fit (each bit fewer
    // than 128 is a shift right); the top bit set keeps it non-zero.
    const size_t room = 64 - uidRoot_.size() - 1;
    const size_t bits = std::min<size_t>(128, room * 3321928 / 1000000);  // log2(10) per digit, rounded down
    n[0] |= 0x80;
    for (size_t shift = 128 - bits; shift > 0; --shift) {
      unsigned carry = 0;
      for (std::uint8_t& byte : n) {
        const unsigned next = byte & 1u;
        byte = static_cast<std::uint8_t>((byte >> 1) | (carry << 7));
        carry = next;
      }
    }
  }
  // Decimal of the 128-bit big-endian number: divide by 10 until it is 0.
  // It is never zero (variant bits, or the top bit), so there is never a
  // leading zero.
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
  return (uidRoot_.empty() ? std::string("2.25") : uidRoot_) + "." + digits;
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
