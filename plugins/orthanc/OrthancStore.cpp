#include "plugins/orthanc/OrthancStore.h"

#include <json/json.h>

#include "plugins/orthanc/OrthancApi.h"

namespace router::orthanc {

Json::Value parseJson(const std::string& text) {
  Json::Value value;
  Json::CharReaderBuilder builder;
  std::unique_ptr<Json::CharReader> reader(builder.newCharReader());
  std::string errors;
  if (!reader->parse(text.data(), text.data() + text.size(), &value, &errors)) {
    throw RouterError("invalid JSON: " + errors);
  }
  return value;
}

std::string writeJson(const Json::Value& value) {
  Json::StreamWriterBuilder builder;
  builder["indentation"] = "  ";
  return Json::writeString(builder, value) + "\n";
}

std::string OrthancStore::get(const std::string& uri) {
  MemoryBuffer buffer(context_);
  OrthancPluginErrorCode code = OrthancPluginRestApiGet(context_, buffer.get(), uri.c_str());
  if (code == OrthancPluginErrorCode_UnknownResource || code == OrthancPluginErrorCode_InexistentItem) {
    throw InstanceGoneError("Orthanc has no " + uri);
  }
  if (code != OrthancPluginErrorCode_Success) {
    throw RouterError("Orthanc REST GET " + uri + " failed: " + OrthancPluginGetErrorDescription(context_, code));
  }
  return buffer.str();
}

ChangeBatch OrthancStore::changesSince(int64_t since, int limit) {
  Json::Value answer =
      parseJson(get("/changes?since=" + std::to_string(since) + "&limit=" + std::to_string(limit)));
  ChangeBatch batch;
  batch.last = since;
  for (const auto& change : answer["Changes"]) {
    int64_t seq = change["Seq"].asInt64();
    batch.last = std::max(batch.last, seq);
    batch.seqs.push_back(seq);
    if (change["ChangeType"].asString() == "NewInstance") {
      batch.newInstances.push_back(Change{seq, change["ID"].asString()});
    }
  }
  batch.done = answer["Done"].asBool();
  return batch;
}

int64_t OrthancStore::lastChange() {
  Json::Value answer = parseJson(get("/changes?last"));
  return answer.isMember("Last") ? answer["Last"].asInt64() : 0;
}

std::string OrthancStore::readFile(const std::string& instanceId) {
  return get("/instances/" + instanceId + "/file");
}

Origin OrthancStore::readOrigin(const std::string& instanceId) {
  Json::Value metadata = parseJson(get("/instances/" + instanceId + "/metadata?expand"));
  Origin origin;
  origin.callingAet = metadata.get("RemoteAET", "").asString();
  origin.calledAet = metadata.get("CalledAET", "").asString();
  origin.remoteIp = metadata.get("RemoteIP", "").asString();
  origin.protocol = metadata.get("Origin", "").asString();
  return origin;
}

void OrthancStore::deleteInstance(const std::string& instanceId) {
  std::string uri = "/instances/" + instanceId;
  OrthancPluginErrorCode code = OrthancPluginRestApiDelete(context_, uri.c_str());
  if (code != OrthancPluginErrorCode_Success && code != OrthancPluginErrorCode_UnknownResource) {
    throw RouterError("Orthanc REST DELETE " + uri + " failed: " + OrthancPluginGetErrorDescription(context_, code));
  }
}

}  // namespace router::orthanc
