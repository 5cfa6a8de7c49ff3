// Encapsulated pixel data (DICOM PS3.5 A.4): splitting fragments into frames
// for decoding, and building the fragment sequence for encoding (empty Basic
// Offset Table, one even-length fragment per frame).
#pragma once

#include <string>
#include <vector>

#include <gdcmDataElement.h>

namespace router::codecs {

// The compressed bytes of each frame. Uses the Basic Offset Table when there
// is one; otherwise one fragment per frame, or, when there are more fragments
// than frames, a new frame at every fragment that starts with an SOI marker.
// Throws TranscodeError when the fragments cannot be mapped to the frames.
std::vector<std::string> framesOf(const gdcm::DataElement& pixelData, unsigned frames);

// A PixelData element holding one fragment per frame, each padded with 0x00
// to even length.
gdcm::DataElement encapsulate(const std::vector<std::string>& frames);

}  // namespace router::codecs
