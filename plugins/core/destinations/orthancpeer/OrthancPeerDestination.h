// Orthanc peer destination: POST {Url}/instances with the Part-10 bytes, as
// Orthanc's own peers do. "Success" and "AlreadyStored" both mean delivered;
// a refused file (HTTP 400) goes to dead letter with Orthanc's own message.
//
// Thread safety: one object = one HTTP keep-alive connection, used by one
// delivery worker at a time (send/probe/close are not concurrent-safe).
#pragma once

#include <string>

#include "plugins/core/destinations/Destination.h"
#include "plugins/core/destinations/orthancpeer/OrthancPeerKind.h"
#include "plugins/core/destinations/http/HttpClient.h"

namespace router {

class OrthancPeerDestination : public Destination {
 public:
  // Its settings' url is the peer's REST root (e.g. http://host:8042).
  explicit OrthancPeerDestination(const DestinationConfig& config);

  SendResult send(const Outgoing& instance) override;
  // GET {Url}/system: any HTTP answer below 500 means the peer is up.
  bool probe() override;
  void close() override;

 private:
  OrthancPeerSettings settings_;
  HttpClient http_;
};

}  // namespace router
