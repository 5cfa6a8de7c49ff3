// Fragment <-> frame mapping for encapsulated pixel data.
#include "transcoders/Encapsulation.h"

#include <gdcmSequenceOfFragments.h>

#include "transcoders/DicomFile.h"
#include "transcoders/Transcoder.h"

namespace router::codecs {

namespace {

std::string bytesOf(const gdcm::Fragment& fragment) {
  const gdcm::ByteValue* bv = fragment.GetByteValue();
  return bv && bv->GetPointer() ? std::string(bv->GetPointer(), bv->GetLength()) : std::string();
}

std::vector<uint32_t> offsetTable(const gdcm::SequenceOfFragments& sequence) {
  std::vector<uint32_t> offsets;
  const gdcm::ByteValue* bv = sequence.GetTable().GetByteValue();
  if (!bv || !bv->GetPointer()) return offsets;
  const auto* p = reinterpret_cast<const unsigned char*>(bv->GetPointer());
  for (uint32_t i = 0; i + 4 <= bv->GetLength(); i += 4)
    offsets.push_back(uint32_t(p[i]) | uint32_t(p[i + 1]) << 8 | uint32_t(p[i + 2]) << 16 | uint32_t(p[i + 3]) << 24);
  return offsets;
}

}  // namespace

std::vector<std::string> framesOf(const gdcm::DataElement& pixelData, unsigned frames) {
  const gdcm::SequenceOfFragments* sequence = pixelData.GetSequenceOfFragments();
  if (!sequence || sequence->GetNumberOfFragments() == 0)
    throw TranscodeError("the compressed PixelData holds no fragments");
  const size_t count = sequence->GetNumberOfFragments();
  std::vector<std::string> result;

  const std::vector<uint32_t> offsets = offsetTable(*sequence);
  if (frames == 1) {
    std::string all;
    for (size_t i = 0; i < count; ++i) all += bytesOf(sequence->GetFragment(i));
    result.push_back(std::move(all));
  } else if (offsets.size() == frames) {
    // Offsets count from the first fragment's item tag; each item has an
    // 8-byte header.
    uint64_t position = 0;
    size_t next = 0;
    for (size_t i = 0; i < count; ++i) {
      const std::string bytes = bytesOf(sequence->GetFragment(i));
      if (next < offsets.size() && position == offsets[next]) {
        result.emplace_back();
        ++next;
      } else if (result.empty()) {
        throw TranscodeError("the Basic Offset Table does not point at the first fragment");
      }
      result.back() += bytes;
      position += 8 + bytes.size();
    }
  } else if (count == frames) {
    for (size_t i = 0; i < count; ++i) result.push_back(bytesOf(sequence->GetFragment(i)));
  } else {
    for (size_t i = 0; i < count; ++i) {
      std::string bytes = bytesOf(sequence->GetFragment(i));
      const bool soi = bytes.size() >= 2 && uint8_t(bytes[0]) == 0xFF && uint8_t(bytes[1]) == 0xD8;
      if (soi || result.empty()) result.emplace_back();
      result.back() += bytes;
    }
  }
  if (result.size() != frames)
    throw TranscodeError("the compressed PixelData has " + std::to_string(result.size()) +
                         " frames but NumberOfFrames says " + std::to_string(frames));
  return result;
}

gdcm::DataElement encapsulate(const std::vector<std::string>& frames) {
  gdcm::SmartPointer<gdcm::SequenceOfFragments> sequence = new gdcm::SequenceOfFragments;
  for (const std::string& frame : frames) {
    gdcm::Fragment fragment;
    if (frame.size() % 2) {
      std::string padded = frame;
      padded.push_back('\0');
      fragment.SetByteValue(padded.data(), static_cast<uint32_t>(padded.size()));
    } else {
      fragment.SetByteValue(frame.data(), static_cast<uint32_t>(frame.size()));
    }
    sequence->AddFragment(fragment);
  }
  // GDCM asserts on an undefined length unless the VR is still unset.
  gdcm::DataElement element(kPixelDataTag);
  element.SetValue(*sequence);
  element.SetVLToUndefined();
  element.SetVR(gdcm::VR::OB);
  return element;
}

}  // namespace router::codecs
