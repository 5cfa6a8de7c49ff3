// Storage commitment reports: parsing (DICOM and Orthanc's JSON) and the
// decision they lead to (see StorageCommitment.h).
#include "plugins/core/destinations/dicom/StorageCommitment.h"

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcdatset.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcitem.h>

#include <algorithm>

#include "plugins/core/dicom/Uid.h"

namespace router {
namespace {

// Every UID of a report is compared with the ones we sent: all trimmed.
std::string stringOf(DcmItem& item, const DcmTagKey& tag) { return readUid(item, tag); }

}  // namespace

CommitmentReport parseEventReport(DcmDataset& dataset) {
  CommitmentReport report;
  report.transactionUid = stringOf(dataset, DCM_TransactionUID);
  DcmItem* item = nullptr;
  for (long i = 0; dataset.findAndGetSequenceItem(DCM_ReferencedSOPSequence, item, i).good() && item; ++i) {
    std::string uid = stringOf(*item, DCM_ReferencedSOPInstanceUID);
    if (!uid.empty()) report.committed.push_back(uid);
  }
  for (long i = 0; dataset.findAndGetSequenceItem(DCM_FailedSOPSequence, item, i).good() && item; ++i) {
    CommitmentFailure failure;
    failure.sopClassUid = stringOf(*item, DCM_ReferencedSOPClassUID);
    failure.sopInstanceUid = stringOf(*item, DCM_ReferencedSOPInstanceUID);
    Uint16 reason = 0;
    if (item->findAndGetUint16(DCM_FailureReason, reason).good()) failure.reason = reason;
    if (!failure.sopInstanceUid.empty()) report.failed.push_back(failure);
  }
  return report;
}

std::optional<CommitmentReport> parseOrthancReport(const std::string& transactionUid, const Json::Value& json) {
  if (!json.isObject() || json["Status"].asString() == "Pending") return std::nullopt;
  CommitmentReport report;
  report.transactionUid = transactionUid;
  for (const Json::Value& success : json["Success"]) {
    std::string uid = trimUid(success["SOPInstanceUID"].asString());
    if (!uid.empty()) report.committed.push_back(uid);
  }
  for (const Json::Value& failed : json["Failures"]) {
    CommitmentFailure failure;
    failure.sopClassUid = trimUid(failed["SOPClassUID"].asString());
    failure.sopInstanceUid = trimUid(failed["SOPInstanceUID"].asString());
    failure.reason = static_cast<uint16_t>(failed["FailureReason"].asUInt());
    if (!failure.sopInstanceUid.empty()) report.failed.push_back(failure);
  }
  return report;
}

std::string commitmentFailureText(uint16_t reason) {
  switch (reason) {
    case 0x0110: return "processing failure";
    case 0x0112: return "no such object instance (the peer does not have it)";
    case 0x0213: return "resource limitation";
    case 0x0122: return "referenced SOP class not supported";
    case 0x0119: return "class/instance conflict";
    case 0x0131: return "duplicate transaction UID";
    default: return "failure reason " + statusHex(reason);
  }
}

SendResult judgeCommitment(const CommitmentReport& report, const std::string& sentUid,
                           const std::string& peer) {
  const std::string sopInstanceUid = trimUid(sentUid);
  SendResult result;
  if (std::find(report.committed.begin(), report.committed.end(), sopInstanceUid) != report.committed.end()) {
    return result;  // Delivered
  }
  result.outcome = SendOutcome::Retry;
  for (const CommitmentFailure& failure : report.failed) {
    if (failure.sopInstanceUid == sopInstanceUid) {
      result.dimseStatus = failure.reason;  // the peer answered: not a connection failure
      result.detail = peer + " stored the instance but did not commit to keep it: " +
                      commitmentFailureText(failure.reason) + " (" + statusHex(failure.reason) +
                      "), storage commitment transaction " + printableUid(report.transactionUid);
      return result;
    }
  }
  result.detail = "the storage commitment report of " + peer + " (transaction " + printableUid(report.transactionUid) +
                  ") does not list the instance " + printableUid(sopInstanceUid);
  return result;
}

SendResult classifyCommitmentRequestStatus(uint16_t status, const std::string& peer) {
  SendResult result;
  result.dimseStatus = status;
  if (status == 0x0000) return result;
  switch (status) {
    case 0x0112:  // no such SOP instance (the well-known one)
    case 0x0118:  // no such SOP class
    case 0x0119:  // class-instance conflict
    case 0x0123:  // no such action
    case 0x0211:  // unrecognized operation
      result.outcome = SendOutcome::Permanent;
      result.detail = peer + " refused the storage commitment request (" + statusHex(status) +
                      "): it does not support storage commitment; set \"StorageCommitment\": false for it";
      return result;
    default:
      result.outcome = SendOutcome::Retry;
      result.detail = peer + " did not accept the storage commitment request (N-ACTION status " + statusHex(status) + ")";
      return result;
  }
}

}  // namespace router
