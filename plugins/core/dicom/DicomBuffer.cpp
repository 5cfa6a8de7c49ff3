#include "plugins/core/dicom/DicomBuffer.h"

#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcistrmb.h>
#include <dcmtk/dcmdata/dcmetinf.h>
#include <dcmtk/dcmdata/dcostrmb.h>
#include <dcmtk/dcmdata/dcwcache.h>

#include "plugins/core/Error.h"

namespace router {

namespace {
std::unique_ptr<DcmFileFormat> parse(std::string_view part10, const DcmTagKey& stopAt) {
  DcmInputBufferStream stream;
  stream.setBuffer(part10.data(), static_cast<offile_off_t>(part10.size()));
  stream.setEos();
  auto file = std::make_unique<DcmFileFormat>();
  file->transferInit();
  OFCondition status = file->readUntilTag(stream, EXS_Unknown, EGL_noChange, DCM_MaxReadLength, stopAt);
  file->transferEnd();
  if (status.bad()) {
    throw RouterError(std::string("not a readable DICOM file: ") + status.text());
  }
  file->loadAllDataIntoMemory();
  return file;
}
}  // namespace

std::unique_ptr<DcmFileFormat> parseDicom(std::string_view part10) { return parse(part10, DCM_UndefinedTagKey); }

std::unique_ptr<DcmFileFormat> parseDicomHeader(std::string_view part10) { return parse(part10, DCM_PixelData); }

std::string serializeDicom(DcmFileFormat& file) {
  E_TransferSyntax xfer = file.getDataset()->getCurrentXfer();
  // Enough for the dataset plus the meta header; grown if too small.
  std::string out;
  out.resize(file.calcElementLength(xfer, EET_ExplicitLength) + 4096);
  for (int attempt = 0; attempt < 2; ++attempt) {
    DcmOutputBufferStream stream(out.data(), static_cast<offile_off_t>(out.size()));
    file.transferInit();
    OFCondition status = file.write(stream, xfer, EET_ExplicitLength, nullptr);
    file.transferEnd();
    if (status.good()) {
      void* buffer = nullptr;
      offile_off_t length = 0;
      stream.flushBuffer(buffer, length);
      out.resize(static_cast<size_t>(length));
      return out;
    }
    if (status != EC_StreamNotifyClient) {
      throw RouterError(std::string("cannot write DICOM file: ") + status.text());
    }
    out.resize(out.size() * 2);
  }
  throw RouterError("cannot write DICOM file: output buffer too small");
}

}  // namespace router
