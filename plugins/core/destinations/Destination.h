// Where an instance leaves the appliance. One class per destination kind
// behind this interface (each in its folder here), made by makeDestination()
// (DestinationKind.h) from configuration.
//
// Thread safety: a Destination object is used by one delivery worker at a
// time (each worker owns its own, e.g. its own DICOM association); different
// objects for the same destination may run concurrently.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "plugins/core/destinations/DestinationConfig.h"

namespace router {

// One instance ready to leave: already modified and transcoded.
struct Outgoing {
  const std::string& part10;  // DICOM Part-10 file
  std::string sopClassUid;
  std::string sopInstanceUid;
  std::string transferSyntax;  // UID of part10
};

// How the queue must act on a send: classified once, where the error is seen.
enum class SendOutcome {
  Delivered,  // the destination has it (warnings included)
  Retry,      // may succeed later: network, association, out of resources
  Permanent,  // will never succeed as is: refused SOP class, bad data -> dead letter
};

struct SendResult {
  SendOutcome outcome = SendOutcome::Delivered;
  std::string detail;        // empty on plain success; what happened otherwise
  uint16_t dimseStatus = 0;  // DICOM destinations: the C-STORE status, if one came back
  bool warning = false;      // delivered with a warning status (0xB000, 0x0107, ...)
  // Retry although the peer did answer (its storage commitment report did
  // not come): not a connection failure, so not one for the circuit breaker.
  bool answered = false;
};

class Destination {
 public:
  virtual ~Destination() = default;
  virtual SendResult send(const Outgoing& instance) = 0;
  // Destinations that can send several instances in one request (STOW-RS)
  // say how many; sendBatch() answers one result per instance, in order.
  virtual int maxBatch() const { return 1; }
  virtual std::vector<SendResult> sendBatch(const std::vector<Outgoing>& instances) {
    std::vector<SendResult> results;
    for (const Outgoing& instance : instances) results.push_back(send(instance));
    return results;
  }
  // A cheap liveness check (C-ECHO, HTTP GET). True when the destination answers.
  virtual bool probe() = 0;
  // Close idle connections (associations) now.
  virtual void close() {}
  // Connections (DICOM associations) opened so far, for metrics; 0 if n/a.
  virtual int associationsOpened() const { return 0; }
  // Transfer syntaxes the destination was seen to accept for a SOP class
  // (DICOM negotiation); empty when unknown or not applicable.
  virtual std::vector<std::string> acceptedTransferSyntaxes(const std::string& /*sopClassUid*/) const {
    return {};
  }
};

// Classifies a C-STORE response status (PS3.4 Annex B / PS3.7 Annex C).
SendResult classifyDimseStatus(uint16_t status);
// A DIMSE status or failure reason as operators read it: "0xA700".
std::string statusHex(uint16_t status);

}  // namespace router
