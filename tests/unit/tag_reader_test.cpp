// What the rules see of an instance, read from generated files; and the tag
// edits routes apply.
#include <gtest/gtest.h>

#include "plugins/core/Error.h"
#include "plugins/core/dicom/TagEditor.h"
#include "plugins/core/dicom/TagReader.h"
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

}  // namespace
}  // namespace router
