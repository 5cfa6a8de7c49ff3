// Encapsulated pixel data (DICOM PS3.5 A.4): splitting fragments into frames
// for decoding, and building the fragment sequence for encoding (empty Basic
// Offset Table, one even-length fragment per frame).
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include <gdcmByteValue.h>
#include <gdcmDataElement.h>
#include <gdcmSmartPointer.h>

namespace router::codecs {

// Checks, without copying any bytes, that the fragments can be mapped to the
// frames (see framesOf) and that the Basic Offset Table, when there is one,
// has one entry per frame, starts at 0, increases strictly and points at
// fragment starts inside the data. Throws TranscodeError naming the problem.
// Run before any decoder sees the data.
void checkFragments(const gdcm::DataElement& pixelData, unsigned frames);

// The compressed bytes of each frame. Uses the Basic Offset Table when there
// is one; otherwise one fragment per frame, or, when there are more fragments
// than frames, a new frame at every fragment that starts with an SOI marker.
// Throws TranscodeError when the fragments cannot be mapped to the frames.
std::vector<std::string> framesOf(const gdcm::DataElement& pixelData, unsigned frames);

// One frame's compressed bytes, held in the value its fragment will carry,
// so that a codec can write them there and encapsulating copies nothing.
using FragmentValue = gdcm::SmartPointer<gdcm::ByteValue>;

// A value of at least capacity zeroed bytes for a codec to write into.
FragmentValue makeFragmentValue(size_t capacity);
// Cuts value to the used bytes a codec wrote, plus one 0x00 pad byte when
// that is odd (fragments have even lengths).
void fitFragmentValue(gdcm::ByteValue& value, size_t used);

// A PixelData element holding one fragment per frame (values from
// fitFragmentValue, taken as they are).
gdcm::DataElement encapsulate(const std::vector<FragmentValue>& frames);
// The same from bytes, copied and padded with 0x00 to even length.
gdcm::DataElement encapsulate(const std::vector<std::string>& frames);

}  // namespace router::codecs
