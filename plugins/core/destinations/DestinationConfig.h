// The configuration of one destination: what every kind shares (retry,
// circuit breaker, failover, what to do when a conversion fails) and the
// settings of its kind (dicom, dicomweb, orthanc, folder), which the kind's
// own folder defines, parses and turns into a Destination object.
//
// Thread safety: immutable once parsed; every thread may read it.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "plugins/core/destinations/DeliveryWindow.h"
#include "plugins/core/Error.h"
#include "plugins/core/model/StatusField.h"

namespace router {

class Destination;
class CommitmentReports;
struct DestinationConfig;

struct RetryPolicy {
  std::chrono::seconds initialDelay{5};
  double multiplier = 2.0;
  std::chrono::seconds maxDelay{600};
  int maxAttempts = 20;
};

// After `failures` consecutive sends the destination did not answer, it is
// marked down: no job is taken for it, and it is probed (C-ECHO, HTTP GET)
// every probeInterval until it answers.
struct CircuitBreaker {
  int failures = 3;
  std::chrono::seconds probeInterval{10};
};

enum class TranscodeFailurePolicy { SendOriginal, Fail };

// What a Destination object may need from the appliance when it is made.
struct DestinationContext {
  std::string localAet;  // our calling AE title
  // Storage commitment reports that reached Orthanc's DICOM port; may be null.
  CommitmentReports* commitments = nullptr;
};

// The part of a destination's configuration that belongs to its kind. Each
// kind derives its own (DicomSettings, HttpSettings, FolderSettings) and
// answers these questions for the rest of the appliance, so that nothing
// outside the kind's folder asks which kind a destination is.
class DestinationSettings {
 public:
  virtual ~DestinationSettings() = default;
  // The kind's name, as written in "Type".
  virtual std::string kind() const = 0;
  virtual std::unique_ptr<Destination> make(const DestinationConfig& config,
                                            const DestinationContext& context) const = 0;
  // Delivery threads this destination runs at once (e.g. DICOM associations).
  virtual int lanes() const { return 1; }
  // Transfer syntaxes the destination is configured to accept, in order of
  // preference; empty when it takes what it is given (or learns it).
  virtual std::vector<std::string> preferredTransferSyntaxes() const { return {}; }
  // Whether its Destination objects open DICOM associations (counted in
  // associations_opened_total).
  virtual bool opensAssociations() const { return false; }
  // What GET /router/status shows of these settings, in order.
  virtual StatusFields status() const = 0;
};

struct DestinationConfig {
  std::string name;
  std::shared_ptr<const DestinationSettings> settings;

  TranscodeFailurePolicy onTranscodeFailure = TranscodeFailurePolicy::SendOriginal;
  RetryPolicy retry;
  CircuitBreaker circuitBreaker;
  // Once this destination has been down (circuit open) for failoverAfter, its
  // waiting jobs move to the destination named here; empty = no failover.
  std::string failover;
  std::chrono::seconds failoverAfter{300};
  // When it receives (local time); empty = always. Urgent routes go anyway.
  std::vector<DeliveryWindow> windows;

  std::string kind() const { return settings ? settings->kind() : "none"; }
  // The settings as the kind that made them knows them; throws RouterError
  // when this destination is of another kind (a programming error).
  template <class Settings>
  const Settings& settingsAs() const {
    auto* typed = dynamic_cast<const Settings*>(settings.get());
    if (!typed) throw RouterError("destination " + name + ": its settings are not those of this kind");
    return *typed;
  }
};

}  // namespace router
