#include "plugins/core/dicom/TagEditor.h"

#include <dcmtk/dcmdata/dcdatset.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dctag.h>

#include <cstdio>

#include "plugins/core/Error.h"
#include "plugins/core/dicom/DicomBuffer.h"

namespace router {

std::optional<DcmTagKey> parseTagName(const std::string& keywordOrNumber) {
  unsigned group = 0, element = 0;
  char tail = 0;
  if (keywordOrNumber.size() == 9 && keywordOrNumber[4] == ',' &&
      std::sscanf(keywordOrNumber.c_str(), "%4x,%4x%c", &group, &element, &tail) == 2) {
    return DcmTagKey(static_cast<Uint16>(group), static_cast<Uint16>(element));
  }
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
