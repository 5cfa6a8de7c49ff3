// OrthancPeerDestination: one POST per instance to Orthanc's REST API, and the
// reading of Orthanc's answers (its JSON status, or its JSON error body).
#include "plugins/core/destinations/orthancpeer/OrthancPeerDestination.h"

#include <json/reader.h>
#include <json/value.h>

#include <memory>
#include <optional>

namespace router {
namespace {

std::optional<Json::Value> parseJson(const std::string& body) {
  if (body.empty()) return std::nullopt;
  Json::CharReaderBuilder builder;
  const std::unique_ptr<Json::CharReader> reader(builder.newCharReader());
  Json::Value root;
  std::string errors;
  if (!reader->parse(body.data(), body.data() + body.size(), &root, &errors) || !root.isObject()) {
    return std::nullopt;
  }
  return root;
}

}  // namespace

OrthancPeerDestination::OrthancPeerDestination(const DestinationConfig& config)
    : settings_(config.settingsAs<OrthancPeerSettings>()), http_(settings_.endpoint.options) {}

SendResult OrthancPeerDestination::send(const Outgoing& instance) {
  const std::string url = settings_.endpoint.url + "/instances";
  const HttpResponse response =
      http_.post(url, {std::string_view(instance.part10)},
                 {"Content-Type: application/dicom", "Accept: application/json"});

  // Orthanc explains its errors in a JSON body (with "Details" when
  // HttpDescribeErrors is on, the default).
  if (response.status == 400) {
    SendResult result;
    result.outcome = SendOutcome::Permanent;
    const std::string message = answerMessage(response.body);
    result.detail = "the Orthanc peer at " + redactUrl(settings_.endpoint.url) +
                    " refused the file (HTTP 400)" + (message.empty() ? "" : ": " + message);
    return result;
  }
  if (response.status < 200 || response.status >= 300) {
    return classifyHttpFailure(response, url, answerMessage(response.body));
  }

  // 200: {"ID": ..., "Status": "Success" | "AlreadyStored" | "FilteredOut" | ...}.
  SendResult result;
  const auto json = parseJson(response.body);
  const std::string status =
      json && (*json)["Status"].isString() ? (*json)["Status"].asString() : "";
  if (status == "FilteredOut") {
    result.outcome = SendOutcome::Permanent;
    result.detail = "the Orthanc peer at " + redactUrl(settings_.endpoint.url) +
                    " did not keep the instance: a filter there (Lua or plugin) refused it";
  } else if (status == "Failure") {
    result.outcome = SendOutcome::Retry;
    result.detail = "the Orthanc peer at " + redactUrl(settings_.endpoint.url) +
                    " could not store the instance (Status Failure)";
  }
  return result;
}

bool OrthancPeerDestination::probe() {
  const HttpResponse response = http_.get(settings_.endpoint.url + "/system", {"Accept: application/json"});
  return response.answered() && response.status < 500;
}

void OrthancPeerDestination::close() {
  http_.closeConnections();
}

}  // namespace router
