// DicomDestination against a real storescp (dcmtk) started per test on a
// free port: kept-open associations, what arrives (UIDs, pixels, transfer
// syntax), a peer that is down then up, a peer that refuses a SOP class or
// a transfer syntax, and the per-instance latency that TCP_NODELAY buys.
// Also: NUL-padded and UN-encoded UIDs, as text, in what the peer gets, in
// refusals, in folder file names and in storage commitment reports.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcistrmb.h>
#include <dcmtk/dcmdata/dcmetinf.h>
#include <dcmtk/dcmdata/dcuid.h>
#include <dcmtk/dcmdata/dcvrobow.h>
#include <dcmtk/dcmdata/dcxfer.h>

#include "plugins/core/destinations/dicom/DicomDestination.h"
#include "plugins/core/destinations/folder/FolderDestination.h"
#include "plugins/core/destinations/dicom/StorageCommitment.h"
#include "tests/unit/destination_settings.h"
#include "tests/unit/listening.h"
#include "tests/generator/TestData.h"
#include "tests/generator/TestSupport.h"
#include "transcoders/TransferSyntax.h"
#include "transcoders/Transcoder.h"

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace router {
namespace {

using testdata::freeTcpPort;
using testdata::isListening;

std::string readText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// storescp as a child process, ended by PID when the object goes.
class StoreScp {
 public:
  StoreScp(int port, const std::string& outputDir, std::vector<std::string> extra = {})
      : logPath_(outputDir + "/../storescp-" + std::to_string(port) + ".log") {
    fs::create_directories(outputDir);
    std::vector<std::string> args{"storescp", "-v", "-aet", "PACS", "-od", outputDir};
    args.insert(args.end(), extra.begin(), extra.end());
    args.push_back(std::to_string(port));
    pid_ = ::fork();
    if (pid_ == 0) {
      // If the test process dies (crash, timeout), the server goes with it.
      ::prctl(PR_SET_PDEATHSIG, SIGTERM);
      int log = ::open(logPath_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      ::dup2(log, 1);
      ::dup2(log, 2);
      std::vector<char*> argv;
      for (auto& arg : args) argv.push_back(arg.data());
      argv.push_back(nullptr);
      ::execvp("storescp", argv.data());
      ::_exit(127);
    }
    auto deadline = Clock::now() + std::chrono::seconds(10);
    while (!isListening(port) && Clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  ~StoreScp() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  StoreScp(const StoreScp&) = delete;
  StoreScp& operator=(const StoreScp&) = delete;

  std::string log() const { return readText(logPath_); }
  int associationsReceived() const {
    std::string text = log();
    int count = 0;
    for (size_t at = text.find("Association Received"); at != std::string::npos;
         at = text.find("Association Received", at + 1)) {
      ++count;
    }
    return count;
  }

 private:
  std::string logPath_;
  pid_t pid_ = -1;
};

struct Received {
  std::string transferSyntax;
  std::string sopClassUid;
  std::vector<uint8_t> pixels;
  bool hasPixels = false;
};

// Every file storescp wrote, by SOP Instance UID.
std::map<std::string, Received> readReceived(const std::string& dir) {
  std::map<std::string, Received> result;
  for (const auto& entry : fs::directory_iterator(dir)) {
    DcmFileFormat file;
    if (file.loadFile(entry.path().c_str()).bad()) continue;
    DcmDataset* dataset = file.getDataset();
    OFString uid, sopClass, ts;
    dataset->findAndGetOFString(DCM_SOPInstanceUID, uid);
    dataset->findAndGetOFString(DCM_SOPClassUID, sopClass);
    file.getMetaInfo()->findAndGetOFString(DCM_TransferSyntaxUID, ts);
    Received received;
    received.transferSyntax = ts.c_str();
    received.sopClassUid = sopClass.c_str();
    DcmElement* pixelData = nullptr;
    // Native pixel data only: fragments are compared by the transcoder tests.
    if (!DcmXfer(ts.c_str()).isEncapsulated() && dataset->findAndGetElement(DCM_PixelData, pixelData).good() &&
        pixelData) {
      Uint8* bytes = nullptr;
      if (pixelData->getUint8Array(bytes).good() && bytes) {
        received.pixels.assign(bytes, bytes + pixelData->getLength());
        received.hasPixels = true;
      }
    }
    result[uid.c_str()] = received;
  }
  return result;
}

std::string sopInstanceUidOf(const std::string& part10) {
  DcmFileFormat file;
  DcmInputBufferStream stream;
  stream.setBuffer(part10.data(), static_cast<offile_off_t>(part10.size()));
  stream.setEos();
  file.transferInit();
  file.read(stream);
  file.transferEnd();
  OFString uid;
  file.getDataset()->findAndGetOFString(DCM_SOPInstanceUID, uid);
  return uid.c_str();
}

class DicomDestinationTest : public testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/dicom-destination-test-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr);
    root_ = pattern;
    port_ = freeTcpPort();
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(root_, ec);
  }
  DestinationConfig config() const {
    DestinationConfig c;
    c.name = "pacs";
    DicomSettings& dicom = editSettings<DicomSettings>(c);
    dicom.aet = "PACS";
    dicom.host = "127.0.0.1";
    dicom.port = port_;
    dicom.timeout = std::chrono::seconds(5);
    return c;
  }
  static Outgoing outgoing(const std::string& bytes, const testdata::ImageSpec&, const char* ts) {
    return Outgoing{bytes, "", sopInstanceUidOf(bytes), ts};
  }
  // A JPEG-LS lossless copy made by dcmtk's own encoder (dcmcjpls).
  std::string jpegLs(const std::string& bytes) {
    std::string in = root_ + "/jls-in.dcm", out = root_ + "/jls-out.dcm";
    std::ofstream(in, std::ios::binary) << bytes;
    std::string command = "dcmcjpls " + in + " " + out + " 2>&1";
    if (std::system(command.c_str()) != 0) return {};
    return readText(out);
  }
  std::string root_;
  int port_ = 0;
};

TEST_F(DicomDestinationTest, TwentyInstancesOfSeveralSopClassesOverOneAssociation) {
  StoreScp scp(port_, root_ + "/in");
  DicomDestination destination(config(), "ROUTER");

  std::vector<testdata::ImageSpec> suite = testdata::standardSuite();
  std::map<std::string, testdata::ImageSpec> sent;  // by SOP Instance UID
  std::set<std::string> sopClasses;
  for (int i = 0; i < 20; ++i) {
    testdata::ImageSpec spec = suite[i % suite.size()];
    spec.seed = 1000 + i;
    std::string bytes = testdata::makeInstance(spec);
    Outgoing out = outgoing(bytes, spec, ts::kExplicitVRLittleEndian);
    SendResult result = destination.send(out);
    ASSERT_EQ(result.outcome, SendOutcome::Delivered) << spec.name << ": " << result.detail;
    EXPECT_FALSE(result.warning);
    sent[out.sopInstanceUid] = spec;
  }
  destination.close();

  auto received = readReceived(root_ + "/in");
  ASSERT_EQ(received.size(), 20u);
  for (const auto& entry : received) sopClasses.insert(entry.second.sopClassUid);
  EXPECT_GE(sopClasses.size(), 3u);
  for (const auto& [uid, spec] : sent) {
    SCOPED_TRACE(spec.name);
    ASSERT_EQ(received.count(uid), 1u);
    const Received& got = received[uid];
    EXPECT_EQ(got.transferSyntax, ts::kExplicitVRLittleEndian);
    if (spec.noPixelData) {
      EXPECT_FALSE(got.hasPixels);
    } else {
      EXPECT_EQ(got.pixels, testdata::expectedPixels(spec));
    }
  }
  EXPECT_LE(destination.associationsOpened(), 2);
  EXPECT_EQ(scp.associationsReceived(), destination.associationsOpened());
}

TEST_F(DicomDestinationTest, PeerDownIsQuickRetryThenRecovers) {
  DicomDestination destination(config(), "ROUTER");
  testdata::ImageSpec spec;
  spec.name = "ct";
  std::string bytes = testdata::makeInstance(spec);

  auto start = Clock::now();
  SendResult result = destination.send(outgoing(bytes, spec, ts::kExplicitVRLittleEndian));
  auto elapsed = Clock::now() - start;
  EXPECT_EQ(result.outcome, SendOutcome::Retry);
  EXPECT_NE(result.detail.find("cannot connect to PACS 127.0.0.1:" + std::to_string(port_)), std::string::npos)
      << result.detail;
  EXPECT_NE(result.detail.find("connection refused"), std::string::npos) << result.detail;
  EXPECT_LT(elapsed, std::chrono::seconds(2));
  EXPECT_FALSE(destination.probe());

  StoreScp scp(port_, root_ + "/in");
  EXPECT_TRUE(destination.probe());
  result = destination.send(outgoing(bytes, spec, ts::kExplicitVRLittleEndian));
  EXPECT_EQ(result.outcome, SendOutcome::Delivered) << result.detail;
  destination.close();
  EXPECT_EQ(readReceived(root_ + "/in").size(), 1u);
}

TEST_F(DicomDestinationTest, SilentPeerTimesOutInsteadOfHanging) {
  // A socket that listens but never answers: the kernel completes the TCP
  // handshake, nobody ever reads the A-ASSOCIATE-RQ.
  int listener = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(static_cast<uint16_t>(port_));
  ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  ASSERT_EQ(::listen(listener, 4), 0);

  DestinationConfig c = config();
  editSettings<DicomSettings>(c).timeout = std::chrono::seconds(1);
  DicomDestination destination(c, "ROUTER");
  testdata::ImageSpec spec;
  spec.name = "ct";
  std::string bytes = testdata::makeInstance(spec);
  auto start = Clock::now();
  SendResult result = destination.send(outgoing(bytes, spec, ts::kExplicitVRLittleEndian));
  auto elapsed = Clock::now() - start;
  ::close(listener);
  EXPECT_EQ(result.outcome, SendOutcome::Retry);
  EXPECT_NE(result.detail.find("127.0.0.1:" + std::to_string(port_)), std::string::npos) << result.detail;
  EXPECT_LT(elapsed, std::chrono::seconds(5));
  std::printf("silent peer: %s after %lld ms\n", result.detail.c_str(),
              static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count()));
}

TEST_F(DicomDestinationTest, PeerRestartedBetweenSendsIsHandledOnTheNextSend) {
  testdata::ImageSpec spec;
  spec.name = "ct";
  DicomDestination destination(config(), "ROUTER");
  {
    StoreScp scp(port_, root_ + "/in");
    std::string bytes = testdata::makeInstance(spec);
    ASSERT_EQ(destination.send(outgoing(bytes, spec, ts::kExplicitVRLittleEndian)).outcome,
              SendOutcome::Delivered);
  }  // storescp killed: the kept association is dead now
  StoreScp scp(port_, root_ + "/in");
  spec.seed = 2;
  std::string bytes = testdata::makeInstance(spec);
  SendResult result = destination.send(outgoing(bytes, spec, ts::kExplicitVRLittleEndian));
  EXPECT_EQ(result.outcome, SendOutcome::Delivered) << result.detail;
}

void writeAssociationConfig(const std::string& path) {
  std::ofstream(path) << "[[TransferSyntaxes]]\n"
                         "[Uncompressed]\n"
                         "TransferSyntax1 = LocalEndianExplicit\n"
                         "TransferSyntax2 = LittleEndianImplicit\n"
                         "[[PresentationContexts]]\n"
                         "[OnlyMR]\n"
                         "PresentationContext1 = VerificationSOPClass\\Uncompressed\n"
                         "PresentationContext2 = MRImageStorage\\Uncompressed\n"
                         "[OnlyEcho]\n"
                         "PresentationContext1 = VerificationSOPClass\\Uncompressed\n"
                         "[[Profiles]]\n"
                         "[OnlyMR]\n"
                         "PresentationContexts = OnlyMR\n"
                         "[OnlyEcho]\n"
                         "PresentationContexts = OnlyEcho\n";
}

TEST_F(DicomDestinationTest, RefusedSopClassIsPermanent) {
  writeAssociationConfig(root_ + "/assoc.cfg");
  StoreScp scp(port_, root_ + "/in", {"-xf", root_ + "/assoc.cfg", "OnlyMR"});
  DicomDestination destination(config(), "ROUTER");

  testdata::ImageSpec ct;
  ct.name = "ct";
  std::string ctBytes = testdata::makeInstance(ct);
  SendResult result = destination.send(outgoing(ctBytes, ct, ts::kExplicitVRLittleEndian));
  EXPECT_EQ(result.outcome, SendOutcome::Permanent);
  EXPECT_EQ(result.detail,
            "PACS 127.0.0.1:" + std::to_string(port_) +
                " does not accept SOP class CTImageStorage (1.2.840.10008.5.1.4.1.1.2)");
  EXPECT_TRUE(destination.acceptedTransferSyntaxes("1.2.840.10008.5.1.4.1.1.2").empty());

  // The same object still delivers what the peer does accept.
  testdata::ImageSpec mr;
  mr.name = "mr";
  mr.modality = "MR";
  std::string mrBytes = testdata::makeInstance(mr);
  result = destination.send(outgoing(mrBytes, mr, ts::kExplicitVRLittleEndian));
  EXPECT_EQ(result.outcome, SendOutcome::Delivered) << result.detail;
  EXPECT_EQ(destination.acceptedTransferSyntaxes("1.2.840.10008.5.1.4.1.1.4"),
            std::vector<std::string>{ts::kExplicitVRLittleEndian});
  EXPECT_EQ(destination.associationsOpened(), 1);
}

TEST_F(DicomDestinationTest, PeerAcceptingNoStorageAtAllIsPermanent) {
  writeAssociationConfig(root_ + "/assoc.cfg");
  StoreScp scp(port_, root_ + "/in", {"-xf", root_ + "/assoc.cfg", "OnlyEcho"});
  DicomDestination destination(config(), "ROUTER");
  testdata::ImageSpec ct;
  ct.name = "ct";
  std::string bytes = testdata::makeInstance(ct);
  SendResult result = destination.send(outgoing(bytes, ct, ts::kExplicitVRLittleEndian));
  EXPECT_EQ(result.outcome, SendOutcome::Permanent);
  EXPECT_NE(result.detail.find("does not accept SOP class CTImageStorage"), std::string::npos) << result.detail;
  EXPECT_TRUE(destination.probe());
}

TEST_F(DicomDestinationTest, ImplicitOnlyPeerGetsConvertedUncompressedAndRefusesJpegLs) {
  StoreScp scp(port_, root_ + "/in", {"+xi"});
  DicomDestination destination(config(), "ROUTER");

  testdata::ImageSpec spec;
  spec.name = "ct";
  std::string bytes = testdata::makeInstance(spec);
  Outgoing explicitOut = outgoing(bytes, spec, ts::kExplicitVRLittleEndian);
  SendResult result = destination.send(explicitOut);
  ASSERT_EQ(result.outcome, SendOutcome::Delivered) << result.detail;
  EXPECT_EQ(destination.acceptedTransferSyntaxes("1.2.840.10008.5.1.4.1.1.2"),
            std::vector<std::string>{ts::kImplicitVRLittleEndian});

  testdata::ImageSpec second = spec;
  second.seed = 7;
  std::string compressed = jpegLs(testdata::makeInstance(second));
  if (compressed.empty()) GTEST_SKIP() << "dcmcjpls not available";
  result = destination.send(outgoing(compressed, second, ts::kJPEGLSLossless));
  EXPECT_EQ(result.outcome, SendOutcome::Permanent);
  EXPECT_EQ(result.detail, "PACS 127.0.0.1:" + std::to_string(port_) +
                               " does not accept JPEGLSLossless for CTImageStorage (1.2.840.10008.5.1.4.1.1.2); "
                               "it accepts: ImplicitVRLittleEndian");
  destination.close();

  auto received = readReceived(root_ + "/in");
  ASSERT_EQ(received.size(), 1u);
  const Received& got = received.begin()->second;
  EXPECT_EQ(received.begin()->first, explicitOut.sopInstanceUid);
  EXPECT_EQ(got.transferSyntax, ts::kImplicitVRLittleEndian);
  EXPECT_EQ(got.pixels, testdata::expectedPixels(spec));
  // The JPEG-LS instance needed one renegotiation, and no more.
  EXPECT_EQ(destination.associationsOpened(), 2);
}

TEST_F(DicomDestinationTest, CompressedInstanceGoesInItsOwnSyntaxWhenAccepted) {
  StoreScp scp(port_, root_ + "/in", {"+xa"});
  DicomDestination destination(config(), "ROUTER");
  testdata::ImageSpec spec;
  spec.name = "mr";
  spec.modality = "MR";
  std::string compressed = jpegLs(testdata::makeInstance(spec));
  if (compressed.empty()) GTEST_SKIP() << "dcmcjpls not available";
  SendResult result = destination.send(outgoing(compressed, spec, ts::kJPEGLSLossless));
  ASSERT_EQ(result.outcome, SendOutcome::Delivered) << result.detail;
  destination.close();
  auto received = readReceived(root_ + "/in");
  ASSERT_EQ(received.size(), 1u);
  EXPECT_EQ(received.begin()->second.transferSyntax, ts::kJPEGLSLossless);
}

// DCMTK 3.6.7 cannot put HTJ2K on an association (its DIMSE layer refuses
// syntaxes it does not know, on both sides). An HTJ2K instance is therefore
// never proposed as HTJ2K: the send is refused before any byte goes, with
// what the peer accepts for that SOP class, so delivery falls back to it.
TEST_F(DicomDestinationTest, Htj2kIsNeverProposedAndTheRefusalSaysWhatThePeerAccepts) {
  StoreScp scp(port_, root_ + "/in", {"+xa"});
  DestinationConfig c = config();
  DicomDestination destination(c, "ROUTER");
  testdata::ImageSpec spec;
  spec.name = "ct";
  const std::string htj2k = makeTranscoder()->transcode(testdata::makeInstance(spec), "HTJ2KLossless");
  SendResult result = destination.send(outgoing(htj2k, spec, ts::kHTJ2KLossless));
  EXPECT_EQ(result.outcome, SendOutcome::Permanent);
  EXPECT_NE(result.detail.find("HTJ2KLossless cannot be sent on a DICOM association"), std::string::npos)
      << result.detail;
  const std::vector<std::string> accepted = destination.acceptedTransferSyntaxes("1.2.840.10008.5.1.4.1.1.2");
  EXPECT_FALSE(accepted.empty());
  EXPECT_EQ(std::count(accepted.begin(), accepted.end(), std::string(ts::kHTJ2KLossless)), 0);
  EXPECT_NE(result.detail.find(" accepts: " + transferSyntaxName(accepted.front())), std::string::npos)
      << result.detail;

  // What it accepts goes on the association already open.
  const std::string plain = testdata::makeInstance(spec);
  result = destination.send(outgoing(plain, spec, ts::kExplicitVRLittleEndian));
  EXPECT_EQ(result.outcome, SendOutcome::Delivered) << result.detail;
  destination.close();
  EXPECT_EQ(destination.associationsOpened(), 1);
  EXPECT_EQ(readReceived(root_ + "/in").size(), 1u);
}

TEST_F(DicomDestinationTest, FiftySmallInstancesAreNotSlowedByNagle) {
  StoreScp scp(port_, root_ + "/in");
  DicomDestination destination(config(), "ROUTER");
  std::vector<std::string> files;
  for (int i = 0; i < 50; ++i) {
    testdata::ImageSpec spec;
    spec.name = "small";
    spec.rows = spec.columns = 8;
    spec.seed = 500 + i;
    files.push_back(testdata::makeInstance(spec));
  }
  testdata::ImageSpec spec;
  // Open the association outside the measurement.
  ASSERT_EQ(destination.send(outgoing(files[0], spec, ts::kExplicitVRLittleEndian)).outcome,
            SendOutcome::Delivered);
  auto start = Clock::now();
  for (int i = 1; i < 50; ++i) {
    ASSERT_EQ(destination.send(outgoing(files[i], spec, ts::kExplicitVRLittleEndian)).outcome,
              SendOutcome::Delivered);
  }
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
  std::printf("49 small C-STOREs over one association: %lld ms\n", static_cast<long long>(ms));
  // With Nagle on, each C-STORE waits ~40 ms for a delayed ACK (2 s in all).
  EXPECT_LT(ms, 1000);
  EXPECT_EQ(destination.associationsOpened(), 1);
}

// UIDs with a NUL pad, or encoded with VR UN (DCMTK then renders them as
// hex, "31\2e\32..."), reach the peer, the messages and the file names
// as plain text (tests/generator hostile cases rtdose-*).
const testdata::HostileCase& hostileCase(const std::string& name) {
  static const std::vector<testdata::HostileCase> suite = testdata::hostileSuite(3);
  for (const auto& c : suite)
    if (c.name == name) return c;
  throw std::runtime_error("no hostile case " + name);
}

constexpr const char* kRtDoseUid = "1.2.840.10008.5.1.4.1.1.481.2";

TEST_F(DicomDestinationTest, NulPaddedAndUnEncodedUidsAreSentAsText) {
  StoreScp scp(port_, root_ + "/in");
  DicomDestination destination(config(), "ROUTER");
  for (const char* name : {"rtdose-nul-uids", "rtdose-uid-as-un"}) {
    SCOPED_TRACE(name);
    const testdata::HostileCase& c = hostileCase(name);
    // As Delivery passes it (read from the file), and with the pad still on.
    SendResult result = destination.send(Outgoing{c.bytes, "", "", ts::kExplicitVRLittleEndian});
    EXPECT_EQ(result.outcome, SendOutcome::Delivered) << result.detail;
    result = destination.send(
        Outgoing{c.bytes, std::string(kRtDoseUid) + '\0', c.sopInstanceUid + '\0', std::string(ts::kExplicitVRLittleEndian) + '\0'});
    EXPECT_EQ(result.outcome, SendOutcome::Delivered) << result.detail;
  }
  destination.close();
  EXPECT_EQ(destination.associationsOpened(), 1);
  auto received = readReceived(root_ + "/in");
  ASSERT_EQ(received.size(), 2u);
  for (const auto& [uid, got] : received) {
    EXPECT_EQ(got.sopClassUid, kRtDoseUid);
    EXPECT_EQ(uid.find_first_not_of("0123456789."), std::string::npos) << uid;
  }
  EXPECT_EQ(received.count(hostileCase("rtdose-uid-as-un").sopInstanceUid), 1u);
  EXPECT_EQ(destination.acceptedTransferSyntaxes(std::string(kRtDoseUid) + '\0'),
            std::vector<std::string>{ts::kExplicitVRLittleEndian});
}

TEST_F(DicomDestinationTest, RefusalNamesAnUnEncodedSopClassAsText) {
  writeAssociationConfig(root_ + "/assoc.cfg");
  StoreScp scp(port_, root_ + "/in", {"-xf", root_ + "/assoc.cfg", "OnlyMR"});
  DicomDestination destination(config(), "ROUTER");
  const testdata::HostileCase& c = hostileCase("rtdose-uid-as-un");
  SendResult result = destination.send(Outgoing{c.bytes, "", "", ts::kExplicitVRLittleEndian});
  EXPECT_EQ(result.outcome, SendOutcome::Permanent);
  EXPECT_EQ(result.detail, "PACS 127.0.0.1:" + std::to_string(port_) +
                               " does not accept SOP class RTDoseStorage (1.2.840.10008.5.1.4.1.1.481.2)");
}

TEST(FolderDestinationUids, FileNameIsTheUidWithoutPadding) {
  testdata::TempDir dir;
  DestinationConfig c;
  c.name = "export";
  editSettings<FolderSettings>(c).path = (dir / "out").string();
  FolderDestination destination(c);
  for (const char* name : {"rtdose-nul-uids", "rtdose-uid-as-un", "padded-strings"}) {
    SCOPED_TRACE(name);
    const testdata::HostileCase& hostile = hostileCase(name);
    for (const std::string& given : {std::string(), hostile.sopInstanceUid + '\0', hostile.sopInstanceUid + "  "}) {
      SendResult result = destination.send(Outgoing{hostile.bytes, "", given, ""});
      EXPECT_EQ(result.outcome, SendOutcome::Delivered) << result.detail;
    }
    EXPECT_TRUE(fs::exists(dir / ("out/" + hostile.sopInstanceUid + ".dcm")));
  }
  size_t files = 0;
  for (const auto& entry : fs::directory_iterator(dir / "out")) {
    (void)entry;
    ++files;
  }
  EXPECT_EQ(files, 3u);
}

TEST(StorageCommitmentUids, PaddedAndUnEncodedUidsInReportsMatch) {
  DcmDataset dataset;
  dataset.putAndInsertString(DCM_TransactionUID, "1.2.3.99");
  DcmItem* item = nullptr;
  ASSERT_TRUE(dataset.findOrCreateSequenceItem(DCM_ReferencedSOPSequence, item, -2).good());
  item->putAndInsertString(DCM_ReferencedSOPClassUID, kRtDoseUid);
  // A peer that encodes the UID as UN, NUL pad included.
  auto* un = new DcmOtherByteOtherWord(DcmTag(DCM_ReferencedSOPInstanceUID, EVR_UN));
  const std::string padded = std::string("1.2.3.45") + '\0' + ' ';
  un->putUint8Array(reinterpret_cast<const Uint8*>(padded.data()), Uint32(padded.size()));
  item->insert(un);
  CommitmentReport report = parseEventReport(dataset);
  ASSERT_EQ(report.committed, std::vector<std::string>{"1.2.3.45"});
  EXPECT_EQ(judgeCommitment(report, std::string("1.2.3.45") + '\0', "PACS").outcome, SendOutcome::Delivered);

  Json::Value json;
  json["Status"] = "Success";
  Json::Value success;
  success["SOPClassUID"] = std::string(kRtDoseUid) + '\0';
  success["SOPInstanceUID"] = std::string("1.2.3.46") + '\0';
  json["Success"].append(success);
  std::optional<CommitmentReport> orthanc = parseOrthancReport("1.9", json);
  ASSERT_TRUE(orthanc);
  EXPECT_EQ(orthanc->committed, std::vector<std::string>{"1.2.3.46"});
  SendResult missing = judgeCommitment(*orthanc, "1.2.3.47", "PACS");
  EXPECT_EQ(missing.outcome, SendOutcome::Retry);
  EXPECT_EQ(missing.detail.find('\0'), std::string::npos);
}

}  // namespace
}  // namespace router
