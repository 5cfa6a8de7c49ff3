// Preparation: reading, tag edits and transcoding once per (instance, edits,
// syntax), de-identification (after the edits, before the transcode, in the
// cache key; refusals; pseudonyms from the mapping table), the
// transcode-failure policy, the prepare-ahead pool, the crash
// memo (a conversion whose worker crashed is not tried again by the delivery
// that wanted it), and the negotiation fallback's choice of syntax. With an
// in-memory instance store and a fake transcoder that counts, fails or
// "crashes" on demand (and otherwise converts with the real codecs).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <thread>
#include <variant>
#include <vector>

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>

#include <filesystem>

#include <unistd.h>

#include "plugins/core/deid/KeyedHash.h"
#include "plugins/core/delivery/Preparation.h"
#include "plugins/core/dicom/DicomBuffer.h"
#include "plugins/core/destinations/dicom/DicomKind.h"
#include "tests/unit/destination_settings.h"
#include "tests/generator/TestData.h"
#include "transcoders/TransferSyntax.h"

namespace router {
namespace {

using namespace std::chrono_literals;

class MemoryStore : public InstanceStore {
 public:
  std::map<std::string, std::string> files;
  bool unreachable = false;
  ChangeBatch changesSince(int64_t since, int) override {
    ChangeBatch none;
    none.last = since;
    return none;
  }
  int64_t lastChange() override { return 0; }
  std::string readFile(const std::string& id) override {
    if (unreachable) throw RouterError("Orthanc answered 500");
    auto it = files.find(id);
    if (it == files.end()) throw InstanceGoneError("no instance " + id);
    return it->second;
  }
  Origin readOrigin(const std::string&) override { return {}; }
  void deleteInstance(const std::string& id) override { files.erase(id); }
};

class FakeTranscoder : public Transcoder {
 public:
  enum class Mode { Convert, Fail, Crash };
  std::atomic<Mode> mode{Mode::Convert};
  mutable std::atomic<int> calls{0};
  mutable std::atomic<int> lastQuality{-1};
  std::string transcode(std::string_view part10, const std::string& target,
                        const TranscodeOptions& options = {}) const override {
    ++calls;
    lastQuality = options.quality;
    switch (mode.load()) {
      case Mode::Fail:
        throw TranscodeError("1-bit images are not supported");
      case Mode::Crash:
        throw TranscoderCrash(TranscoderCrash::Kind::Crash, "the transcoder worker died (signal 11)");
      case Mode::Convert:
        break;
    }
    return real_->transcode(part10, target, options);
  }

 private:
  std::unique_ptr<Transcoder> real_ = makeTranscoder();
};

class QuietLog : public Log {
 public:
  void info(const std::string& m) override { add("info: " + m); }
  void warning(const std::string& m) override { add("warning: " + m); }
  void error(const std::string& m) override { add("error: " + m); }
  std::string text() {
    std::lock_guard<std::mutex> lock(mutex_);
    return text_;
  }

 private:
  void add(const std::string& line) {
    std::lock_guard<std::mutex> lock(mutex_);
    text_ += line + "\n";
  }
  std::mutex mutex_;
  std::string text_;
};

class PreparationTest : public ::testing::Test {
 protected:
  PreparationTest() {
    testdata::ImageSpec spec = testdata::withIdentity(testdata::ctSeries(1, 7, 16, 16).front());
    sop_ = spec.sopInstanceUid;
    store_.files["a"] = testdata::makeInstance(spec);
    pacs_.name = "pacs";
  }

  Job job(const std::string& syntax, TagEdits edits = {}) {
    Job j;
    j.id = ++lastId_;
    j.instanceId = "a";
    j.sopInstanceUid = sop_;
    j.route.destination = "pacs";
    j.route.transferSyntax = syntax;
    j.route.modify = std::move(edits);
    j.attempts = 1;
    return j;
  }

  std::string scrape() { return metrics_.scrape(QueueDepth{}, {}); }

  SteadyNow clock() {
    return [this] { return now_; };
  }

