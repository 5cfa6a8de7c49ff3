// Parsing and serialising whole DICOM Part-10 files in memory with DCMTK,
// shared by the tag reader, the tag editor and the destinations. Stateless;
// safe from any thread.
#pragma once

#include <dcmtk/dcmdata/dcfilefo.h>

#include <memory>
#include <string>
#include <string_view>

namespace router {

// Throws RouterError("not a readable DICOM file: ...") on failure.
std::unique_ptr<DcmFileFormat> parseDicom(std::string_view part10);

// The same, but stops before PixelData: for reading tags, where the pixels
// (most of the bytes) are never looked at.
std::unique_ptr<DcmFileFormat> parseDicomHeader(std::string_view part10);

// Writes file as Part-10 (preamble, meta header) in its current transfer
// syntax. Throws RouterError.
std::string serializeDicom(DcmFileFormat& file);

}  // namespace router
