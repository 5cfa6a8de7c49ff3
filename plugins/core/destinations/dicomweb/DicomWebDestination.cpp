// DicomWebDestination: the STOW-RS request (multipart/related, one
// application/dicom part per instance) and the reading of its answer.
#include "plugins/core/destinations/dicomweb/DicomWebDestination.h"

#include <json/reader.h>
#include <json/value.h>

#include <cstdio>
#include <map>
#include <memory>
#include <optional>

namespace router {
namespace {

// What the answer says about one SOP Instance UID.
struct InstanceAnswer {
  bool stored = false;
  std::optional<uint16_t> reason;  // FailureReason, or WarningReason when stored
};

std::optional<uint16_t> readUs(const Json::Value& item, const char* tag) {
  const Json::Value& element = item[tag];
  if (!element.isObject()) return std::nullopt;
  const Json::Value& values = element["Value"];
  if (!values.isArray() || values.empty()) return std::nullopt;
  const Json::Value& value = values[0];
  if (value.isIntegral() && value.asInt64() >= 0 && value.asInt64() <= 0xFFFF) {
    return static_cast<uint16_t>(value.asInt64());
  }
  if (value.isString()) {
    try {
      const unsigned long parsed = std::stoul(value.asString(), nullptr, 0);
      if (parsed <= 0xFFFF) return static_cast<uint16_t>(parsed);
    } catch (const std::exception&) {
    }
  }
  return std::nullopt;
}

std::string readUi(const Json::Value& item, const char* tag) {
  const Json::Value& element = item[tag];
  if (!element.isObject()) return "";
  const Json::Value& values = element["Value"];
  if (!values.isArray() || values.empty() || !values[0].isString()) return "";
  return values[0].asString();
}

// Parses the DICOM JSON answer; nothing when it is not one. Some servers wrap
// the data set in an array.
std::optional<std::map<std::string, InstanceAnswer>> parseAnswer(const std::string& body) {
  if (body.empty()) return std::nullopt;
  Json::CharReaderBuilder builder;
  const std::unique_ptr<Json::CharReader> reader(builder.newCharReader());
  Json::Value root;
  std::string errors;
  if (!reader->parse(body.data(), body.data() + body.size(), &root, &errors)) return std::nullopt;
  if (root.isArray() && root.size() == 1) root = Json::Value(root[0]);
  if (!root.isObject()) return std::nullopt;

  std::map<std::string, InstanceAnswer> answers;
  const auto readSequence = [&](const char* tag, bool stored) {
    const Json::Value& element = root[tag];
    if (!element.isObject() || !element["Value"].isArray()) return;
    for (const Json::Value& item : element["Value"]) {
      if (!item.isObject()) continue;
      const std::string uid = readUi(item, "00081155");  // ReferencedSOPInstanceUID
      if (uid.empty()) continue;
      InstanceAnswer& answer = answers[uid];
      if (stored) {
        answer.stored = true;
        answer.reason = readUs(item, "00081196");  // WarningReason
      } else if (!answer.stored) {
        answer.reason = readUs(item, "00081197");  // FailureReason
      }
    }
  };
  readSequence("00081198", false);  // FailedSOPSequence
  readSequence("00081199", true);   // ReferencedSOPSequence
  return answers;
}

SendResult withPrefix(SendResult result, const std::string& prefix) {
  if (!result.detail.empty()) result.detail = prefix + result.detail;
  return result;
}

}  // namespace

DicomWebDestination::DicomWebDestination(const DestinationConfig& config)
    : settings_(config.settingsAs<DicomWebSettings>()),
      http_(settings_.endpoint.options),
      random_(std::random_device{}()) {}

int DicomWebDestination::maxBatch() const {
  return settings_.batchSize > 0 ? settings_.batchSize : 1;
}

SendResult DicomWebDestination::send(const Outgoing& instance) {
  return sendBatch(std::vector<Outgoing>{instance}).at(0);
}

std::string DicomWebDestination::makeBoundary(const std::vector<Outgoing>& instances) {
  for (;;) {
    char text[48];
    std::snprintf(text, sizeof text, "router-%016llx%016llx",
                  static_cast<unsigned long long>(random_()),
                  static_cast<unsigned long long>(random_()));
    const std::string boundary = text;
    bool clash = false;
    for (const Outgoing& instance : instances) {
      if (instance.part10.find(boundary) != std::string::npos) {
        clash = true;
        break;
      }
    }
    if (!clash) return boundary;
  }
}

std::vector<SendResult> DicomWebDestination::sendBatch(const std::vector<Outgoing>& instances) {
  if (instances.empty()) return {};
  const std::string boundary = makeBoundary(instances);
  const std::string first = "--" + boundary + "\r\nContent-Type: application/dicom\r\n\r\n";
  const std::string between = "\r\n" + first;
  const std::string last = "\r\n--" + boundary + "--\r\n";

  std::vector<std::string_view> body;
  body.reserve(instances.size() * 2 + 1);
  for (std::size_t i = 0; i < instances.size(); ++i) {
    body.emplace_back(i == 0 ? first : between);
    body.emplace_back(instances[i].part10);
  }
  body.emplace_back(last);

  const std::string url = settings_.endpoint.url + "/studies";
  const HttpResponse response = http_.post(
      url, body,
      {"Content-Type: multipart/related; type=\"application/dicom\"; boundary=" + boundary,
       "Accept: application/dicom+json"});
  return interpretAnswer(response, url, instances);
}

std::vector<SendResult> DicomWebDestination::interpretAnswer(
    const HttpResponse& response, const std::string& url, const std::vector<Outgoing>& instances) {
  const long status = response.status;
  // These answers may carry per-instance results. Orthanc answers 400 when a
  // part is not DICOM, yet stores the other parts and lists them.
  const bool perInstance = (status >= 200 && status < 300) || status == 400 || status == 409;
  if (!perInstance) {
    const SendResult failure = classifyHttpFailure(response, url, answerMessage(response.body));
    return std::vector<SendResult>(instances.size(), failure);
  }

  const std::string where = redactUrl(url);
  const auto answers = parseAnswer(response.body);
  std::vector<SendResult> results;
  results.reserve(instances.size());
  for (const Outgoing& instance : instances) {
    const InstanceAnswer* answer = nullptr;
    if (answers) {
      const auto found = answers->find(instance.sopInstanceUid);
      if (found != answers->end()) answer = &found->second;
    }

    if (answer != nullptr && answer->stored) {
      results.push_back(answer->reason
                            ? withPrefix(classifyDimseStatus(*answer->reason), where + ": ")
                            : SendResult{});
    } else if (answer != nullptr) {
      if (answer->reason) {
        results.push_back(withPrefix(classifyDimseStatus(*answer->reason), where + ": "));
      } else {
        SendResult retry;
        retry.outcome = SendOutcome::Retry;
        retry.detail = where + " did not store the instance and gave no FailureReason (HTTP " +
                       std::to_string(status) + ")";
        results.push_back(retry);
      }
    } else if (status == 200) {
      // 200 means every instance was stored, whatever the body says or lacks.
      results.emplace_back();
    } else if (status == 409) {
      // Nothing was stored. Without per-instance reasons, the conflict is this
      // instance's only when it was alone in the request.
      const std::string said = answerMessage(response.body);
      SendResult failure;
      if (answers || instances.size() > 1) {
        failure.outcome = SendOutcome::Retry;
        failure.detail =
            where + " stored nothing of this request because of a conflict (HTTP 409 Conflict)" +
            (answers || said.empty() ? "" : ": " + said);
      } else {
        failure.outcome = SendOutcome::Permanent;
        failure.detail =
            where + " refused the instance (HTTP 409 Conflict)" + (said.empty() ? "" : ": " + said);
      }
      results.push_back(failure);
    } else if (status == 400) {
      const std::string said = answers ? "" : answerMessage(response.body);
      SendResult refused;
      refused.outcome = SendOutcome::Permanent;
      refused.detail = where + " refused the instance (HTTP 400 Bad Request)" +
                       (said.empty() ? "" : ": " + said);
      results.push_back(refused);
    } else {
      // 202 (some failed) or another 2xx without a word about this instance:
      // not confirmed, so send it again (a duplicate is harmless).
      SendResult retry;
      retry.outcome = SendOutcome::Retry;
      retry.detail =
          where + " did not confirm storing the instance (HTTP " + std::to_string(status) + ")";
      results.push_back(retry);
    }
  }
  return results;
}

bool DicomWebDestination::probe() {
  const HttpResponse response =
      http_.get(settings_.endpoint.url + "/studies?limit=1", {"Accept: application/dicom+json"});
  return response.answered() && response.status < 500;
}

void DicomWebDestination::close() {
  http_.closeConnections();
}

}  // namespace router
