// Storage Commitment Push Model (PS3.4 Annex J) for DICOM destinations with
// "StorageCommitment": true: what a commitment report says, how it decides
// the outcome of a send, and where reports that did not come back on our own
// association can be read.
//
// Why an interface: a peer answers an N-ACTION with an N-EVENT-REPORT either
// on the same association (some PACS, while it is open) or, like Orthanc, on a
// new association it opens to the requester's AE title, i.e. to Orthanc's own
// DICOM port, which the plugin does not own. Orthanc 1.10 keeps every report
// it receives, whoever created the transaction UID, in its storage
// commitment reports (GET /storage-commitment/{transactionUid}); the plugin
// reads them back through CommitmentReports (plugins/orthanc).
#pragma once

#include <json/value.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "plugins/core/destinations/Destination.h"

class DcmDataset;

namespace router {

// Storage Commitment Push Model SOP Class and its well-known instance.
inline constexpr const char* kStorageCommitmentSopClass = "1.2.840.10008.1.20.1";
inline constexpr const char* kStorageCommitmentSopInstance = "1.2.840.10008.1.20.1.1";

struct CommitmentFailure {
  std::string sopClassUid;
  std::string sopInstanceUid;
  uint16_t reason = 0;  // Failure Reason (0008,1197)
};

// One N-EVENT-REPORT of the Storage Commitment Push Model.
// One stored instance to be committed.
struct CommitItem {
  std::string sopClassUid;
  std::string sopInstanceUid;
};

struct CommitmentReport {
  std::string transactionUid;
  std::vector<std::string> committed;  // SOP Instance UIDs in the Referenced SOP Sequence
  std::vector<CommitmentFailure> failed;
};

// Where reports that reached Orthanc's DICOM server can be read, and how a
// sender waits between looks.
//
// Thread safety: implementations must allow concurrent calls from all
// delivery workers.
class CommitmentReports {
 public:
  virtual ~CommitmentReports() = default;
  // Sends the storage commitment request (N-ACTION) through Orthanc's own
  // SCU when Orthanc knows the peer as a modality (AE title, preferably the
  // same port). Orthanc then files the transaction as pending, so that
  // find() is quiet while waiting (an unknown transaction UID makes Orthanc
  // log an error on every look). Returns the transaction UID, or nothing when
  // Orthanc does not know the peer (the caller sends the N-ACTION itself).
  // Throws RouterError, in words for the operator, when the request fails.
  virtual std::optional<std::string> request(const std::string& /*peerAet*/, int /*peerPort*/,
                                             const std::vector<CommitItem>& /*instances*/,
                                             std::chrono::seconds /*timeout*/) {
    return std::nullopt;
  }
  // The report for this transaction once one has arrived; nothing while none
  // has (or while it is still pending).
  virtual std::optional<CommitmentReport> find(const std::string& transactionUid) = 0;
  // Waits up to `duration`; false when the appliance is stopping (give up).
  virtual bool sleep(std::chrono::milliseconds duration) = 0;
  // What may keep a report from `peerAet` from arriving, for the timeout
  // message (e.g. Orthanc refuses N-EVENT-REPORTs from AETs it does not
  // know); empty when there is nothing to add.
  virtual std::string diagnose(const std::string& /*peerAet*/) { return {}; }
};

// Reads an N-EVENT-REPORT data set (Transaction UID, Referenced SOP Sequence,
// Failed SOP Sequence). Event type 1 = all committed, 2 = some failed; the
// sequences say which, so the type itself is not needed.
CommitmentReport parseEventReport(DcmDataset& dataset);

// Reads Orthanc's JSON for GET /storage-commitment/{uid}. Nothing while its
// "Status" is "Pending" (a transaction Orthanc started itself).
std::optional<CommitmentReport> parseOrthancReport(const std::string& transactionUid, const Json::Value& json);

// The outcome of a send once the report is in: Delivered when the instance
// is in the committed list, Retry (with the peer's reason) when it failed or
// is missing from the report.
SendResult judgeCommitment(const CommitmentReport& report, const std::string& sopInstanceUid,
                           const std::string& peer);

// Words for a Failure Reason (PS3.3 C.14.1.1).
std::string commitmentFailureText(uint16_t reason);

// Classifies the N-ACTION response status of a storage commitment request.
SendResult classifyCommitmentRequestStatus(uint16_t status, const std::string& peer);

}  // namespace router
