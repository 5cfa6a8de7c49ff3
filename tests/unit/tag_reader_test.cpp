// What the rules see of an instance, read from generated files (hostile ones
// with padded values and UIDs included); and the tag edits routes apply.
#include <gtest/gtest.h>

#include "plugins/core/Error.h"
#include "plugins/core/dicom/TagEditor.h"
#include "plugins/core/dicom/TagReader.h"
#include "plugins/core/dicom/Uid.h"
#include "tests/generator/TestData.h"
#include "transcoders/TransferSyntax.h"

namespace router {
namespace {

const TagValue* find(const InstanceView& view, const std::string& keyword) {
  for (const TagValue& t : view.tags) {
    if (t.keyword == keyword) return &t;
  }
  return nullptr;
}

const TagValue* find(const InstanceView& view, uint16_t group, uint16_t element) {
  for (const TagValue& t : view.tags) {
    if (t.group == group && t.element == element) return &t;
  }
  return nullptr;
}

testdata::ImageSpec ct() {
  testdata::ImageSpec spec;
  spec.modality = "CT";
  spec.signedPixels = true;
  spec.patientId = "P-1";
  spec.institutionName = "Site A";
  return spec;
}

TEST(TagReaderTest, KeywordsNumbersAndIdentity) {
  std::string file = testdata::makeInstance(ct());
  InstanceView view = readInstanceView(file);
  EXPECT_EQ(view.transferSyntax, ts::kExplicitVRLittleEndian);
  EXPECT_EQ(view.sopClassUid, "1.2.840.10008.5.1.4.1.1.2");
  EXPECT_FALSE(view.sopInstanceUid.empty());
  ASSERT_TRUE(find(view, "Modality"));
  EXPECT_EQ(find(view, "Modality")->value, "CT");
  ASSERT_TRUE(find(view, 0x0010, 0x0020));
  EXPECT_EQ(find(view, 0x0010, 0x0020)->value, "P-1");
  EXPECT_EQ(find(view, 0x0010, 0x0020)->keyword, "PatientID");
  // Binary and pixel data are not offered to the rules.
  EXPECT_FALSE(find(view, 0x7fe0, 0x0010));
  EXPECT_FALSE(find(view, "PixelData"));
  // Multi-valued elements are joined with '\'.
  const TagValue* spacing = find(view, "PixelSpacing");
  ASSERT_TRUE(spacing);
  EXPECT_NE(spacing->value.find('\\'), std::string::npos);

  DicomIdentity identity = readIdentity(file);
  EXPECT_EQ(identity.sopInstanceUid, view.sopInstanceUid);
  EXPECT_EQ(identity.transferSyntax, ts::kExplicitVRLittleEndian);
}

TEST(TagReaderTest, EveryGeneratedKindIsReadable) {
  for (const auto& spec : testdata::standardSuite()) {
    InstanceView view = readInstanceView(testdata::makeInstance(spec));
    EXPECT_FALSE(view.sopInstanceUid.empty()) << spec.name;
    EXPECT_TRUE(find(view, "Modality")) << spec.name;
  }
}

TEST(TagReaderTest, GarbageIsAClearError) {
  EXPECT_THROW(readInstanceView("definitely not DICOM"), RouterError);
  std::string file = testdata::makeInstance(ct());
  EXPECT_THROW(readInstanceView(file.substr(0, 200)), RouterError);
}

TEST(TagEditorTest, SetsAddsAndRemoves) {
  std::string file = testdata::makeInstance(ct());
  std::string edited = applyTagEdits(file, {{"InstitutionName", std::string("Site B")},
                                            {"0008,1030", std::string("Edited study")},
                                            {"PatientID", std::nullopt}});
  InstanceView view = readInstanceView(edited);
  EXPECT_EQ(find(view, "InstitutionName")->value, "Site B");
  EXPECT_EQ(find(view, "StudyDescription")->value, "Edited study");
  EXPECT_FALSE(find(view, "PatientID"));
  EXPECT_EQ(view.sopInstanceUid, readInstanceView(file).sopInstanceUid);
  // Pixels untouched.
  EXPECT_NE(edited.find(file.substr(file.size() - 4096)), std::string::npos);
}

TEST(TagEditorTest, RefusesWhatItCannotDo) {
  std::string file = testdata::makeInstance(ct());
  EXPECT_THROW(applyTagEdits(file, {{"NoSuchKeyword", std::string("x")}}), RouterError);
  EXPECT_THROW(applyTagEdits(file, {{"PixelData", std::nullopt}}), RouterError);
  EXPECT_EQ(applyTagEdits(file, {}), file);
}

TEST(TagEditorTest, ParsesTagNames) {
  EXPECT_EQ(parseTagName("PatientID").value(), DcmTagKey(0x0010, 0x0020));
  EXPECT_EQ(parseTagName("0009,10ab").value(), DcmTagKey(0x0009, 0x10ab));
  EXPECT_FALSE(parseTagName("0009,10zz"));
  EXPECT_FALSE(parseTagName("Nope"));
}

const testdata::HostileCase& hostileCase(const std::string& name) {
  static const std::vector<testdata::HostileCase> suite = testdata::hostileSuite(5);
  for (const auto& c : suite)
    if (c.name == name) return c;
  throw std::runtime_error("no hostile case " + name);
}

TEST(UidTest, PaddingIsRemoved) {
  EXPECT_EQ(trimUid(std::string("1.2.3\0", 6)), "1.2.3");
  EXPECT_EQ(trimUid("1.2.3 "), "1.2.3");
  EXPECT_EQ(trimUid(std::string(" 1.2.3 \0X", 9)), "1.2.3");
  EXPECT_EQ(trimUid(std::string("\0\0", 2)), "");
  EXPECT_EQ(printableUid(std::string("1.2\x01.3\0", 8)), "1.2?.3");
  EXPECT_EQ(trimText(std::string("Doe^Jane\0\0", 10), true), "Doe^Jane");
  EXPECT_EQ(trimText("A \\B  ", true), "A\\B");
  EXPECT_EQ(trimText("free text \\ with a backslash  ", false), "free text \\ with a backslash");
}

TEST(TagReaderTest, NulPaddedRtDoseUidsComeAsText) {
  for (const char* name : {"rtdose-nul-uids", "rtdose-uid-as-un"}) {
    SCOPED_TRACE(name);
    const testdata::HostileCase& c = hostileCase(name);
    const InstanceView view = readInstanceView(c.bytes);
    EXPECT_EQ(view.sopClassUid, "1.2.840.10008.5.1.4.1.1.481.2");  // no NUL, no "31\\2e\\32..."
    EXPECT_EQ(view.sopInstanceUid, c.sopInstanceUid);
    EXPECT_EQ(view.transferSyntax, ts::kExplicitVRLittleEndian);
    const DicomIdentity identity = readIdentity(c.bytes);
    EXPECT_EQ(identity.sopClassUid, view.sopClassUid);
    EXPECT_EQ(identity.sopInstanceUid, c.sopInstanceUid);
    EXPECT_EQ(identity.transferSyntax, ts::kExplicitVRLittleEndian);
  }
}

TEST(TagReaderTest, PaddedValuesAreSeenWithoutPadding) {
  const testdata::HostileCase& c = hostileCase("padded-strings");
  const InstanceView view = readInstanceView(c.bytes);
  ASSERT_TRUE(find(view, "PatientName"));
  EXPECT_EQ(find(view, "PatientName")->value, "Doe^Jane");
  EXPECT_EQ(find(view, "PatientID")->value, "PID-7");
  EXPECT_EQ(find(view, "StudyDescription")->value, "Head CT");
  EXPECT_EQ(find(view, "InstitutionName")->value, "Site B");
  ASSERT_TRUE(find(view, "AccessionNumber"));
  EXPECT_EQ(find(view, "AccessionNumber")->value, "");
  const std::string study = find(view, "StudyInstanceUID")->value;
  EXPECT_FALSE(study.empty());
  EXPECT_EQ(study.find_first_not_of("0123456789."), std::string::npos) << study;
  EXPECT_EQ(readIdentity(c.bytes).sopInstanceUid, c.sopInstanceUid);
}

TEST(TagReaderTest, PrivateSequenceIsLeftOutAndTheRestIsRead) {
  const testdata::HostileCase& c = hostileCase("private-sequence");
  const InstanceView view = readInstanceView(c.bytes);
  EXPECT_EQ(view.transferSyntax, ts::kImplicitVRLittleEndian);
  EXPECT_EQ(view.sopInstanceUid, c.sopInstanceUid);
  EXPECT_FALSE(find(view, 0x0029, 0x1010));
  ASSERT_TRUE(find(view, 0x0029, 0x0010));
  EXPECT_EQ(find(view, 0x0029, 0x0010)->value, "ROUTER HOSTILE");
}

}  // namespace
}  // namespace router
