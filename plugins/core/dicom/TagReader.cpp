#include "plugins/core/dicom/TagReader.h"

#include <dcmtk/dcmdata/dcdatset.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcistrmb.h>
#include <dcmtk/dcmdata/dcmetinf.h>

#include <cstdio>

#include "plugins/core/Error.h"
#include "plugins/core/dicom/DicomBuffer.h"
#include "plugins/core/dicom/Uid.h"

namespace router {
namespace {

// Values the rules never see: sequences (no string form), binary and pixel
// data (large, not text), and group length elements.
bool isTextual(const DcmElement& element) {
  switch (element.ident()) {
    case EVR_SQ:
    case EVR_OB:
    case EVR_OW:
    case EVR_OF:
    case EVR_OD:
    case EVR_OL:
    case EVR_OV:
    case EVR_UN:
    case EVR_PixelData:
    case EVR_OverlayData:
    case EVR_pixelSQ:
    case EVR_pixelItem:
    case EVR_ox:
    case EVR_px:
      return false;
    default:
      return element.getTag().getElement() != 0x0000;
  }
}

// Free text, where '\\' is no value separator.
bool isFreeText(DcmEVR vr) { return vr == EVR_LT || vr == EVR_ST || vr == EVR_UT; }

}  // namespace

DicomIdentity readIdentity(std::string_view part10) {
  std::unique_ptr<DcmFileFormat> file = parseDicomHeader(part10);
  DicomIdentity identity;
  identity.sopClassUid = readUid(*file->getDataset(), DCM_SOPClassUID);
  identity.sopInstanceUid = readUid(*file->getDataset(), DCM_SOPInstanceUID);
  identity.transferSyntax = readUid(*file->getMetaInfo(), DCM_TransferSyntaxUID);
  return identity;
}

InstanceView readInstanceView(const std::string& part10) {
  std::unique_ptr<DcmFileFormat> file = parseDicomHeader(part10);
  DcmDataset& dataset = *file->getDataset();

  InstanceView view;
  view.sopClassUid = readUid(dataset, DCM_SOPClassUID);
  view.sopInstanceUid = readUid(dataset, DCM_SOPInstanceUID);
  view.transferSyntax = readUid(*file->getMetaInfo(), DCM_TransferSyntaxUID);

  for (unsigned long i = 0; i < dataset.card(); ++i) {
    DcmElement* element = dataset.getElement(i);
    if (element == nullptr || !isTextual(*element)) continue;
    DcmTag tag = element->getTag();
    TagValue value;
    value.group = tag.getGroup();
    value.element = tag.getElement();
    // Private and unknown tags get no keyword; rules reach them by number.
    if (!tag.isPrivate() && tag.getTagName() != nullptr && tag.getEVR() != EVR_UNKNOWN) {
      value.keyword = tag.getTagName();
    }
    // Padding (trailing spaces, and the NULs some writers use) is not part
    // of the value; rules compare values as text.
    OFString text;
    if (element->getOFStringArray(text).good()) {
      const std::string_view raw(text.c_str(), text.length());
      value.value = element->ident() == EVR_UI ? trimText(trimUid(raw), false) : trimText(raw, !isFreeText(element->ident()));
    }
    view.tags.push_back(std::move(value));
  }
  return view;
}

}  // namespace router
