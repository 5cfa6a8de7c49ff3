// OrthancCommitmentReports: storage commitment through Orthanc's REST API,
// called in-process (see the header).
#include "plugins/orthanc/OrthancCommitmentReports.h"

#include <strings.h>

#include "plugins/core/Error.h"
#include "plugins/orthanc/OrthancApi.h"

namespace router::orthanc {
namespace {

// Orthanc compares AE titles without case unless "StrictAetComparison" is on.
bool sameAet(const Json::Value& modality, const std::string& aet) {
  return strcasecmp(modality["AET"].asString().c_str(), aet.c_str()) == 0;
}

}  // namespace

Json::Value OrthancCommitmentReports::modalities() {
  MemoryBuffer buffer(context_);
  if (OrthancPluginRestApiGet(context_, buffer.get(), "/modalities?expand") != OrthancPluginErrorCode_Success) {
    return Json::nullValue;
  }
  try {
    return parseJson(buffer.str());
  } catch (const RouterError&) {
    return Json::nullValue;
  }
}

std::optional<std::string> OrthancCommitmentReports::request(const std::string& peerAet, int peerPort,
                                                             const std::vector<CommitItem>& instances,
                                                             std::chrono::seconds timeout) {
  Json::Value all = modalities();
  if (!all.isObject()) return std::nullopt;
  std::string alias;
  for (const std::string& name : all.getMemberNames()) {
    const Json::Value& modality = all[name];
    if (!sameAet(modality, peerAet)) continue;
    if (modality.isMember("AllowStorageCommitment") && !modality["AllowStorageCommitment"].asBool()) continue;
    if (alias.empty() || modality["Port"].asInt() == peerPort) alias = name;
  }
  if (alias.empty()) return std::nullopt;

  Json::Value body;
  for (const CommitItem& item : instances) {
    Json::Value instance;
    instance["SOPClassUID"] = item.sopClassUid;
    instance["SOPInstanceUID"] = item.sopInstanceUid;
    body["DicomInstances"].append(instance);
  }
  body["Timeout"] = static_cast<Json::Int64>(timeout.count());
  const std::string text = writeJson(body);
  const std::string uri = "/modalities/" + alias + "/storage-commitment";
  MemoryBuffer answer(context_);
  OrthancPluginErrorCode code = OrthancPluginRestApiPost(context_, answer.get(), uri.c_str(), text.data(),
                                                         static_cast<uint32_t>(text.size()));
  if (code != OrthancPluginErrorCode_Success) {
    throw RouterError("Orthanc could not send the storage commitment request to modality \"" + alias + "\" (" +
                      peerAet + "): " + OrthancPluginGetErrorDescription(context_, code) +
                      " (see Orthanc's log; the peer may not allow our AE title to request storage commitment)");
  }
  std::string transactionUid = parseJson(answer.str())["ID"].asString();
  if (transactionUid.empty()) throw RouterError("Orthanc answered " + uri + " without a transaction ID");
  return transactionUid;
}

std::optional<CommitmentReport> OrthancCommitmentReports::find(const std::string& transactionUid) {
  const std::string uri = "/storage-commitment/" + transactionUid;
  MemoryBuffer buffer(context_);
  OrthancPluginErrorCode code = OrthancPluginRestApiGet(context_, buffer.get(), uri.c_str());
  if (code == OrthancPluginErrorCode_InexistentItem || code == OrthancPluginErrorCode_UnknownResource) {
    return std::nullopt;  // not arrived (yet)
  }
  if (code != OrthancPluginErrorCode_Success) {
    throw RouterError("Orthanc REST GET " + uri + " failed: " + OrthancPluginGetErrorDescription(context_, code));
  }
  return parseOrthancReport(transactionUid, parseJson(buffer.str()));
}

bool OrthancCommitmentReports::sleep(std::chrono::milliseconds duration) {
  std::unique_lock<std::mutex> lock(mutex_);
  if (duration.count() > 0) stopped_.wait_for(lock, duration, [this] { return stopping_; });
  return !stopping_;
}

void OrthancCommitmentReports::stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  stopped_.notify_all();
}

std::string OrthancCommitmentReports::diagnose(const std::string& peerAet) {
  Json::Value all = modalities();
  if (!all.isObject()) return {};
  for (const std::string& name : all.getMemberNames()) {
    const Json::Value& modality = all[name];
    if (!sameAet(modality, peerAet)) continue;
    if (modality.isMember("AllowStorageCommitment") && !modality["AllowStorageCommitment"].asBool()) {
      return "Orthanc's modality \"" + name + "\" (" + peerAet +
             ") has \"AllowStorageCommitment\": false, so Orthanc refuses its reports";
    }
    return {};
  }
  return peerAet +
         " is not in Orthanc's \"DicomModalities\", and Orthanc refuses storage commitment reports from AE titles "
         "it does not know: declare it there";
}

}  // namespace router::orthanc
