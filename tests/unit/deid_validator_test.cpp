// De-identified outputs checked by an independent validator: dciodvfy
// (Debian's dicom3tools) must find no error in the output of a CT and an SC
// image that it does not find in the input. Skipped when dciodvfy is missing.
#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcuid.h>
#include <gtest/gtest.h>

#include <fstream>
#include <set>

#include "tests/generator/TestSupport.h"
#include "tests/unit/deid_support.h"

namespace router::deid {
namespace {

using namespace test;

// ---- dciodvfy -------------------------------------------------------------

// dciodvfy's "Error" lines, made comparable between input and output. The
// de-identification changes values, so a line that quotes one would differ
// while reporting the same problem: quoted values (= <...>, "value <...>",
// "term <...>"), characters and lengths quoted after "= " and item indices
// ([n]) are blanked. Element names and modules stay: an error about an
// element or module that the input did not have is a new error.
std::set<std::string> errorLines(const std::string& output) {
  std::set<std::string> errors;
  size_t start = 0;
  while (start < output.size()) {
    size_t end = output.find('\n', start);
    if (end == std::string::npos) end = output.size();
    std::string line = output.substr(start, end - start);
    start = end + 1;
    if (line.rfind("Error", 0) != 0) continue;
    std::string normal;
    for (size_t i = 0; i < line.size(); ++i) {
      auto blankUntil = [&](char close) {
        const size_t stop = line.find(close, i + 1);
        i = stop == std::string::npos ? line.size() : stop;
      };
      if (line.compare(i, 3, "= <") == 0 || line.compare(i, 6, "value ") == 0 ||
          line.compare(i, 5, "term ") == 0) {
        const size_t open = line.find('<', i);
        if (open != std::string::npos && open <= i + 6) {
          normal += line.substr(i, open - i) + "<?>";
          i = open;
          blankUntil('>');
          continue;
        }
      }
      if (line[i] == '[') {
        normal += "[?]";
        blankUntil(']');
        continue;
      }
      if (line.compare(i, 2, "= ") == 0 && i + 2 < line.size() && line[i + 2] != '<') {
        normal += "= ?";
        i += 2;
        while (i + 1 < line.size() && line[i + 1] != ',' && line[i + 1] != ' ') ++i;
        continue;
      }
      normal.push_back(line[i]);
    }
    errors.insert(normal);
  }
  return errors;
}

// An instance of the kind a modality sends: identifying attributes in the
// modules where they belong, references, private data.
std::string realistic(testdata::ImageSpec spec) {
  spec = testdata::withIdentity(spec);
  std::unique_ptr<DcmFileFormat> file = parseDicom(testdata::makeInstance(spec));
  DcmDataset& ds = *file->getDataset();
  ds.putAndInsertString(DCM_InstitutionAddress, "1 Hospital Road");
  ds.putAndInsertString(DCM_OperatorsName, "Tech^Tom");
  ds.putAndInsertString(DCM_PerformingPhysicianName, "Rad^Ray");
  ds.putAndInsertString(DCM_SeriesDate, "20240115");
  ds.putAndInsertString(DCM_SeriesTime, "101500");
  ds.putAndInsertString(DCM_AcquisitionDate, "20240115");
  ds.putAndInsertString(DCM_AcquisitionTime, "101600");
  ds.putAndInsertString(DCM_InstanceCreationDate, "20240115");
  ds.putAndInsertString(DCM_InstanceCreationTime, "101700");
  ds.putAndInsertString(DCM_ProtocolName, "Thorax for Doe");
  ds.putAndInsertString(DCM_PatientAge, "054Y");
  ds.putAndInsertString(DCM_PatientWeight, "70");
  ds.putAndInsertString(DCM_RETIRED_OtherPatientIDs, "OLD-1");
  ds.putAndInsertString(DCM_InstanceCreatorUID, "1.2.826.0.1.3680043.10.1234.5.5");
  DcmItem& study = childOf(ds, DCM_ReferencedStudySequence);
  study.putAndInsertString(DCM_ReferencedSOPClassUID, "1.2.840.10008.3.1.2.3.1");
  study.putAndInsertString(DCM_ReferencedSOPInstanceUID, spec.studyInstanceUid.c_str());
  DcmItem& image = childOf(ds, DCM_ReferencedImageSequence);
  image.putAndInsertString(DCM_ReferencedSOPClassUID, spec.sopClassUid.empty()
                                                          ? UID_CTImageStorage
                                                          : spec.sopClassUid.c_str());
  image.putAndInsertString(DCM_ReferencedSOPInstanceUID, "1.2.826.0.1.3680043.10.1234.5.6");
  DcmItem& institution = childOf(ds, DCM_InstitutionCodeSequence);
  institution.putAndInsertString(DCM_CodeValue, "H123");
  institution.putAndInsertString(DCM_CodingSchemeDesignator, "LOCAL");
  institution.putAndInsertString(DCM_CodeMeaning, "Hospital 123");
  insertPrivateAndRepeating(ds, /*withGroups=*/false);
  return serializeDicom(*file);
}

TEST(DeidValidator, DciodvfyFindsNoNewErrors) {
  if (testdata::run("command -v dciodvfy").exitCode != 0)
    GTEST_SKIP() << "dciodvfy (dicom3tools) is not installed";
  testdata::ImageSpec ct;
  ct.name = "ct";
  ct.signedPixels = true;
  testdata::ImageSpec sc;
  sc.name = "sc";
  sc.modality = "OT";
  sc.samplesPerPixel = 3;
  sc.photometric = "RGB";
  sc.bitsAllocated = sc.bitsStored = 8;
  testdata::TempDir dir("router-deid-test");
  for (const ProfileOptions& options :
       {ProfileOptions{}, kAllFullDates,
        ProfileOptions{ProfileOption::RetainLongitudinalModifiedDates}}) {
    for (const testdata::ImageSpec& spec : {ct, sc}) {
      SCOPED_TRACE(spec.name + " with " + std::to_string(options.size()) + " options");
      const std::string input = realistic(spec);
      const std::string output = deidentifyPart10(input, Deidentifier(optionsWith(options))).part10;
      std::ofstream(dir / "in.dcm", std::ios::binary) << input;
      std::ofstream(dir / "out.dcm", std::ios::binary) << output;
      testdata::RunResult in = testdata::run("dciodvfy " + (dir / "in.dcm").string());
      testdata::RunResult out = testdata::run("dciodvfy " + (dir / "out.dcm").string());
      ASSERT_NE(in.output.find("Image"), std::string::npos)
          << "dciodvfy did not recognise the input:\n"
          << in.output;
      const std::set<std::string> before = errorLines(in.output);
      for (const std::string& error : errorLines(out.output))
        EXPECT_TRUE(before.count(error)) << "new error: " << error << "\ninput:\n"
                                         << in.output << "\noutput:\n"
                                         << out.output;
    }
  }
}

}  // namespace
}  // namespace router::deid
