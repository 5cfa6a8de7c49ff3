#include "plugins/core/dicom/TagEditor.h"

#include <dcmtk/dcmdata/dcdatset.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dctag.h>

#include <cctype>

#include "plugins/core/Error.h"
#include "plugins/core/dicom/DicomBuffer.h"

namespace router {

std::optional<DcmTagKey> parseTagName(const std::string& keywordOrNumber) {
  const std::string& t = keywordOrNumber;
  bool numeric = t.size() == 9 && t[4] == ',';
  for (size_t i = 0; numeric && i < t.size(); ++i) {
    if (i != 4 && !std::isxdigit(static_cast<unsigned char>(t[i]))) numeric = false;
  }
  if (numeric) {
    return DcmTagKey(static_cast<Uint16>(std::stoul(t.substr(0, 4), nullptr, 16)),
                     static_cast<Uint16>(std::stoul(t.substr(5, 4), nullptr, 16)));
  }
  // DCMTK's lookup also reads numbers loosely ("0009,10zz"): keywords only here.
  if (t.find(',') != std::string::npos) return std::nullopt;
  DcmTag tag;
  if (DcmTag::findTagFromName(keywordOrNumber.c_str(), tag).good()) return DcmTagKey(tag);
  return std::nullopt;
}

std::string applyTagEdits(const std::string& part10, const TagEdits& edits) {
  if (edits.empty()) return part10;
  std::unique_ptr<DcmFileFormat> file = parseDicom(part10);
  DcmDataset& dataset = *file->getDataset();
  for (const auto& [name, value] : edits) {
    std::optional<DcmTagKey> key = parseTagName(name);
    if (!key) throw RouterError("modify: unknown DICOM keyword or tag \"" + name + "\"");
    if (*key == DcmTagKey(0x7fe0, 0x0010) || key->getGroup() == 0x0002) {
      throw RouterError("modify: " + name + " cannot be edited by rules");
    }
    if (!value) {
      dataset.findAndDeleteElement(*key, /*allOccurrences=*/false, /*searchIntoSub=*/false);
      continue;
    }
    OFCondition status = dataset.putAndInsertOFStringArray(*key, value->c_str(), /*replaceOld=*/true);
    if (status.bad()) {
      throw RouterError("modify: cannot set " + name + " to \"" + *value + "\": " + status.text());
    }
  }
  return serializeDicom(*file);
}

}  // namespace router
