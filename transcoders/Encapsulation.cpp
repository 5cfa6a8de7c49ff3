// Fragment <-> frame mapping for encapsulated pixel data.
#include "transcoders/Encapsulation.h"

#include <gdcmSequenceOfFragments.h>

#include <cstring>

#include "transcoders/DicomFile.h"
#include "transcoders/Transcoder.h"

namespace router::codecs {

namespace {

const gdcm::ByteValue* valueOf(const gdcm::Fragment& fragment) {
  const gdcm::ByteValue* bv = fragment.GetByteValue();
  return bv && bv->GetPointer() ? bv : nullptr;
}

size_t lengthOf(const gdcm::Fragment& fragment) {
  const gdcm::ByteValue* bv = valueOf(fragment);
  return bv ? size_t(uint32_t(bv->GetLength())) : 0;
}

std::vector<uint32_t> offsetTable(const gdcm::SequenceOfFragments& sequence) {
  std::vector<uint32_t> offsets;
  const gdcm::ByteValue* bv = sequence.GetTable().GetByteValue();
  if (!bv || !bv->GetPointer()) return offsets;
  if (bv->GetLength() % 4 != 0)
    throw TranscodeError("the Basic Offset Table of the compressed PixelData is " +
                         std::to_string(uint32_t(bv->GetLength())) + " bytes long, not a multiple of 4");
  const auto* p = reinterpret_cast<const unsigned char*>(bv->GetPointer());
  for (uint32_t i = 0; i + 4 <= bv->GetLength(); i += 4)
    offsets.push_back(uint32_t(p[i]) | uint32_t(p[i + 1]) << 8 | uint32_t(p[i + 2]) << 16 | uint32_t(p[i + 3]) << 24);
  return offsets;
}

bool startsWithSoi(const gdcm::Fragment& fragment) {
  const gdcm::ByteValue* bv = valueOf(fragment);
  return bv && bv->GetLength() >= 2 && uint8_t(bv->GetPointer()[0]) == 0xFF && uint8_t(bv->GetPointer()[1]) == 0xD8;
}

// For each frame, the index of its first fragment (frames end where the next
// begins). Every check of checkFragments() happens here.
std::vector<size_t> frameStarts(const gdcm::DataElement& pixelData, unsigned frames) {
  const gdcm::SequenceOfFragments* sequence = pixelData.GetSequenceOfFragments();
  if (!sequence) throw TranscodeError("the PixelData of a compressed transfer syntax is not encapsulated in fragments");
  const size_t count = sequence->GetNumberOfFragments();
  if (count == 0) throw TranscodeError("the compressed PixelData holds no fragments");
  size_t bytes = 0;
  for (size_t i = 0; i < count; ++i) bytes += lengthOf(sequence->GetFragment(i));
  if (bytes == 0) throw TranscodeError("the compressed PixelData fragments are all empty");

  std::vector<size_t> starts;
  const std::vector<uint32_t> offsets = offsetTable(*sequence);
  if (!offsets.empty()) {
    if (offsets.size() != frames)
      throw TranscodeError("the Basic Offset Table has " + std::to_string(offsets.size()) + " entries but NumberOfFrames is " +
                           std::to_string(frames));
    // Offsets count from the first fragment's item tag; each item has an
    // 8-byte header.
    uint64_t position = 0;
    size_t next = 0;
    for (size_t i = 0; i < count && next < offsets.size(); ++i) {
      if (offsets[next] < position) {
        throw TranscodeError("Basic Offset Table entry " + std::to_string(next + 1) + " (" +
                             std::to_string(offsets[next]) + ") does not point at the start of a fragment");
      }
      if (offsets[next] == position) {
        starts.push_back(i);
        ++next;
        if (next < offsets.size() && offsets[next] <= offsets[next - 1])
          throw TranscodeError("the Basic Offset Table does not increase: entry " + std::to_string(next + 1) + " is " +
                               std::to_string(offsets[next]) + " after " + std::to_string(offsets[next - 1]));
      }
      position += 8 + lengthOf(sequence->GetFragment(i));
    }
    if (next < offsets.size())
      throw TranscodeError("Basic Offset Table entry " + std::to_string(next + 1) + " (" + std::to_string(offsets[next]) +
                           ") points outside the " + std::to_string(position) + " bytes of fragments");
    if (starts.front() != 0) throw TranscodeError("the Basic Offset Table does not point at the first fragment");
  } else if (frames == 1) {
    starts.push_back(0);
  } else if (count == frames) {
    for (size_t i = 0; i < count; ++i) starts.push_back(i);
  } else {
    for (size_t i = 0; i < count; ++i)
      if (starts.empty() || startsWithSoi(sequence->GetFragment(i))) starts.push_back(i);
  }
  if (starts.size() != frames)
    throw TranscodeError("the compressed PixelData has " + std::to_string(starts.size()) +
                         (starts.size() == 1 ? " frame" : " frames") + " (" + std::to_string(count) +
                         (count == 1 ? " fragment" : " fragments") + ") but NumberOfFrames says " +
                         std::to_string(frames));
  return starts;
}

}  // namespace

void checkFragments(const gdcm::DataElement& pixelData, unsigned frames) { frameStarts(pixelData, frames); }

std::vector<std::string> framesOf(const gdcm::DataElement& pixelData, unsigned frames) {
  const std::vector<size_t> starts = frameStarts(pixelData, frames);
  const gdcm::SequenceOfFragments& sequence = *pixelData.GetSequenceOfFragments();
  std::vector<std::string> result(starts.size());
  for (size_t f = 0; f < starts.size(); ++f) {
    const size_t end = f + 1 < starts.size() ? starts[f + 1] : sequence.GetNumberOfFragments();
    for (size_t i = starts[f]; i < end; ++i)
      if (const gdcm::ByteValue* bv = valueOf(sequence.GetFragment(i))) result[f].append(bv->GetPointer(), bv->GetLength());
  }
  return result;
}

FragmentValue makeFragmentValue(size_t capacity) {
  const size_t even = capacity + capacity % 2;
  // Fragment lengths are 32-bit, 0xFFFFFFFF meaning undefined.
  if (even > 0xFFFFFFFEu) throw TranscodeError("a compressed frame would be larger than 4 GiB");
  // Built empty from a non-null pointer (GDCM's default of nullptr makes
  // GCC warn about a memcpy from null), then sized: one zero fill, no copy.
  static const char kNothing = 0;
  FragmentValue value = new gdcm::ByteValue(&kNothing, 0);
  value->SetLength(static_cast<uint32_t>(even));
  return value;
}

void fitFragmentValue(gdcm::ByteValue& value, size_t used) {
  const size_t even = used + used % 2;
  if (even > value.GetLength()) throw TranscodeError("a codec wrote more than the fragment it was given");
  if (used % 2) static_cast<char*>(value.GetVoidPointer())[used] = '\0';
  value.SetLength(static_cast<uint32_t>(even));
}

gdcm::DataElement encapsulate(const std::vector<std::string>& frames) {
  std::vector<FragmentValue> values;
  for (const std::string& frame : frames) {
    values.push_back(makeFragmentValue(frame.size()));
    if (!frame.empty()) std::memcpy(values.back()->GetVoidPointer(), frame.data(), frame.size());
    fitFragmentValue(*values.back(), frame.size());
  }
  return encapsulate(values);
}

gdcm::DataElement encapsulate(const std::vector<FragmentValue>& frames) {
  gdcm::SmartPointer<gdcm::SequenceOfFragments> sequence = new gdcm::SequenceOfFragments;
  for (const FragmentValue& value : frames) {
    gdcm::Fragment fragment;
    fragment.SetValue(*value);  // shares the value, no copy
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
