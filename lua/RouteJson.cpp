#include "lua/RouteJson.h"

#include "transcoders/TransferSyntax.h"

namespace router::lua {

Json::Value routeToJson(const Route& route) {
  Json::Value json(Json::objectValue);
  json["destination"] = route.destination;
  if (route.transferSyntax.empty()) {
    json["transfer_syntax"] = Json::nullValue;
    json["transfer_syntax_keyword"] = Json::nullValue;
  } else {
    json["transfer_syntax"] = route.transferSyntax;
    json["transfer_syntax_keyword"] = transferSyntaxName(route.transferSyntax);
  }
  Json::Value modify(Json::objectValue);
  for (const auto& [name, value] : route.modify) {
    modify[name] = value ? Json::Value(*value) : Json::Value(Json::nullValue);
  }
  json["modify"] = modify;
  json["priority"] = route.priority;
  if (route.urgent) json["urgent"] = true;
  if (!route.series.empty()) {
    Json::Value series(Json::arrayValue);
    for (const std::string& uid : route.series) series.append(uid);
    json["series"] = series;
  }
  if (route.deidentify.active()) {
    Json::Value deid(Json::objectValue);
    deid["project"] = route.deidentify.project;
    deid["profile"] = route.deidentify.profile;
    Json::Value options(Json::arrayValue);
    for (const std::string& option : route.deidentify.options) options.append(option);
    deid["options"] = options;
    json["deidentify"] = deid;
  }
  const Completion& c = route.completion;
  if (c.level != RouteLevel::Instance) {
    json["when"] = toString(c.level);
    json["quiet"] = static_cast<Json::Int64>(c.quiet.count());
    json["max_wait"] = static_cast<Json::Int64>(c.maxWait.count());
    if (c.expected > 0) json["expected"] = c.expected;
    json["late"] = toString(c.late);
    if (!c.required.empty()) {
      // Each required series, and whether this instance is one of it.
      Json::Value required(Json::arrayValue);
      for (size_t i = 0; i < c.required.size(); ++i) {
        Json::Value entry(Json::objectValue);
        entry["series"] = c.required[i].describe();
        entry["met_by_this_instance"] = (c.requiredMet >> i & 1u) != 0;
        required.append(entry);
      }
      json["required"] = required;
    }
  }
  return json;
}

}  // namespace router::lua
