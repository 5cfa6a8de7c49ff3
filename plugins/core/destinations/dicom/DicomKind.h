// The "dicom" destination kind: C-STORE to a DICOM peer (DicomDestination),
// configured in Router.Destinations or taken from Orthanc's DicomModalities.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <json/value.h>

#include "plugins/core/destinations/DestinationKind.h"
#include "plugins/core/destinations/TlsSettings.h"

namespace router {

// DICOM's TLS profiles (PS3.15 Annex B) that DCMTK 3.6.7 offers, by the name
// written in "Tls": { "Profile": ... }.
enum class TlsProfile {
  BCP195,             // "BCP195": TLS 1.2+ ciphers first, may fall back to TLS 1.0 and the retired AES/3DES suites
  BCP195NonDowngrading,  // "BCP195-ND" (default): TLS 1.2 or newer only, the four BCP 195 suites
  BCP195Extended,     // "BCP195-Extended": TLS 1.2 only, the two strongest ECDHE suites
};
std::string tlsProfileName(TlsProfile profile);

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
  // DICOM TLS ("Tls" section): absent = plain TCP. Every association of the
  // destination (C-STORE, C-ECHO probes, storage commitment) uses it.
  std::optional<TlsSettings> tls;
  TlsProfile tlsProfile = TlsProfile::BCP195NonDowngrading;

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
