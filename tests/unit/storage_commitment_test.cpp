// Storage commitment: the report parsers (DICOM N-EVENT-REPORT data set and
// Orthanc's JSON), the decision they lead to, and DicomDestination against an
// in-process DCMTK peer that answers on the same association (the path a real
// Orthanc peer never takes; the integration test covers the other one).
#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcitem.h>
#include <dcmtk/dcmdata/dcuid.h>
#include <dcmtk/dcmnet/scp.h>
#include <dcmtk/oflog/oflog.h>
#include <gtest/gtest.h>
#include <json/value.h>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <thread>

#include "plugins/core/destinations/dicom/DicomDestination.h"
#include "plugins/core/destinations/dicom/StorageCommitment.h"
#include "tests/unit/destination_settings.h"
#include "tests/generator/TestData.h"
#include "tests/generator/TestSupport.h"
#include "transcoders/TransferSyntax.h"

namespace router {
namespace {

void addReferenced(DcmDataset& dataset, const DcmTagKey& sequence, const std::string& sopClass,
                   const std::string& sopInstance, int reason = -1) {
  DcmItem* item = nullptr;
  ASSERT_TRUE(dataset.findOrCreateSequenceItem(sequence, item, -2).good());
  item->putAndInsertString(DCM_ReferencedSOPClassUID, sopClass.c_str());
  item->putAndInsertString(DCM_ReferencedSOPInstanceUID, sopInstance.c_str());
  if (reason >= 0) item->putAndInsertUint16(DCM_FailureReason, static_cast<Uint16>(reason));
}

TEST(StorageCommitmentReport, ParsesCommittedAndFailedSequences) {
  DcmDataset dataset;
  dataset.putAndInsertString(DCM_TransactionUID, "1.2.3.99");
  addReferenced(dataset, DCM_ReferencedSOPSequence, UID_CTImageStorage, "1.2.3.1");
  addReferenced(dataset, DCM_ReferencedSOPSequence, UID_CTImageStorage, "1.2.3.2");
  addReferenced(dataset, DCM_FailedSOPSequence, UID_CTImageStorage, "1.2.3.3", 0x0112);

  CommitmentReport report = parseEventReport(dataset);
  EXPECT_EQ(report.transactionUid, "1.2.3.99");
  EXPECT_EQ(report.committed, (std::vector<std::string>{"1.2.3.1", "1.2.3.2"}));
  ASSERT_EQ(report.failed.size(), 1u);
  EXPECT_EQ(report.failed[0].sopInstanceUid, "1.2.3.3");
  EXPECT_EQ(report.failed[0].sopClassUid, UID_CTImageStorage);
  EXPECT_EQ(report.failed[0].reason, 0x0112);
}

TEST(StorageCommitmentReport, EmptyDataSetGivesEmptyReport) {
  DcmDataset dataset;
  CommitmentReport report = parseEventReport(dataset);
  EXPECT_TRUE(report.transactionUid.empty());
  EXPECT_TRUE(report.committed.empty());
  EXPECT_TRUE(report.failed.empty());
}

// The JSON Orthanc 1.10.1 answers for GET /storage-commitment/{uid}, as seen here.
TEST(StorageCommitmentReport, ParsesOrthancJson) {
  Json::Value json;
  json["Status"] = "Failure";
  json["RemoteAET"] = "PEER";
  Json::Value success;
  success["SOPClassUID"] = UID_CTImageStorage;
  success["SOPInstanceUID"] = "1.2.3.1";
  json["Success"].append(success);
  Json::Value failure;
  failure["SOPClassUID"] = UID_CTImageStorage;
  failure["SOPInstanceUID"] = "1.2.3.2";
  failure["FailureReason"] = 274;
  failure["Description"] = "One or more of the elements in the Referenced SOP Instance Sequence was not available";
  json["Failures"].append(failure);

  std::optional<CommitmentReport> report = parseOrthancReport("1.2.3.99", json);
  ASSERT_TRUE(report);
  EXPECT_EQ(report->transactionUid, "1.2.3.99");
  EXPECT_EQ(report->committed, std::vector<std::string>{"1.2.3.1"});
  ASSERT_EQ(report->failed.size(), 1u);
  EXPECT_EQ(report->failed[0].reason, 0x0112);
}

TEST(StorageCommitmentReport, PendingOrthancReportIsNotAReport) {
  Json::Value json;
  json["Status"] = "Pending";
  json["Success"] = Json::arrayValue;
  json["Failures"] = Json::arrayValue;
  EXPECT_FALSE(parseOrthancReport("1.2.3", json));
  EXPECT_FALSE(parseOrthancReport("1.2.3", Json::Value("not an object")));
}

TEST(StorageCommitmentJudge, CommittedIsDelivered) {
  CommitmentReport report{"1.9", {"1.2.3.1"}, {}};
  SendResult result = judgeCommitment(report, "1.2.3.1", "PACS 127.0.0.1:104");
  EXPECT_EQ(result.outcome, SendOutcome::Delivered);
  EXPECT_TRUE(result.detail.empty());
}

TEST(StorageCommitmentJudge, FailedIsRetriedWithTheReason) {
  CommitmentReport report{"1.9", {}, {{UID_CTImageStorage, "1.2.3.1", 0x0213}}};
  SendResult result = judgeCommitment(report, "1.2.3.1", "PACS 127.0.0.1:104");
  EXPECT_EQ(result.outcome, SendOutcome::Retry);
  EXPECT_NE(result.detail.find("resource limitation"), std::string::npos) << result.detail;
  EXPECT_NE(result.detail.find("0x0213"), std::string::npos) << result.detail;
  EXPECT_NE(result.detail.find("PACS 127.0.0.1:104"), std::string::npos) << result.detail;
  EXPECT_NE(result.detail.find("1.9"), std::string::npos) << result.detail;
}

TEST(StorageCommitmentJudge, MissingFromTheReportIsRetried) {
  CommitmentReport report{"1.9", {"1.2.3.7"}, {}};
  SendResult result = judgeCommitment(report, "1.2.3.1", "PACS");
  EXPECT_EQ(result.outcome, SendOutcome::Retry);
  EXPECT_NE(result.detail.find("does not list the instance"), std::string::npos) << result.detail;
}

TEST(StorageCommitmentJudge, FailureReasonsInWords) {
  EXPECT_NE(commitmentFailureText(0x0110).find("processing failure"), std::string::npos);
  EXPECT_NE(commitmentFailureText(0x0112).find("no such object instance"), std::string::npos);
  EXPECT_NE(commitmentFailureText(0x0122).find("SOP class not supported"), std::string::npos);
  EXPECT_NE(commitmentFailureText(0x0119).find("class/instance conflict"), std::string::npos);
  EXPECT_NE(commitmentFailureText(0x0131).find("duplicate transaction"), std::string::npos);
  EXPECT_NE(commitmentFailureText(0x0999).find("0x0999"), std::string::npos);
}

TEST(StorageCommitmentJudge, RequestStatus) {
  EXPECT_EQ(classifyCommitmentRequestStatus(0x0000, "P").outcome, SendOutcome::Delivered);
  SendResult refused = classifyCommitmentRequestStatus(0x0118, "P");
  EXPECT_EQ(refused.outcome, SendOutcome::Permanent);
  EXPECT_NE(refused.detail.find("\"StorageCommitment\": false"), std::string::npos) << refused.detail;
  EXPECT_EQ(classifyCommitmentRequestStatus(0x0211, "P").outcome, SendOutcome::Permanent);
  EXPECT_EQ(classifyCommitmentRequestStatus(0x0110, "P").outcome, SendOutcome::Retry);
  EXPECT_EQ(classifyCommitmentRequestStatus(0x0213, "P").outcome, SendOutcome::Retry);
}

// ---------------------------------------------------------------------------
// DicomDestination against an in-process peer.

enum class PeerMode {
  ReportOnAssociation,  // N-EVENT-REPORT right after the N-ACTION response
  FailOnAssociation,    // the same, listing the instance as failed (0x0110)
  NoReport,             // accepts the request, never reports
  NoCommitment,         // storage only: refuses the commitment SOP class
};

using testdata::freeTcpPort;

class CommitmentPeer : public DcmSCP {
 public:
  CommitmentPeer(PeerMode mode, int port) : mode_(mode) {
    setPort(static_cast<Uint16>(port));
    setAETitle("PEER");
    setConnectionBlockingMode(DUL_NOBLOCK);
    setConnectionTimeout(1);
    OFList<OFString> syntaxes;
    syntaxes.push_back(UID_LittleEndianExplicitTransferSyntax);
    syntaxes.push_back(UID_LittleEndianImplicitTransferSyntax);
    addPresentationContext(UID_CTImageStorage, syntaxes);
    addPresentationContext(UID_MRImageStorage, syntaxes);
    if (mode != PeerMode::NoCommitment) addPresentationContext(UID_StorageCommitmentPushModelSOPClass, syntaxes);
  }

