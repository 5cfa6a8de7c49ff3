// Validation and repair of pixel data before any codec sees it. GDCM as
// Debian builds it asserts (aborts the whole process) or overruns buffers on
// pixel data whose size does not match the attributes, so every transcode
// passes through here first: sizes are computed in 64 bits, absurd images
// are refused, native pixel data longer than described is trimmed, shorter
// is refused, and encapsulated pixel data must have a sane fragment table.
// Every refusal is a TranscodeError naming the attribute and its value.
//
// Pure functions; safe from any thread.
#pragma once

#include <cstdint>

#include "transcoders/DicomFile.h"

namespace router::codecs {

// Larger images are refused: nothing real comes close, and the codecs keep
// 32-bit lengths.
inline constexpr uint64_t kMaxPixelBytes = uint64_t{2} << 30;  // 2 GiB

// The bytes the attributes describe for native pixel data, without the pad
// byte: Rows x Columns x SamplesPerPixel x BitsAllocated x NumberOfFrames / 8,
// rounded up. subsampled: YBR_FULL_422 as stored uncompressed in a file, two
// samples per pixel (decoders hand back three). Throws TranscodeError when
// that is more than kMaxPixelBytes.
uint64_t describedPixelBytes(const PixelLayout& layout, bool subsampled = false);

// True for native pixel data stored chroma-subsampled (YBR_FULL_422).
bool isSubsampledNative(const PixelLayout& layout);

// Native pixel data: longer than described is cut to the described size
// (plus one zero pad byte when that is odd), shorter is refused. asReceived:
// the data is as the file stored it (else: as a decoder produced it). Throws
// TranscodeError, also when the element is not native.
void repairNativePixelData(DicomFile& dicom, const PixelLayout& layout, bool asReceived);

// Encapsulated pixel data: fragments present and mappable to the frames, a
// Basic Offset Table inside the data. Throws TranscodeError.
void checkEncapsulatedPixelData(const DicomFile& dicom, const PixelLayout& layout);

}  // namespace router::codecs
