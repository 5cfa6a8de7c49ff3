// Lossy Image Compression attributes and the new-UID-with-reference step.
#include "transcoders/LossyMarking.h"

#include <cstdio>

#include <gdcmItem.h>
#include <gdcmSequenceOfItems.h>

#include "transcoders/DicomFile.h"
#include "transcoders/TransferSyntax.h"

namespace router::codecs {

namespace {

const gdcm::Tag kSopClassUid(0x0008, 0x0016);
const gdcm::Tag kSopInstanceUid(0x0008, 0x0018);
const gdcm::Tag kImageType(0x0008, 0x0008);
const gdcm::Tag kSourceImageSequence(0x0008, 0x2112);
const gdcm::Tag kLossyImageCompression(0x0028, 0x2110);
const gdcm::Tag kLossyRatio(0x0028, 0x2112);
const gdcm::Tag kLossyMethod(0x0028, 0x2114);

std::string formatRatio(double ratio) {
  char text[32];
  std::snprintf(text, sizeof text, "%.2f", ratio);  // DS: at most 16 characters
  return text;
}

void referToOriginal(gdcm::DataSet& ds, const std::string& oldUid) {
  gdcm::Item item;
  item.SetVLToUndefined();
  setString(item.GetNestedDataSet(), gdcm::Tag(0x0008, 0x1150), gdcm::VR::UI, getString(ds, kSopClassUid));
  setString(item.GetNestedDataSet(), gdcm::Tag(0x0008, 0x1155), gdcm::VR::UI, oldUid);

  gdcm::SmartPointer<gdcm::SequenceOfItems> sequence;
  if (ds.FindDataElement(kSourceImageSequence)) sequence = ds.GetDataElement(kSourceImageSequence).GetValueAsSQ();
  if (!sequence) sequence = new gdcm::SequenceOfItems;
  sequence->SetLengthToUndefined();
  sequence->AddItem(item);
  gdcm::DataElement element(kSourceImageSequence);
  element.SetVR(gdcm::VR::SQ);
  element.SetValue(*sequence);
  element.SetVLToUndefined();  // allowed for SQ
  ds.Replace(element);
}

}  // namespace

std::string lossyMethod(const std::string& syntax) {
  if (syntax == ts::kJPEGBaseline8Bit || syntax == ts::kJPEGExtended12Bit) return "ISO_10918_1";
  if (syntax == ts::kJPEGLSNearLossless) return "ISO_14495_1";
  if (syntax == ts::kJPEG2000) return "ISO_15444_1";
  if (syntax == ts::kHTJ2K) return "ISO_15444_15";
  return "";
}

void markLossy(gdcm::DataSet& ds, double ratio, const std::string& method, bool newSopInstanceUid) {
  std::string ratios = formatRatio(ratio);
  std::string methods = method;
  // An earlier lossy step stays on record; its values come first.
  if (getString(ds, kLossyImageCompression) == "01") {
    const std::string oldRatios = getString(ds, kLossyRatio);
    const std::string oldMethods = getString(ds, kLossyMethod);
    if (!oldRatios.empty() && !oldMethods.empty()) {
      ratios = oldRatios + "\\" + ratios;
      methods = oldMethods + "\\" + methods;
    }
  }
  setString(ds, kLossyImageCompression, gdcm::VR::CS, "01");
  setString(ds, kLossyRatio, gdcm::VR::DS, ratios);
  setString(ds, kLossyMethod, gdcm::VR::CS, methods);

  const std::string imageType = getString(ds, kImageType);
  if (imageType.rfind("ORIGINAL", 0) == 0)
    setString(ds, kImageType, gdcm::VR::CS, "DERIVED" + imageType.substr(8));

  if (newSopInstanceUid) {
    const std::string oldUid = getString(ds, kSopInstanceUid);
    setString(ds, kSopInstanceUid, gdcm::VR::UI, makeUid());
    if (!oldUid.empty()) referToOriginal(ds, oldUid);
  }
}

}  // namespace router::codecs