  void stop() { stop_ = true; }
  int stored() const { return stored_; }
  int actions() const { return actions_; }
  int committed() const { return committed_; }  // instances listed in all N-ACTIONs

 protected:
  OFBool stopAfterConnectionTimeout() override { return stop_.load(); }
  OFBool stopAfterCurrentAssociation() override { return stop_.load(); }

  OFCondition handleIncomingCommand(T_DIMSE_Message* message, const DcmPresentationContextInfo& info) override {
    const T_ASC_PresentationContextID id = info.presentationContextID;
    if (message->CommandField == DIMSE_C_STORE_RQ) {
      DcmDataset* raw = nullptr;
      OFCondition cond = receiveSTORERequest(message->msg.CStoreRQ, id, raw);
      std::unique_ptr<DcmDataset> dataset(raw);
      if (cond.bad()) return cond;
      ++stored_;
      return sendSTOREResponse(id, message->msg.CStoreRQ, STATUS_Success);
    }
    if (message->CommandField == DIMSE_N_ACTION_RQ) {
      DcmDataset* raw = nullptr;
      Uint16 actionType = 0;
      OFCondition cond = receiveACTIONRequest(message->msg.NActionRQ, id, raw, actionType);
      std::unique_ptr<DcmDataset> request(raw);
      if (cond.bad()) return cond;
      ++actions_;
      cond = sendACTIONResponse(id, message->msg.NActionRQ.MessageID, UID_StorageCommitmentPushModelSOPClass,
                                UID_StorageCommitmentPushModelSOPInstance, STATUS_Success);
      if (cond.bad() || mode_ == PeerMode::NoReport || !request) return cond;
      OFString transaction;
      request->findAndGetOFString(DCM_TransactionUID, transaction);
      DcmDataset report;
      report.putAndInsertString(DCM_TransactionUID, transaction.c_str());
      bool fail = mode_ == PeerMode::FailOnAssociation;
      DcmItem* item = nullptr;
      for (signed long i = 0; request->findAndGetSequenceItem(DCM_ReferencedSOPSequence, item, i).good() && item;
           ++i) {
        OFString sopClass, sopInstance;
        item->findAndGetOFString(DCM_ReferencedSOPClassUID, sopClass);
        item->findAndGetOFString(DCM_ReferencedSOPInstanceUID, sopInstance);
        addReferenced(report, fail ? DCM_FailedSOPSequence : DCM_ReferencedSOPSequence, sopClass.c_str(),
                      sopInstance.c_str(), fail ? 0x0110 : -1);
        ++committed_;
      }
      Uint16 status = 0;
      return sendEVENTREPORTRequest(id, UID_StorageCommitmentPushModelSOPInstance, 1000, fail ? 2 : 1, &report,
                                    status);
    }
    return DcmSCP::handleIncomingCommand(message, info);
  }

