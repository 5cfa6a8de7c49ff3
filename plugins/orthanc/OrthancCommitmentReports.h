// CommitmentReports read from Orthanc: a peer that answers a storage
// commitment request on its own association sends the N-EVENT-REPORT to our
// AE title, i.e. to Orthanc's DICOM server. Orthanc 1.10 keeps every report it
// accepts, whoever started the transaction, and serves it at
// GET /storage-commitment/{transactionUid} (in memory, the newest
// "StorageCommitmentReportsSize" ones, 100 by default). It accepts the report
// only from an AE title declared in its "DicomModalities"; for such a peer the
// request itself goes through POST /modalities/{alias}/storage-commitment, so
// that the transaction is known (pending) before the report arrives.
//
// Thread safety: all methods may be called from any thread.
#pragma once

#include <orthanc/OrthancCPlugin.h>

#include <condition_variable>
#include <mutex>

#include <json/value.h>

#include "plugins/core/destinations/dicom/StorageCommitment.h"

namespace router::orthanc {

class OrthancCommitmentReports : public CommitmentReports {
 public:
  explicit OrthancCommitmentReports(OrthancPluginContext* context) : context_(context) {}

  std::optional<std::string> request(const std::string& peerAet, int peerPort,
                                     const std::vector<CommitItem>& instances, std::chrono::seconds timeout) override;
  std::optional<CommitmentReport> find(const std::string& transactionUid) override;
  bool sleep(std::chrono::milliseconds duration) override;
  std::string diagnose(const std::string& peerAet) override;

  // Ends every wait (Orthanc is stopping); later sleeps return false at once.
  void stop();

 private:
  // Orthanc's DicomModalities (GET /modalities?expand); null if unreadable.
  Json::Value modalities();

  OrthancPluginContext* context_;
  std::mutex mutex_;
  std::condition_variable stopped_;
  bool stopping_ = false;
};

}  // namespace router::orthanc
