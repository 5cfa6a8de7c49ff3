// UID and text clean-up (see Uid.h).
#include "plugins/core/dicom/Uid.h"

#include <dcmtk/dcmdata/dcelem.h>

namespace router {

std::string trimUid(std::string_view value) {
  value = value.substr(0, value.find('\0'));
  const size_t first = value.find_first_not_of(' ');
  if (first == std::string_view::npos) return {};
  const size_t last = value.find_last_not_of(' ');
  return std::string(value.substr(first, last - first + 1));
}

std::string readUid(DcmItem& item, const DcmTagKey& key) {
  DcmElement* element = nullptr;
  if (item.findAndGetElement(key, element, /*searchIntoSub=*/false).bad() || element == nullptr) return {};
  if (element->ident() == EVR_UN || element->ident() == EVR_OB) {
    Uint8* bytes = nullptr;
    if (element->getUint8Array(bytes).bad() || bytes == nullptr) return {};
    return trimUid(std::string_view(reinterpret_cast<const char*>(bytes), element->getLength()));
  }
  OFString value;
  if (element->getOFStringArray(value).bad()) return {};
  return trimUid(std::string_view(value.c_str(), value.length()));
}

std::string trimText(std::string_view value, bool multiValued) {
  std::string out;
  out.reserve(value.size());
  size_t start = 0;
  while (true) {
    const size_t end = multiValued ? value.find('\\', start) : std::string_view::npos;
    std::string_view part = value.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
    while (!part.empty() && (part.back() == '\0' || part.back() == ' ')) part.remove_suffix(1);
    out.append(part);
    if (end == std::string_view::npos) break;
    out.push_back('\\');
    start = end + 1;
  }
  return out;
}

std::string printableUid(std::string_view uid) {
  std::string text = trimUid(uid);
  for (char& c : text)
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) > 0x7e) c = '?';
  return text;
}

}  // namespace router