 private:
  PeerMode mode_;
  std::atomic<bool> stop_{false};
  std::atomic<int> stored_{0};
  std::atomic<int> actions_{0};
  std::atomic<int> committed_{0};
};

// Runs a CommitmentPeer on its own thread for the test's lifetime.
class RunningPeer {
 public:
  explicit RunningPeer(PeerMode mode) : port_(freeTcpPort()), peer_(mode, port_) {
    OFLog::configure(OFLogger::WARN_LOG_LEVEL);  // DCMTK's per-message INFO lines drown the test output
    thread_ = std::thread([this] { peer_.listen(); });
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  ~RunningPeer() {
    peer_.stop();
    thread_.join();
  }
  int port() const { return port_; }
  CommitmentPeer& peer() { return peer_; }

 private:
  int port_;
  CommitmentPeer peer_;
  std::thread thread_;
};

// Reports from "Orthanc": whatever the test put there.
class FakeReports : public CommitmentReports {
 public:
  std::optional<CommitmentReport> find(const std::string& transactionUid) override {
    std::lock_guard<std::mutex> lock(mutex_);
    ++lookups_;
    if (!commitAll_) return std::nullopt;
    return CommitmentReport{transactionUid, {sopInstance_}, {}};
  }
  bool sleep(std::chrono::milliseconds duration) override {
    std::this_thread::sleep_for(duration);
    return true;
  }
  std::string diagnose(const std::string& peerAet) override { return "diagnosis for " + peerAet; }
  std::optional<std::string> request(const std::string& peerAet, int, const std::vector<CommitItem>& instances,
                                     std::chrono::seconds) override {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!knowsPeer_) return std::nullopt;
    for (const CommitItem& item : instances) requested_.push_back(peerAet + " " + item.sopInstanceUid);
    return std::string("1.2.3.4.5.") + std::to_string(requested_.size());
  }

