// The "dicom" destination kind: C-STORE to a DICOM peer (DicomDestination),
// configured in Router.Destinations or taken from Orthanc's DicomModalities.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <json/value.h>

#include "plugins/core/destinations/DestinationKind.h"

namespace router {

struct DicomSettings final : DestinationSettings {
  std::string aet;
  std::string host;
  int port = 0;
  int associations = 1;                       // parallel associations (delivery threads)
  std::vector<std::string> transferSyntaxes;  // UIDs, in order of preference; empty = learn
  std::chrono::seconds timeout{30};           // network timeout of one DIMSE exchange
  // Storage commitment: a job counts as delivered only once the peer's
  // N-EVENT-REPORT says it committed the instance (and only then may
  // DeleteAfterDelivery remove it from Orthanc).
  bool storageCommitment = false;
  std::chrono::seconds storageCommitmentTimeout{120};  // wait for the report, then retry

  std::string kind() const override { return "dicom"; }
  std::unique_ptr<Destination> make(const DestinationConfig& config,
                                    const DestinationContext& context) const override;
  int lanes() const override { return associations; }
  std::vector<std::string> preferredTransferSyntaxes() const override { return transferSyntaxes; }
  bool opensAssociations() const override { return true; }
  StatusFields status() const override;
};

const DestinationKind& dicomKind();

// An entry of Orthanc's "DicomModalities": ["AET", "host", port] or an object
// with AET, Host and Port. `path` names it in errors.
std::shared_ptr<const DicomSettings> parseOrthancModality(const Json::Value& value, const std::string& path);

}  // namespace router
