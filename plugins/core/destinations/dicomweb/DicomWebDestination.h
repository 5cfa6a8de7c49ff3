// DICOMweb destination: STOW-RS (PS3.18 10.5). Up to BatchSize instances go in
// one multipart/related POST to {Url}/studies; the answer (DICOM JSON) says per
// instance what was stored (ReferencedSOPSequence) and what failed and why
// (FailedSOPSequence / FailureReason, read like a C-STORE status).
//
// Thread safety: one object = one HTTP keep-alive connection, used by one
// delivery worker at a time (send/sendBatch/probe/close are not
// concurrent-safe). Several objects for the same destination may run at once.
#pragma once

#include <random>
#include <string>
#include <vector>

#include "plugins/core/destinations/Destination.h"
#include "plugins/core/destinations/dicomweb/DicomWebKind.h"
#include "plugins/core/destinations/http/HttpClient.h"

namespace router {

class DicomWebDestination : public Destination {
 public:
  // Its settings' url is the DICOMweb root (e.g. http://host:8042/dicom-web).
  explicit DicomWebDestination(const DestinationConfig& config);

  SendResult send(const Outgoing& instance) override;
  int maxBatch() const override;
  std::vector<SendResult> sendBatch(const std::vector<Outgoing>& instances) override;
  // GET {Url}/studies?limit=1: any HTTP answer below 500 means the server is up.
  bool probe() override;
  void close() override;

  // How a STOW-RS answer (status and body) maps to one result per instance,
  // in order. Public so that answers Orthanc never gives (409, odd bodies)
  // can be checked too.
  static std::vector<SendResult> interpretAnswer(const HttpResponse& response,
                                                 const std::string& url,
                                                 const std::vector<Outgoing>& instances);

 private:
  std::string makeBoundary(const std::vector<Outgoing>& instances);

  DicomWebSettings settings_;
  HttpClient http_;
  std::mt19937_64 random_;
};

}  // namespace router