  void knowPeer() {
    std::lock_guard<std::mutex> lock(mutex_);
    knowsPeer_ = true;
  }
  std::vector<std::string> requested() {
    std::lock_guard<std::mutex> lock(mutex_);
    return requested_;
  }

  void commit(const std::string& sopInstance) {
    std::lock_guard<std::mutex> lock(mutex_);
    commitAll_ = true;
    sopInstance_ = sopInstance;
  }
  int lookups() {
    std::lock_guard<std::mutex> lock(mutex_);
    return lookups_;
  }

 private:
  std::mutex mutex_;
  bool commitAll_ = false;
  std::string sopInstance_;
  int lookups_ = 0;
  bool knowsPeer_ = false;
  std::vector<std::string> requested_;
};

DestinationConfig peerConfig(int port, int commitTimeoutSeconds) {
  DestinationConfig config;
  config.name = "pacs";
  DicomSettings& dicom = editSettings<DicomSettings>(config);
  dicom.aet = "PEER";
  dicom.host = "127.0.0.1";
  dicom.port = port;
  dicom.timeout = std::chrono::seconds(5);
  dicom.storageCommitment = true;
  dicom.storageCommitmentTimeout = std::chrono::seconds(commitTimeoutSeconds);
  return config;
}

struct Instance {
  std::string bytes;
  std::string sopInstanceUid;
};

Instance ctInstance(uint32_t seed) {
  testdata::ImageSpec spec;
  spec.name = "ct";
  spec.rows = 16;
  spec.columns = 16;
  spec.seed = seed;
  spec = testdata::withIdentity(spec);
  return {testdata::makeInstance(spec), spec.sopInstanceUid};
}

SendResult sendOne(DicomDestination& destination, const Instance& instance) {
  return destination.send(Outgoing{instance.bytes, UID_CTImageStorage, instance.sopInstanceUid,
                                   ts::kExplicitVRLittleEndian});
}

TEST(StorageCommitmentDestination, ReportOnTheSameAssociationDelivers) {
  RunningPeer peer(PeerMode::ReportOnAssociation);
  DicomDestination destination(peerConfig(peer.port(), 10), "ROUTER");
  for (uint32_t seed = 1; seed <= 3; ++seed) {
    SendResult result = sendOne(destination, ctInstance(seed));
    EXPECT_EQ(result.outcome, SendOutcome::Delivered) << result.detail;
  }
  EXPECT_EQ(peer.peer().stored(), 3);
  EXPECT_EQ(peer.peer().actions(), 3);
  EXPECT_EQ(destination.associationsOpened(), 1);  // the association stays open and is reused
}

TEST(StorageCommitmentDestination, ABatchIsCommittedInOneTransaction) {
  RunningPeer peer(PeerMode::ReportOnAssociation);
  DicomDestination destination(peerConfig(peer.port(), 10), "ROUTER");
  EXPECT_EQ(destination.maxBatch(), DicomDestination::kCommitmentBatch);
  std::vector<Instance> instances;
  std::vector<Outgoing> batch;
  for (uint32_t seed = 11; seed <= 14; ++seed) instances.push_back(ctInstance(seed));
  for (const Instance& i : instances) {
    batch.push_back(Outgoing{i.bytes, UID_CTImageStorage, i.sopInstanceUid, ts::kExplicitVRLittleEndian});
  }
  std::vector<SendResult> results = destination.sendBatch(batch);
  ASSERT_EQ(results.size(), 4u);
  for (const SendResult& result : results) EXPECT_EQ(result.outcome, SendOutcome::Delivered) << result.detail;
  EXPECT_EQ(peer.peer().stored(), 4);
  EXPECT_EQ(peer.peer().actions(), 1);  // one request, one report for the four
  EXPECT_EQ(peer.peer().committed(), 4);
}

TEST(StorageCommitmentDestination, FailedSopSequenceRetriesWithTheReason) {
  RunningPeer peer(PeerMode::FailOnAssociation);
  DicomDestination destination(peerConfig(peer.port(), 10), "ROUTER");
  SendResult result = sendOne(destination, ctInstance(7));
  EXPECT_EQ(result.outcome, SendOutcome::Retry);
  EXPECT_NE(result.detail.find("processing failure"), std::string::npos) << result.detail;
  EXPECT_NE(result.detail.find("0x0110"), std::string::npos) << result.detail;
}

TEST(StorageCommitmentDestination, NoReportRetriesAfterTheTimeout) {
  RunningPeer peer(PeerMode::NoReport);
  FakeReports reports;
  DicomDestination destination(peerConfig(peer.port(), 1), "ROUTER", &reports);
  auto start = std::chrono::steady_clock::now();
  SendResult result = sendOne(destination, ctInstance(8));
  auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(result.outcome, SendOutcome::Retry);
  EXPECT_NE(result.detail.find("no storage commitment report from PEER"), std::string::npos) << result.detail;
  EXPECT_NE(result.detail.find("within 1 s"), std::string::npos) << result.detail;
  EXPECT_NE(result.detail.find("diagnosis for PEER"), std::string::npos) << result.detail;
  EXPECT_GE(elapsed, std::chrono::milliseconds(950));
  EXPECT_LT(elapsed, std::chrono::seconds(4));
  EXPECT_GT(reports.lookups(), 3);  // Orthanc's reports were looked at while waiting
  EXPECT_EQ(peer.peer().stored(), 1);
}

TEST(StorageCommitmentDestination, ReportReadBackFromOrthancDelivers) {
  RunningPeer peer(PeerMode::NoReport);
  FakeReports reports;
  Instance instance = ctInstance(9);
  reports.commit(instance.sopInstanceUid);
  DicomDestination destination(peerConfig(peer.port(), 10), "ROUTER", &reports);
  SendResult result = sendOne(destination, instance);
  EXPECT_EQ(result.outcome, SendOutcome::Delivered) << result.detail;
}

TEST(StorageCommitmentDestination, RequestThroughOrthancWhenItKnowsThePeer) {
  RunningPeer peer(PeerMode::NoReport);
  FakeReports reports;
  reports.knowPeer();
  Instance instance = ctInstance(12);
  reports.commit(instance.sopInstanceUid);
  DicomDestination destination(peerConfig(peer.port(), 10), "ROUTER", &reports);
  SendResult result = sendOne(destination, instance);
  EXPECT_EQ(result.outcome, SendOutcome::Delivered) << result.detail;
  EXPECT_EQ(reports.requested(), std::vector<std::string>{"PEER " + instance.sopInstanceUid});
  EXPECT_EQ(peer.peer().actions(), 0);  // no N-ACTION of our own
  EXPECT_EQ(peer.peer().stored(), 1);
}

TEST(StorageCommitmentDestination, PeerWithoutStorageCommitmentIsPermanentBeforeSending) {
  RunningPeer peer(PeerMode::NoCommitment);
  DicomDestination destination(peerConfig(peer.port(), 10), "ROUTER");
  SendResult result = sendOne(destination, ctInstance(10));
  EXPECT_EQ(result.outcome, SendOutcome::Permanent);
  EXPECT_NE(result.detail.find("does not support storage commitment"), std::string::npos) << result.detail;
  EXPECT_NE(result.detail.find("\"StorageCommitment\": false"), std::string::npos) << result.detail;
  EXPECT_EQ(peer.peer().stored(), 0);  // nothing sent that could never count
}

TEST(StorageCommitmentDestination, OffMeansPlainCStore) {
  RunningPeer peer(PeerMode::NoCommitment);
  DestinationConfig config = peerConfig(peer.port(), 10);
  editSettings<DicomSettings>(config).storageCommitment = false;
  DicomDestination destination(config, "ROUTER");
  SendResult result = sendOne(destination, ctInstance(11));
  EXPECT_EQ(result.outcome, SendOutcome::Delivered) << result.detail;
  EXPECT_EQ(peer.peer().stored(), 1);
  EXPECT_EQ(peer.peer().actions(), 0);
}

}  // namespace
}  // namespace router
