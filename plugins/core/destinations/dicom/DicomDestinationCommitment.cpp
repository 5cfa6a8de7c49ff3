// DicomDestination's storage commitment exchange (PS3.4 J.3): the N-ACTION
// that asks the peer to commit the instances a batch stored, and the wait
// for its N-EVENT-REPORT, on our association and in Orthanc's reports.
//
// Apart from DicomDestination.cpp (association, proposal, C-STORE) because
// it is a second DIMSE conversation with its own timeout and its own way of
// failing, run once per batch after the C-STOREs; what a report says and how
// it decides an outcome is in StorageCommitment.h, which knows nothing of
// associations. These are members of DicomDestination: they use its open
// association and drop it when the exchange leaves it unusable.
#include "plugins/core/destinations/dicom/DicomDestination.h"

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcitem.h>
#include <dcmtk/dcmdata/dcuid.h>

#include <algorithm>
#include <chrono>
#include <optional>
#include <thread>

#include "plugins/core/destinations/dicom/DicomTransport.h"
#include "transcoders/TransferSyntax.h"

namespace router {

std::vector<SendResult> DicomDestination::commit(const std::vector<CommitItem>& instances) {
  SendResult result;
  result.outcome = SendOutcome::Retry;
  auto all = [&] { return std::vector<SendResult>(instances.size(), result); };
  unsigned char contextId = findContext(kStorageCommitmentSopClass, ts::kExplicitVRLittleEndian);
  if (!scu_ || contextId == 0) {
    result.detail = "stored on " + peerName() + " but the association ended before the storage commitment request";
    return all();
  }
  if (reports_ != nullptr) {
    // Through Orthanc when it knows the peer: see CommitmentReports::request().
    try {
      std::optional<std::string> transaction =
          reports_->request(settings_.aet, settings_.port, instances, settings_.timeout);
      if (transaction) return awaitReport(*transaction, instances);
    } catch (const std::exception& e) {
      result.detail = "stored on " + peerName() + " but the storage commitment request failed: " + e.what();
      return all();
    }
  }
  char uid[100];
  dcmGenerateUniqueIdentifier(uid);
  const std::string transactionUid = uid;

  DcmDataset request;
  bool built = request.putAndInsertString(DCM_TransactionUID, transactionUid.c_str()).good();
  for (const CommitItem& instance : instances) {
    DcmItem* item = nullptr;
    built = built && request.findOrCreateSequenceItem(DCM_ReferencedSOPSequence, item, -2).good() &&
            item != nullptr &&
            item->putAndInsertString(DCM_ReferencedSOPClassUID, instance.sopClassUid.c_str()).good() &&
            item->putAndInsertString(DCM_ReferencedSOPInstanceUID, instance.sopInstanceUid.c_str()).good();
  }
  if (!built) {
    result.detail = "cannot build the storage commitment request";
    return all();
  }
  Uint16 status = 0;
  // Action Type 1: Request Storage Commitment (PS3.4 J.3.2).
  OFCondition cond = scu_->sendACTIONRequest(contextId, kStorageCommitmentSopInstance, 1, &request, status);
  if (cond.bad()) {
    std::string text = conditionText(cond);
    dropAssociation(false);
    result.detail = "storage commitment request (N-ACTION) to " + peerName() + " failed: " + text;
    if (text.find("abort") != std::string::npos) {
      result.detail += " (the peer may not allow our AE title " + localAet_ + " to request storage commitment)";
    }
    return all();
  }
  SendResult accepted = classifyCommitmentRequestStatus(status, peerName());
  if (accepted.outcome != SendOutcome::Delivered) return std::vector<SendResult>(instances.size(), accepted);
  return awaitReport(transactionUid, instances);
}

// Waits for the N-EVENT-REPORT of one transaction: on our association (the
// peer may answer there while it is open) and in Orthanc's reports (the peer
// may open its own association to our AE title), polling both with a
// growing interval so that a quick peer costs a few milliseconds.
std::vector<SendResult> DicomDestination::awaitReport(const std::string& transactionUid,
                                                     const std::vector<CommitItem>& instances) {
  using namespace std::chrono;
  const auto deadline = steady_clock::now() + settings_.storageCommitmentTimeout;
  milliseconds interval{5};
  SendResult result;
  result.outcome = SendOutcome::Retry;
  auto all = [&] { return std::vector<SendResult>(instances.size(), result); };
  auto judged = [&](const CommitmentReport& report) {
    std::vector<SendResult> results;
    for (const CommitItem& instance : instances) {
      results.push_back(judgeCommitment(report, instance.sopInstanceUid, peerName()));
    }
    return results;
  };
  for (;;) {
    if (reports_ != nullptr) {
      std::optional<CommitmentReport> report;
      try {
        report = reports_->find(transactionUid);
      } catch (const std::exception& e) {
        result.detail = "cannot read the storage commitment report of " + peerName() + ": " + e.what();
        return all();
      }
      if (report) return judged(*report);
    }
    auto now = steady_clock::now();
    if (now >= deadline) break;
    milliseconds slice = std::min(interval, duration_cast<milliseconds>(deadline - now) + milliseconds(1));
    interval = std::min(interval * 2, milliseconds(500));
    if (reports_ != nullptr && !reports_->sleep(milliseconds(0))) {
      result.detail = "stopped while waiting for the storage commitment report of " + peerName();
      return all();
    }
    if (scu_ && scu_->isConnected() && connection_ != nullptr) {
      if (!connection_->readable(slice)) continue;
      DcmDataset* raw = nullptr;
      Uint16 eventType = 0;
      OFCondition cond = scu_->handleEVENTREPORTRequest(
          raw, eventType, static_cast<int>(std::max<long long>(1, settings_.timeout.count())));
      std::unique_ptr<DcmDataset> dataset(raw);
      if (cond.bad() || !dataset) {
        // The peer ended the association (or sent something else): the
        // report can still come through Orthanc.
        dropAssociation(false);
        continue;
      }
      CommitmentReport report = parseEventReport(*dataset);
      if (report.transactionUid == transactionUid) return judged(report);
      // A late report of an earlier, timed-out transaction: acknowledged, ignored.
    } else if (reports_ != nullptr) {
      if (!reports_->sleep(slice)) {
        result.detail = "stopped while waiting for the storage commitment report of " + peerName();
        return all();
      }
    } else {
      std::this_thread::sleep_for(slice);
    }
  }
  // A report arriving later on this association would be read as the answer
  // to the next C-STORE: end it.
  dropAssociation(true);
  result.answered = true;
  result.detail = "no storage commitment report from " + peerName() + " within " +
                  std::to_string(settings_.storageCommitmentTimeout.count()) + " s (transaction " + transactionUid +
                  "); check that " + settings_.aet + " can open an association back to our AE title " + localAet_ +
                  " (its address and DICOM port)";
  if (reports_ != nullptr) {
    std::string hint = reports_->diagnose(settings_.aet);
    if (!hint.empty()) result.detail += "; " + hint;
  }
  return all();
}

}  // namespace router
