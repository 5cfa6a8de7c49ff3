#include "plugins/core/queue/StoredForm.h"

#include <json/json.h>

#include <algorithm>
#include <memory>

#include "plugins/core/Error.h"

namespace router::stored {

int64_t value(BatchState state) {
  switch (state) {
    case BatchState::Waiting: return 0;
    case BatchState::OnHold: return 1;
    case BatchState::Released: return 2;
    case BatchState::Delivered: return 3;
    case BatchState::Cancelled: return 4;
  }
  throw RouterError("queue: unknown batch state");
}

BatchState batchState(int64_t number) {
  for (BatchState s : kBatchStates) {
    if (value(s) == number) return s;
  }
  throw RouterError("queue database: batch state " + std::to_string(number) + " is unknown to this release");
}

int64_t value(RouteLevel level) { return level == RouteLevel::Study ? 2 : 1; }
RouteLevel level(int64_t number) { return number == 2 ? RouteLevel::Study : RouteLevel::Series; }

std::string encodeEdits(const TagEdits& edits) {
  Json::Value list(Json::arrayValue);
  for (const auto& [key, edit] : edits) {
    Json::Value pair(Json::arrayValue);
    pair.append(key);
    pair.append(edit ? Json::Value(*edit) : Json::Value(Json::nullValue));
    list.append(pair);
  }
  Json::StreamWriterBuilder writer;
  writer["indentation"] = "";
  return Json::writeString(writer, list);
}

TagEdits decodeEdits(const std::string& text) {
  Json::Value list;
  Json::CharReaderBuilder reader;
  std::string errors;
  std::unique_ptr<Json::CharReader> parser(reader.newCharReader());
  if (!parser->parse(text.data(), text.data() + text.size(), &list, &errors) || !list.isArray()) {
    throw RouterError("queue database: corrupt tag edits: " + errors);
  }
  TagEdits edits;
  for (const auto& pair : list) {
    if (pair[1].isNull()) {
      edits.emplace_back(pair[0].asString(), std::nullopt);
    } else {
      edits.emplace_back(pair[0].asString(), pair[1].asString());
    }
  }
  return edits;
}

// {"project": ..., "profile": ..., "options": [...]}, or '' when the route
// does not de-identify.
std::string encodeDeidentify(const Deidentify& d) {
  if (!d.active()) return {};
  Json::Value json(Json::objectValue);
  json["project"] = d.project;
  json["profile"] = d.profile;
  json["options"] = Json::Value(Json::arrayValue);
  for (const std::string& option : d.options) json["options"].append(option);
  Json::StreamWriterBuilder writer;
  writer["indentation"] = "";
  return Json::writeString(writer, json);
}

Deidentify decodeDeidentify(const std::string& text) {
  Deidentify d;
  if (text.empty()) return d;
  Json::Value json;
  Json::CharReaderBuilder reader;
  std::string errors;
  std::unique_ptr<Json::CharReader> parser(reader.newCharReader());
  if (!parser->parse(text.data(), text.data() + text.size(), &json, &errors) || !json.isObject() ||
      !json["project"].isString() || !json["options"].isArray()) {
    throw RouterError("queue database: corrupt de-identification of a job: " + errors);
  }
  d.project = json["project"].asString();
  d.profile = json.get("profile", "basic").asString();
  for (const Json::Value& option : json["options"]) d.options.push_back(option.asString());
  return d;
}

std::string quarantinedRouting() {
  return "quarantined: the appliance stopped " + std::to_string(kQuarantineAfter) +
         " times in a row while routing this instance, so it is not routed again by itself; "
         "find the cause in Orthanc's log, then re-route the rule-failed instances";
}

std::string quarantinedDelivery() {
  return "quarantined: the appliance stopped " + std::to_string(kQuarantineAfter) +
         " times in a row while delivering this instance, so it is not sent again by itself; "
         "find the cause in Orthanc's log, then retry the job. Before: ";
}

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  for (size_t at = 0; at < text.size();) {
    size_t end = text.find('\n', at);
    if (end == std::string::npos) end = text.size();
    if (end > at) out.push_back(text.substr(at, end - at));
    at = end + 1;
  }
  return out;
}

const char* completeBecause(const WaitingBatch& b, int64_t nowMs, int64_t& dueAtMs) {
  if (b.expected > 0 && b.instances >= b.expected) return "expected count";
  if (b.present && nowMs >= b.lastAt + b.quietMs) return b.hasRequirements ? "required series and quiet time" : "quiet time";
  if (nowMs >= b.firstAt + b.maxWaitMs) return "maximum wait";
  dueAtMs = b.present ? std::min(b.lastAt + b.quietMs, b.firstAt + b.maxWaitMs) : b.firstAt + b.maxWaitMs;
  return nullptr;
}

int64_t sortKey(const RoutedInstance& instance) {
  const int64_t series = std::clamp(instance.seriesNumber, 0, 99999);
  const int64_t number = std::clamp(instance.instanceNumber, 0, 999999);
  return series * 1000000 + number;
}

}  // namespace router::stored
