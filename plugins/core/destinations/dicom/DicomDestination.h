// DICOM destination: C-STORE SCU on DCMTK's DcmSCU. The association is opened
// on the first send and kept for the following ones; when an instance needs a
// (SOP class, transfer syntax) the open association did not negotiate, it is
// released and a new one is negotiated with the grown set of presentation
// contexts. What the peer accepted is remembered per SOP class.
//
// Sockets get TCP_NODELAY and a send timeout through our own DCMTK transport
// layer (no environment variable needed), and reads run in DCMTK's
// non-blocking mode with the configured timeout, so a dead peer cannot hang
// a worker; that layer and the SCU settings live in DicomTransport.h. With a
// "Tls" section every association of the object (C-STORE, storage
// commitment, C-ECHO probes) runs over DICOM TLS (DicomTls.h); a refused
// certificate is a permanent failure, a failed handshake otherwise retries.
//
// With "StorageCommitment" on, the Storage Commitment Push Model SOP class is
// proposed on every association and a C-STORE counts as delivered only once
// the peer's N-EVENT-REPORT lists the instance as committed: the report is
// awaited on the association itself and through CommitmentReports (the
// report Orthanc received on its own DICOM port), whichever comes first
// (that exchange: DicomDestinationCommitment.cpp).
//
// Thread safety: one object = one association, used by one delivery worker at
// a time (send/probe/close are not concurrent-safe). acceptedTransferSyntaxes()
// and associationsOpened() may be called from any thread.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "plugins/core/destinations/Destination.h"
#include "plugins/core/destinations/dicom/DicomKind.h"
#include "plugins/core/destinations/dicom/StorageCommitment.h"

class DcmDataset;

namespace router {

class AssociationTransport;
class DicomScu;
class PolledConnection;

class DicomDestination : public Destination {
 public:
  // reports: where storage commitment reports sent to Orthanc can be read;
  // may be null (then only reports on our own association count).
  DicomDestination(const DestinationConfig& config, std::string localAet, CommitmentReports* reports = nullptr);
  ~DicomDestination() override;
  DicomDestination(const DicomDestination&) = delete;
  DicomDestination& operator=(const DicomDestination&) = delete;

  SendResult send(const Outgoing& instance) override;
  // With StorageCommitment: C-STOREs, then one commitment transaction for
  // every instance stored, so a batch costs one report wait, not one each.
  int maxBatch() const override { return settings_.storageCommitment ? kCommitmentBatch : 1; }
  std::vector<SendResult> sendBatch(const std::vector<Outgoing>& instances) override;
  static constexpr int kCommitmentBatch = 16;
  // C-ECHO on its own short association.
  bool probe() override;
  // Releases the open association, if any.
  void close() override;

  // Transfer syntax UIDs the peer accepted for this SOP class at the last
  // negotiation that proposed it; empty if never proposed or all refused.
  std::vector<std::string> acceptedTransferSyntaxes(const std::string& sopClassUid) const override;

  // Associations successfully negotiated by this object (for tests, metrics).
  int associationsOpened() const override { return associationsOpened_.load(); }

 private:
  struct Context {
    std::string sopClass;
    std::vector<std::string> proposed;
    std::string accepted;  // empty: refused
  };

  // Returns a failure result, or nothing when an association is open.
  bool openAssociation(SendResult& failure);
  void dropAssociation(bool release);
  std::vector<Context> buildProposal(const std::string& firstSopClass) const;
  // Presentation context id usable for (sop, ts) on the open association; 0 if none.
  unsigned char findContext(const std::string& sopClass, const std::string& transferSyntax) const;
  std::string peerName() const;
  // Whether the open association accepted any context for this SOP class.
  bool negotiated(const std::string& sopClass) const;
  SendResult refusedResult(const std::string& sopClass, const std::string& transferSyntax) const;
  // The C-STORE alone; `stored` gets the instance when it was stored.
  SendResult store(const Outgoing& instance, CommitItem* stored);
  // Storage commitment of stored instances: N-ACTION, then the report; one
  // result per instance, in order.
  std::vector<SendResult> commit(const std::vector<CommitItem>& instances);
  std::vector<SendResult> awaitReport(const std::string& transactionUid, const std::vector<CommitItem>& instances);

  std::string name_;
  DicomSettings settings_;
  std::string localAet_;
  CommitmentReports* reports_;
  // Plain TCP or TLS (one TLS context per object); declared before scu_ so
  // that it outlives the association that uses it.
  std::unique_ptr<AssociationTransport> transport_;
  std::unique_ptr<DicomScu> scu_;  // the open association, if any
  PolledConnection* connection_ = nullptr;  // its socket (owned by scu_)
  std::vector<Context> contexts_;  // of the open association, index i = context id 2i+1

  // SOP classes seen, most recently used last, and the syntaxes each needed
  // beyond the always-proposed uncompressed pair.
  std::vector<std::string> sopClasses_;
  std::map<std::string, std::set<std::string>> extraSyntaxes_;

  mutable std::mutex acceptedMutex_;
  std::map<std::string, std::vector<std::string>> accepted_;
  std::atomic<int> associationsOpened_{0};
};

}  // namespace router
