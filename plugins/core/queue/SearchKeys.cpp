#include "plugins/core/queue/SearchKeys.h"

#include <openssl/evp.h>

#include "plugins/core/Error.h"
#include "plugins/core/dicom/Uid.h"

namespace router {

std::string searchKey(std::string_view keyword, std::string_view value) {
  const std::string text = std::string(keyword) + '\n' + trimUid(value);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (EVP_Digest(text.data(), text.size(), digest, &length, EVP_sha256(), nullptr) != 1) {
    throw RouterError("search key: SHA-256 failed");
  }
  static const char* const kHex = "0123456789abcdef";
  std::string key;
  for (unsigned int i = 0; i < 16 && i < length; ++i) {
    key += kHex[digest[i] >> 4];
    key += kHex[digest[i] & 15];
  }
  return key;
}

std::vector<std::string> searchKeysOf(const InstanceView& instance) {
  std::vector<std::string> keys;
  for (const char* keyword : kSearchAttributes) {
    for (const TagValue& tag : instance.tags) {
      if (tag.keyword != keyword) continue;
      if (!trimUid(tag.value).empty()) keys.push_back(searchKey(keyword, tag.value));
      break;
    }
  }
  return keys;
}

std::array<std::string, kSearchAttributes.size()> searchKeysFor(std::string_view text) {
  std::array<std::string, kSearchAttributes.size()> keys;
  for (size_t i = 0; i < kSearchAttributes.size(); ++i) keys[i] = searchKey(kSearchAttributes[i], text);
  return keys;
}

}  // namespace router