  MemoryStore store_;
  FakeTranscoder transcoder_;
  PreparedCache cache_{64u << 20};
  Metrics metrics_;
  QuietLog log_;
  std::chrono::steady_clock::time_point now_{std::chrono::hours(1000)};
  Preparation preparation_{store_, transcoder_, cache_, metrics_, log_, clock()};
  DestinationConfig pacs_;
  std::string sop_;
  int64_t lastId_ = 0;
};

TEST_F(PreparationTest, EditsAndTranscodesOncePerInstanceEditsAndSyntax) {
  const TagEdits edits{{"InstitutionName", std::string("Site B")}};
  auto first = preparation_.prepare(pacs_, job(ts::kImplicitVRLittleEndian, edits));
  ASSERT_TRUE(std::holds_alternative<Prepared>(first));
  const Prepared& p = std::get<Prepared>(first);
  EXPECT_EQ(p.source.transferSyntax, ts::kExplicitVRLittleEndian);
  EXPECT_EQ(p.identity.transferSyntax, ts::kImplicitVRLittleEndian);
  EXPECT_EQ(p.identity.sopInstanceUid, sop_);
  EXPECT_NE(p.edited->find("Site B"), std::string::npos);
  EXPECT_NE(p.ready->find("Site B"), std::string::npos);
  EXPECT_EQ(p.outgoing().transferSyntax, ts::kImplicitVRLittleEndian);

  // Another destination wanting the same: the cached bytes, no second transcode.
  auto second = preparation_.prepare(pacs_, job(ts::kImplicitVRLittleEndian, edits));
  ASSERT_TRUE(std::holds_alternative<Prepared>(second));
  EXPECT_EQ(std::get<Prepared>(second).ready, p.ready);
  EXPECT_EQ(transcoder_.calls.load(), 1);
  // Other edits are another conversion.
  preparation_.prepare(pacs_, job(ts::kImplicitVRLittleEndian));
  EXPECT_EQ(transcoder_.calls.load(), 2);
  EXPECT_NE(scrape().find("orthanc_router_transcode_duration_seconds_count{transfer_syntax=\"ImplicitVRLittleEndian\"} 2"),
            std::string::npos);
}

TEST_F(PreparationTest, NoConversionWhenTheSyntaxIsAlreadyTheWantedOne) {
  for (const std::string& syntax : {std::string(), std::string(ts::kExplicitVRLittleEndian)}) {
    auto made = preparation_.prepare(pacs_, job(syntax));
    ASSERT_TRUE(std::holds_alternative<Prepared>(made));
    const Prepared& p = std::get<Prepared>(made);
    EXPECT_EQ(p.ready, p.edited);
    EXPECT_EQ(*p.ready, store_.files["a"]);
    EXPECT_EQ(p.identity.transferSyntax, ts::kExplicitVRLittleEndian);
  }
  EXPECT_EQ(transcoder_.calls.load(), 0);
}

TEST_F(PreparationTest, WhatCannotBeReadOrEditedIsAFailureWithItsReason) {
  store_.files.erase("a");
  auto gone = preparation_.prepare(pacs_, job(""));
  ASSERT_TRUE(std::holds_alternative<PrepareFailure>(gone));
  EXPECT_TRUE(std::get<PrepareFailure>(gone).permanent);
  EXPECT_EQ(std::get<PrepareFailure>(gone).reason, "instance_deleted");

  store_.unreachable = true;
  auto unreachable = preparation_.prepare(pacs_, job(""));
  ASSERT_TRUE(std::holds_alternative<PrepareFailure>(unreachable));
  EXPECT_FALSE(std::get<PrepareFailure>(unreachable).permanent);  // Orthanc may answer later
  EXPECT_EQ(std::get<PrepareFailure>(unreachable).reason, "orthanc_read");
  EXPECT_NE(std::get<PrepareFailure>(unreachable).detail.find("Orthanc answered 500"), std::string::npos);

  store_.unreachable = false;
  store_.files["b"] = "not a DICOM file";
  Job unreadable = job("");
  unreadable.instanceId = "b";
  auto bad = preparation_.prepare(pacs_, unreadable);
  ASSERT_TRUE(std::holds_alternative<PrepareFailure>(bad));
  EXPECT_TRUE(std::get<PrepareFailure>(bad).permanent);
  EXPECT_EQ(std::get<PrepareFailure>(bad).reason, "unreadable");
}

TEST_F(PreparationTest, AFailedTranscodeSendsTheOriginalOrFailsPerThePolicy) {
  transcoder_.mode = FakeTranscoder::Mode::Fail;
  pacs_.onTranscodeFailure = TranscodeFailurePolicy::SendOriginal;
  auto original = preparation_.prepare(pacs_, job(ts::kJPEGLSLossless));
  ASSERT_TRUE(std::holds_alternative<Prepared>(original));
  EXPECT_EQ(std::get<Prepared>(original).identity.transferSyntax, ts::kExplicitVRLittleEndian);
  EXPECT_NE(log_.text().find("sending the original (OnTranscodeFailure)"), std::string::npos);

  pacs_.onTranscodeFailure = TranscodeFailurePolicy::Fail;
  auto failed = preparation_.prepare(pacs_, job(ts::kJPEGLSLossless));
  ASSERT_TRUE(std::holds_alternative<PrepareFailure>(failed));
  const PrepareFailure& f = std::get<PrepareFailure>(failed);
  EXPECT_TRUE(f.permanent);
  EXPECT_EQ(f.reason, "transcode_failed");
  EXPECT_EQ(f.detail, "transcoding ExplicitVRLittleEndian -> JPEGLSLossless failed: 1-bit images are not supported");
  EXPECT_EQ(transcoder_.calls.load(), 2);  // failures are not cached
  EXPECT_NE(scrape().find("orthanc_router_transcode_failures_total{transfer_syntax=\"JPEGLSLossless\"} 2"),
            std::string::npos);
}

TEST_F(PreparationTest, ACrashedConversionIsNotTriedAgainByTheDeliveryThatWantedIt) {
  pacs_.onTranscodeFailure = TranscodeFailurePolicy::Fail;
  transcoder_.mode = FakeTranscoder::Mode::Crash;
  Job wanted = job(ts::kImplicitVRLittleEndian);
  // The prepare-ahead thread, say, meets the crash first.
  PreparedCache::Value edited = preparation_.edit(wanted, preparation_.readOriginal("a"));
  EXPECT_THROW(preparation_.convert(wanted, ts::kImplicitVRLittleEndian, edited, ts::kExplicitVRLittleEndian),
               TranscoderCrash);
  EXPECT_EQ(transcoder_.calls.load(), 1);
  EXPECT_NE(scrape().find("orthanc_router_transcoder_crashes_total{kind=\"crash\",transfer_syntax=\"ImplicitVRLittleEndian\"} 1"),
            std::string::npos);

  // The delivery fails with the same reason without a second worker dying,
  // even if the worker would now succeed.
  transcoder_.mode = FakeTranscoder::Mode::Convert;
  auto delivery = preparation_.prepare(pacs_, wanted);
  ASSERT_TRUE(std::holds_alternative<PrepareFailure>(delivery));
  EXPECT_NE(std::get<PrepareFailure>(delivery).detail.find("the transcoder worker died (signal 11)"),
            std::string::npos);
  EXPECT_EQ(transcoder_.calls.load(), 1);

  // The memo is used once: a later try (an operator's retry) converts again.
  auto retried = preparation_.prepare(pacs_, wanted);
  ASSERT_TRUE(std::holds_alternative<Prepared>(retried));
  EXPECT_EQ(std::get<Prepared>(retried).identity.transferSyntax, ts::kImplicitVRLittleEndian);
  EXPECT_EQ(transcoder_.calls.load(), 2);
}

TEST_F(PreparationTest, AStaleCrashMemoIsIgnored) {
  pacs_.onTranscodeFailure = TranscodeFailurePolicy::Fail;
  transcoder_.mode = FakeTranscoder::Mode::Crash;
  ASSERT_TRUE(std::holds_alternative<PrepareFailure>(preparation_.prepare(pacs_, job(ts::kImplicitVRLittleEndian))));
  transcoder_.mode = FakeTranscoder::Mode::Convert;
  now_ += 31s;  // past the memo's 30 s
  auto later = preparation_.prepare(pacs_, job(ts::kImplicitVRLittleEndian));
  ASSERT_TRUE(std::holds_alternative<Prepared>(later));
  EXPECT_EQ(transcoder_.calls.load(), 2);
  // Only that conversion is held: another syntax of the same instance is not.
  transcoder_.mode = FakeTranscoder::Mode::Crash;
  ASSERT_TRUE(std::holds_alternative<PrepareFailure>(preparation_.prepare(pacs_, job(ts::kImplicitVRLittleEndian, {{"InstitutionName", std::string("X")}}))));
  transcoder_.mode = FakeTranscoder::Mode::Convert;
  EXPECT_TRUE(std::holds_alternative<Prepared>(preparation_.prepare(pacs_, job(ts::kRLELossless))));
}

TEST_F(PreparationTest, ThePrepareThreadsTranscodeAheadIntoTheCache) {
  Route route;
  route.destination = "pacs";
  route.transferSyntax = ts::kImplicitVRLittleEndian;
  preparation_.ahead("a", ts::kExplicitVRLittleEndian, route);  // not started: ignored
  preparation_.start(2);
  Route asStored = route;
  asStored.transferSyntax = ts::kExplicitVRLittleEndian;
  preparation_.ahead("a", ts::kExplicitVRLittleEndian, asStored);  // nothing to convert
  preparation_.ahead("a", ts::kExplicitVRLittleEndian, route);
  for (int i = 0; i < 500 && transcoder_.calls.load() == 0; ++i) std::this_thread::sleep_for(10ms);
  ASSERT_EQ(transcoder_.calls.load(), 1);  // started before any delivery asked
  auto made = preparation_.prepare(pacs_, job(ts::kImplicitVRLittleEndian));
  ASSERT_TRUE(std::holds_alternative<Prepared>(made));
  EXPECT_EQ(std::get<Prepared>(made).identity.transferSyntax, ts::kImplicitVRLittleEndian);
  EXPECT_EQ(transcoder_.calls.load(), 1);  // done ahead, once
  preparation_.stop();
  preparation_.ahead("a", ts::kExplicitVRLittleEndian, route);  // stopped: ignored
  EXPECT_EQ(transcoder_.calls.load(), 1);
}

TEST_F(PreparationTest, AheadMayRaceStartAndStop) {
  // Routing may hand jobs over while delivery starts or stops.
  Route route;
  route.destination = "pacs";
  route.transferSyntax = ts::kImplicitVRLittleEndian;
  std::atomic<bool> done{false};
  std::thread routing([&] {
    while (!done) preparation_.ahead("a", ts::kExplicitVRLittleEndian, route);
  });
  for (int i = 0; i < 20; ++i) {
    preparation_.start(2);
    preparation_.stop();
  }
  done = true;
  routing.join();
  EXPECT_LE(transcoder_.calls.load(), 1);  // converted once at most, then cached
}

TEST_F(PreparationTest, StartStopStartTranscodesAheadAgain) {
  store_.files["b"] = testdata::makeInstance(testdata::withIdentity(testdata::ctSeries(1, 8, 16, 16).front()));
  Route route;
  route.destination = "pacs";
  route.transferSyntax = ts::kImplicitVRLittleEndian;
  // No deadline: a pool that never converts hangs the test (ctest's timeout).
  auto until = [&](int calls) {
    while (transcoder_.calls.load() < calls) std::this_thread::sleep_for(10ms);
  };
  EXPECT_EQ(preparation_.state(), RunState::Created);
  preparation_.start(2);
  EXPECT_EQ(preparation_.state(), RunState::Running);
  preparation_.ahead("a", ts::kExplicitVRLittleEndian, route);
  until(1);
  preparation_.stop();
  EXPECT_EQ(preparation_.state(), RunState::Stopped);
  preparation_.ahead("b", ts::kExplicitVRLittleEndian, route);  // stopped: ignored
  EXPECT_EQ(transcoder_.calls.load(), 1);

  preparation_.start(2);
  EXPECT_EQ(preparation_.state(), RunState::Running);
  preparation_.ahead("b", ts::kExplicitVRLittleEndian, route);
  until(2);
  preparation_.stop();
  EXPECT_EQ(preparation_.state(), RunState::Stopped);
  auto made = preparation_.prepare(pacs_, [&] {
    Job j = job(ts::kImplicitVRLittleEndian);
    j.instanceId = "b";
    return j;
  }());
  ASSERT_TRUE(std::holds_alternative<Prepared>(made));
  EXPECT_EQ(transcoder_.calls.load(), 2);  // converted ahead after the restart, then cached
}

TEST_F(PreparationTest, StopEndsThreadsWaitingForWorkAndStopWithoutStartIsFine) {
  preparation_.stop();
  EXPECT_EQ(preparation_.state(), RunState::Stopped);
  preparation_.start(4);
  preparation_.stop();  // they wait without a deadline: a hang is the failure
  EXPECT_EQ(preparation_.state(), RunState::Stopped);
}

TEST_F(PreparationTest, ReencodeReplacesWhatIsSent) {
  auto made = preparation_.prepare(pacs_, job(ts::kJPEGLSLossless));
  ASSERT_TRUE(std::holds_alternative<Prepared>(made));
  Prepared p = std::get<Prepared>(made);
  ASSERT_EQ(p.identity.transferSyntax, ts::kJPEGLSLossless);
  preparation_.reencode(p, ts::kImplicitVRLittleEndian);
  EXPECT_EQ(p.identity.transferSyntax, ts::kImplicitVRLittleEndian);
  EXPECT_EQ(p.source.transferSyntax, ts::kExplicitVRLittleEndian);  // from the edited file, not the JPEG-LS one
  transcoder_.mode = FakeTranscoder::Mode::Fail;
  EXPECT_THROW(preparation_.reencode(p, ts::kRLELossless), TranscodeError);
  EXPECT_EQ(p.identity.transferSyntax, ts::kImplicitVRLittleEndian);  // unchanged
}

// Transcoding.Quality reaches the codec for the syntaxes it names, and only
// for those; a lower HTJ2K quality gives a smaller file.
TEST_F(PreparationTest, TheConfiguredQualityIsTheOneEncodedWith) {
  auto sizeAt = [&](Preparation& preparation, const char* syntax) {
    auto made = preparation.prepare(pacs_, job(syntax));
    EXPECT_TRUE(std::holds_alternative<Prepared>(made));
    return std::holds_alternative<Prepared>(made) ? std::get<Prepared>(made).ready->size() : size_t{0};
  };
  const size_t atDefault = sizeAt(preparation_, ts::kHTJ2K);
  EXPECT_EQ(transcoder_.lastQuality, 0);  // the codec's default (90)
  PreparedCache otherCache{64u << 20};
  Preparation configured{store_, transcoder_, otherCache, metrics_, log_, clock(), {{ts::kHTJ2K, 40}}};
  const size_t atForty = sizeAt(configured, ts::kHTJ2K);
  EXPECT_EQ(transcoder_.lastQuality, 40);
  EXPECT_LT(atForty, atDefault);
  sizeAt(configured, ts::kJPEGLSNearLossless);
  EXPECT_EQ(transcoder_.lastQuality, 0);
}

TEST(FallbackSyntaxTest, PrefersTheDestinationsOrderThenUncompressedThenWhatWasAccepted) {
  DestinationConfig config;
  const std::string refused = ts::kJPEGLSLossless;
  // The destination's own list first (in its order), skipping the refused one.
  editSettings<DicomSettings>(config).transferSyntaxes = {ts::kJPEGLSLossless, ts::kRLELossless,
                                                          ts::kJPEG2000Lossless};
  EXPECT_EQ(fallbackSyntax(config, {ts::kJPEG2000Lossless, ts::kRLELossless, ts::kExplicitVRLittleEndian}, refused),
            ts::kRLELossless);
  // Then an uncompressed one, Explicit before Implicit.
  editSettings<DicomSettings>(config).transferSyntaxes.clear();
  EXPECT_EQ(fallbackSyntax(config, {ts::kJPEG2000Lossless, ts::kImplicitVRLittleEndian, ts::kExplicitVRLittleEndian},
                           refused),
            ts::kExplicitVRLittleEndian);
  EXPECT_EQ(fallbackSyntax(config, {ts::kJPEG2000Lossless, ts::kImplicitVRLittleEndian}, refused),
            ts::kImplicitVRLittleEndian);
  // Then what was accepted, in its order; syntaxes we cannot encode never.
  EXPECT_EQ(fallbackSyntax(config, {ts::kDeflatedExplicitVRLittleEndian, ts::kJPEG2000Lossless, ts::kRLELossless},
                           refused),
            ts::kJPEG2000Lossless);
  EXPECT_EQ(fallbackSyntax(config, {ts::kDeflatedExplicitVRLittleEndian, ts::kExplicitVRBigEndian, refused}, refused),
            "");
  EXPECT_EQ(fallbackSyntax(config, {}, refused), "");
}


// ---- De-identification ------------------------------------------------------

std::string tagOf(const std::string& part10, const DcmTagKey& key) {
  std::unique_ptr<DcmFileFormat> file = parseDicom(part10);
  OFString value;
  if (file->getDataset()->findAndGetOFStringArray(key, value).bad()) return "<absent>";
  return value.c_str();
}

class DeidPreparationTest : public PreparationTest {
 protected:
  DeidPreparationTest() {
    dir_ = std::filesystem::temp_directory_path() /
           ("router-prep-deid-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    queue_ = openSqliteQueue((dir_ / "queue.sqlite").string());
    for (const char* name : {"trial-1", "trial-2", "numbered"}) {
      DeidProjectConfig& p = config_.projects[name];
      p.name = name;
      p.key = std::string(kKey);
    }
    config_.projects["trial-1"].lookup = true;
    config_.projects["numbered"].patientIdentity = PatientIdentityMode::Table;
    testdata::ImageSpec sc;
    sc.name = "sc";
    sc.modality = "SC";
    sc.samplesPerPixel = 3;
    sc.photometric = "RGB";
    sc.bitsAllocated = sc.bitsStored = 8;
    // The generator writes BurnedInAnnotation NO; a screenshot without it is presumed to show text.
    std::unique_ptr<DcmFileFormat> file = parseDicom(testdata::makeInstance(sc));
    delete file->getDataset()->remove(DCM_BurnedInAnnotation);
    store_.files["sc"] = serializeDicom(*file);
    deid_ = std::make_unique<Preparation>(store_, transcoder_, cache_, metrics_, log_, clock(), std::map<std::string, int>{},
                                          &config_, queue_.get());
  }
  ~DeidPreparationTest() override { std::filesystem::remove_all(dir_); }

  Job deidJob(const std::string& project, std::vector<std::string> options = {}, const std::string& syntax = "",
              TagEdits edits = {}) {
    Job j = job(syntax, std::move(edits));
    j.route.deidentify.project = project;
    j.route.deidentify.options = std::move(options);
    return j;
  }

  static constexpr const char* kKey = "0123456789abcdef0123456789abcdef";
  std::filesystem::path dir_;
  std::unique_ptr<Queue> queue_;
  DeidentificationConfig config_;
  std::unique_ptr<Preparation> deid_;  // made once the queue is open
};

// The rule's edits first, then de-identification, then the transcode: an
// edit cannot put an identity back (the edited PatientID is what the
// pseudonym derives from; the edited InstitutionName is removed), and the
// file sent in another syntax is the de-identified one.
TEST_F(DeidPreparationTest, AfterTheEditsBeforeTheTranscode) {
  const TagEdits edits{{"InstitutionName", std::string("Site B")}, {"PatientID", std::string("EDITED-7")}};
  auto made = deid_->prepare(pacs_, deidJob("trial-1", {}, ts::kJPEGLSLossless, edits));
  ASSERT_TRUE(std::holds_alternative<Prepared>(made)) << std::get<PrepareFailure>(made).detail;
  const Prepared& p = std::get<Prepared>(made);
  const std::string pseudonym = deid::KeyedHash("trial-1", kKey).pseudonym("EDITED-7");
  for (const auto* file : {p.edited.get(), p.ready.get()}) {
    EXPECT_EQ(tagOf(*file, DCM_PatientID), pseudonym);
    EXPECT_EQ(tagOf(*file, DCM_PatientName), pseudonym);
    EXPECT_NE(tagOf(*file, DCM_InstitutionName), "Site B");  // the edit is de-identified too
    EXPECT_EQ(tagOf(*file, DCM_PatientIdentityRemoved), "YES");
    EXPECT_EQ(file->find("Site B"), std::string::npos);
  }
  EXPECT_EQ(p.identity.transferSyntax, ts::kJPEGLSLossless);
  EXPECT_NE(p.identity.sopInstanceUid, sop_);
  EXPECT_EQ(p.identity.sopInstanceUid, deid::KeyedHash("trial-1", kKey).uid(sop_));
  EXPECT_EQ(p.source.sopInstanceUid, p.identity.sopInstanceUid);
  EXPECT_NE(scrape().find("orthanc_router_deidentified_total{project=\"trial-1\"} 1"), std::string::npos)
      << scrape();
  // Lookup is allowed for trial-1: the pseudonym was recorded.
  auto entry = queue_->findPseudonym("trial-1", pseudonym);
  ASSERT_TRUE(entry);
  EXPECT_EQ(entry->patientId, "EDITED-7");
}

// The cache key holds the project and options: the same instance for
// another project or option set is de-identified and transcoded again; the
// same again is not.
TEST_F(DeidPreparationTest, TheCacheKeyHoldsProjectAndOptions) {
  auto a = deid_->prepare(pacs_, deidJob("trial-1", {}, ts::kImplicitVRLittleEndian));
  auto again = deid_->prepare(pacs_, deidJob("trial-1", {}, ts::kImplicitVRLittleEndian));
  auto other = deid_->prepare(pacs_, deidJob("trial-2", {}, ts::kImplicitVRLittleEndian));
  auto retained = deid_->prepare(pacs_, deidJob("trial-1", {"RetainDeviceIdentity"}, ts::kImplicitVRLittleEndian));
  auto plain = deid_->prepare(pacs_, job(ts::kImplicitVRLittleEndian));
  for (auto* made : {&a, &again, &other, &retained, &plain}) ASSERT_TRUE(std::holds_alternative<Prepared>(*made));
  EXPECT_EQ(std::get<Prepared>(again).ready, std::get<Prepared>(a).ready);
  EXPECT_EQ(transcoder_.calls.load(), 4);
  EXPECT_NE(std::get<Prepared>(other).identity.sopInstanceUid, std::get<Prepared>(a).identity.sopInstanceUid);
  EXPECT_EQ(std::get<Prepared>(plain).identity.sopInstanceUid, sop_);
  EXPECT_NE(scrape().find("orthanc_router_deidentified_total{project=\"trial-1\"} 2"), std::string::npos);
  // trial-2 has no Lookup: nothing that leads back to the patient was kept.
  EXPECT_FALSE(queue_->findPseudonym("trial-2", tagOf(*std::get<Prepared>(other).ready, DCM_PatientID)));
}

TEST_F(DeidPreparationTest, RefusalsAreDeadLettersWithTheReason) {
  Job sc = deidJob("trial-1");
  sc.instanceId = "sc";
  auto refused = deid_->prepare(pacs_, sc);
  ASSERT_TRUE(std::holds_alternative<PrepareFailure>(refused));
  const PrepareFailure& burned = std::get<PrepareFailure>(refused);
  EXPECT_TRUE(burned.permanent);
  EXPECT_EQ(burned.reason, "deid_refused");
  EXPECT_NE(burned.detail.find("no BurnedInAnnotation"), std::string::npos) << burned.detail;
  EXPECT_NE(burned.detail.find("RefuseBurnedIn"), std::string::npos) << burned.detail;

  auto unknown = deid_->prepare(pacs_, deidJob("trial-9"));
  ASSERT_TRUE(std::holds_alternative<PrepareFailure>(unknown));
  EXPECT_TRUE(std::get<PrepareFailure>(unknown).permanent);
  EXPECT_NE(std::get<PrepareFailure>(unknown).detail.find("project \"trial-9\""), std::string::npos);
  EXPECT_NE(std::get<PrepareFailure>(unknown).detail.find("configured: numbered, trial-1, trial-2"), std::string::npos)
      << std::get<PrepareFailure>(unknown).detail;
  const std::string text = scrape();
  EXPECT_NE(text.find("orthanc_router_deidentification_refusals_total{project=\"trial-1\",reason=\"burned_in\"} 1"),
            std::string::npos) << text;
  EXPECT_NE(text.find("orthanc_router_deidentification_refusals_total{project=\"trial-9\",reason=\"unknown_project\"} 1"),
            std::string::npos);

  // The project's policy may let it through.
  config_.projects["trial-2"].refuseBurnedIn = false;
  Job allowed = deidJob("trial-2");
  allowed.instanceId = "sc";
  EXPECT_TRUE(std::holds_alternative<Prepared>(deid_->prepare(pacs_, allowed)));
}

// The mapping table cannot be written (the queue's disk is full): a retry,
// not a dead letter; nothing is wrong with the instance.
TEST_F(DeidPreparationTest, AMappingTableThatCannotBeWrittenIsARetry) {
  struct FullDisk : PseudonymQueue {
    std::string assignPseudonym(const std::string&, const std::string&, const std::string&, const std::string&,
                                const std::string&) override {
      throw RouterError("queue database: query failed: database or disk is full");
    }
    void recordPseudonym(const PseudonymEntry&) override { assignPseudonym("", "", "", "", ""); }
    std::optional<PseudonymEntry> findPseudonym(const std::string&, const std::string&) override { return {}; }
  } full;
  Preparation preparation(store_, transcoder_, cache_, metrics_, log_, clock(), {}, &config_, &full);
  for (const char* project : {"numbered", "trial-1"}) {  // a table pseudonym; a keyed one recorded for Lookup
    auto failed = preparation.prepare(pacs_, deidJob(project));
    ASSERT_TRUE(std::holds_alternative<PrepareFailure>(failed)) << project;
    const PrepareFailure& f = std::get<PrepareFailure>(failed);
    EXPECT_FALSE(f.permanent) << f.detail;
    EXPECT_EQ(f.reason, "deid_table");
    EXPECT_NE(f.detail.find("mapping table"), std::string::npos) << f.detail;
    EXPECT_NE(f.detail.find("disk is full"), std::string::npos) << f.detail;
  }
}

// "table" identity: pseudonyms numbered in the queue's mapping table.
TEST_F(DeidPreparationTest, TablePseudonymsComeFromTheQueue) {
  auto made = deid_->prepare(pacs_, deidJob("numbered"));
  ASSERT_TRUE(std::holds_alternative<Prepared>(made));
  EXPECT_EQ(tagOf(*std::get<Prepared>(made).ready, DCM_PatientID), "NUMBERED-000001");
  auto entry = queue_->findPseudonym("numbered", "NUMBERED-000001");
  ASSERT_TRUE(entry);
  EXPECT_EQ(entry->patientId, testdata::withIdentity(testdata::ctSeries(1, 7, 16, 16).front()).patientId);
}

}  // namespace
}  // namespace router
