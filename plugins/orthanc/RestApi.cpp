// The /router/... REST routes on Orthanc's HTTP server (and so behind its
// authentication). Every answer is JSON (but the console's files under
// /router/ui/); errors carry an HTTP status and a body
// {"Error": "...", "HttpStatus": N} that says what was wrong. Every route
// that changes something (POST, PUT, DELETE) first passes the cross-site
// rule of CrossSite.h, in the trampoline below: one place for all of them.
#include <orthanc/OrthancCPlugin.h>

#include <strings.h>

#include <cstring>
#include <functional>
#include <string>

#include "plugins/core/destinations/http/Multipart.h"
#include "plugins/orthanc/ConsoleFiles.h"
#include "plugins/orthanc/CrossSite.h"
#include "plugins/orthanc/OrthancApi.h"
#include "plugins/orthanc/PluginContext.h"
#include "plugins/orthanc/Protect.h"
#include "plugins/orthanc/RestJson.h"
#include "plugins/core/metrics/MetricsAccess.h"

namespace router::orthanc {
namespace {

// An error the client caused or must know about, with its HTTP status.
class HttpError : public RouterError {
 public:
  HttpError(uint16_t status, const std::string& message) : RouterError(message), status_(status) {}
  uint16_t status() const { return status_; }

 private:
  uint16_t status_;
};

class RestCall {
 public:
  RestCall(OrthancPluginRestOutput* output, const OrthancPluginHttpRequest* request)
      : output_(output), request_(request) {}

  OrthancPluginHttpMethod method() const { return request_->method; }
  std::string group(uint32_t i) const {
    if (i >= request_->groupsCount) throw HttpError(400, "missing path parameter");
    return request_->groups[i];
  }
  std::string query(const char* key) const {
    for (uint32_t i = 0; i < request_->getCount; ++i) {
      if (std::strcmp(request_->getKeys[i], key) == 0) return request_->getValues[i];
    }
    return {};
  }
  // Orthanc passes query arguments to GET requests only.
  std::string header(const char* name) const {
    for (uint32_t i = 0; i < request_->headersCount; ++i) {
      if (strcasecmp(request_->headersKeys[i], name) == 0) return request_->headersValues[i];
    }
    return {};
  }
  std::string body() const {
    return std::string(static_cast<const char*>(request_->body), request_->bodySize);
  }
  void answer(const Json::Value& value) {
    std::string text = writeJson(value);
    OrthancPluginAnswerBuffer(plugin().orthanc, output_, text.data(), static_cast<uint32_t>(text.size()),
                              "application/json");
  }
  void answerText(const std::string& text, const char* mime) {
    OrthancPluginAnswerBuffer(plugin().orthanc, output_, text.data(), static_cast<uint32_t>(text.size()), mime);
  }
  void setHeader(const char* key, const char* value) {
    OrthancPluginSetHttpHeader(plugin().orthanc, output_, key, value);
  }
  void redirect(const char* location) { OrthancPluginRedirect(plugin().orthanc, output_, location); }
  void fail(uint16_t status, const std::string& message) {
    Json::Value body(Json::objectValue);
    body["HttpStatus"] = status;
    body["Error"] = message;
    std::string text = writeJson(body);
    OrthancPluginSendHttpStatus(plugin().orthanc, output_, status, text.data(), static_cast<uint32_t>(text.size()));
  }
  void notAllowed(const char* allowed) { OrthancPluginSendMethodNotAllowed(plugin().orthanc, output_, allowed); }

 private:
  OrthancPluginRestOutput* output_;
  const OrthancPluginHttpRequest* request_;
};

Router& router() {
  if (!plugin().router) throw HttpError(503, "the router is not running");
  return *plugin().router;
}

int64_t jobIdOf(const RestCall& call) {
  try {
    return std::stoll(call.group(0));
  } catch (const std::exception&) {
    throw HttpError(400, "job id must be a number");
  }
}

Operations& operations() { return router().operations(); }

// Answers a refused action on one job with its HTTP status.
void refuse(JobRefusal refusal, int64_t id, const std::optional<Job>& job) {
  const std::string which = "job " + std::to_string(id);
  switch (refusal) {
    case JobRefusal::None: return;
    case JobRefusal::NotFound: throw HttpError(404, "no " + which + " (delivered jobs leave the queue)");
    case JobRefusal::Busy: throw HttpError(409, which + " is being sent right now");
    case JobRefusal::WrongState:
      throw HttpError(409, which + " is " + (job ? toString(job->state) : std::string("gone")) +
                               ", only failed or dead jobs can be retried");
  }
}

// Refuses a request that changes something unless it comes from the
// console or a script (CrossSite.h). GET only reads, and passes.
void refuseCrossSite(const RestCall& call) {
  if (call.method() == OrthancPluginHttpMethod_Get) return;
  RequestOrigin origin;
  origin.consoleHeader = call.header(kConsoleHeader);
  origin.origin = call.header("origin");
  origin.host = call.header("host");
  origin.fetchSite = call.header("sec-fetch-site");
  if (std::optional<std::string> refusal = crossSiteRefusal(origin)) throw HttpError(403, *refusal);
}

// GET /router/ui -> /router/ui/index.html, where the console's relative
// links (app.js, ../status) resolve. Orthanc drops a trailing slash before
// routing, so /router/ui/ comes here as well: the redirect must be absolute.
void handleConsoleRoot(RestCall& call) {
  if (call.method() != OrthancPluginHttpMethod_Get) return call.notAllowed("GET");
  call.redirect("/router/ui/index.html");
}

// GET /router/ui/{file}: the embedded console. no-cache: the browser asks
// again each time (three small files), so an upgraded plugin's console is
// never mixed with an old cached one. The policy headers keep the pages from
// being framed (clicks under a decoy) and from loading anything not ours.
void handleConsoleFile(RestCall& call) {
  if (call.method() != OrthancPluginHttpMethod_Get) return call.notAllowed("GET");
  const std::string name = call.group(0);
  const ConsoleFile* file = findConsoleFile(name);
  if (file == nullptr) throw HttpError(404, "no console file " + name);
  call.setHeader("Cache-Control", "no-cache");
  call.setHeader("X-Content-Type-Options", "nosniff");
  call.setHeader("X-Frame-Options", "DENY");
  call.setHeader("Content-Security-Policy",
                 "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; "
                 "form-action 'self'");
  call.setHeader("Referrer-Policy", "no-referrer");
  const std::string type(file->contentType);
  call.answerText(std::string(file->body), type.c_str());
}

int64_t batchIdOf(const RestCall& call) {
  try {
    return std::stoll(call.group(0));
  } catch (const std::exception&) {
    throw HttpError(400, "batch id must be a number");
  }
}

void handleBatches(RestCall& call) {
  if (call.method() != OrthancPluginHttpMethod_Get) return call.notAllowed("GET");
  std::optional<BatchState> state;
  const std::string text = call.query("state");
  if (!text.empty()) {
    state = parseBatchState(text);
    if (!state) throw HttpError(400, "state must be waiting, on-hold, released, delivered or cancelled");
  }
  int limit = 100;
  try {
    if (!call.query("limit").empty()) limit = std::stoi(call.query("limit"));
  } catch (const std::exception&) {
    throw HttpError(400, "limit must be a number");
  }
  if (limit < 1 || limit > 10000) throw HttpError(400, "limit must be between 1 and 10000");
  Json::Value batches(Json::arrayValue);
  for (const Batch& batch : operations().listBatches(state, limit)) batches.append(batchToJson(batch));
  call.answer(batches);
}

void handleBatch(RestCall& call) {
  if (call.method() != OrthancPluginHttpMethod_Get) return call.notAllowed("GET");
  const int64_t id = batchIdOf(call);
  std::optional<Batch> batch = operations().batch(id);
  if (!batch) throw HttpError(404, "no batch " + std::to_string(id));
  call.answer(batchToJson(*batch));
}

template <BatchAction action>
void handleBatchAction(RestCall& call) {
  if (call.method() != OrthancPluginHttpMethod_Post) return call.notAllowed("POST");
  const int64_t id = batchIdOf(call);
  BatchActionResult result = operations().actOnBatch(id, action);
  if (!result.found) throw HttpError(404, "no batch " + std::to_string(id));
  if (!result.done) {
    throw HttpError(409, "batch " + std::to_string(id) + " is " + toString(result.batch->state) + ": " +
                             toString(action) + " applies to " +
                             (action == BatchAction::Hold ? "a waiting batch"
                              : action == BatchAction::Resume ? "a batch on hold"
                                                              : "a waiting batch or one on hold"));
  }
  call.answer(batchToJson(*result.batch));
}

void handleStatus(RestCall& call) {
  if (call.method() != OrthancPluginHttpMethod_Get) return call.notAllowed("GET");
  call.answer(statusToJson(router().status()));
}

void handleMetrics(RestCall& call) {
  if (call.method() != OrthancPluginHttpMethod_Get) return call.notAllowed("GET");
  call.answerText(router().metricsText(), "text/plain; version=0.0.4; charset=utf-8");
}

void handleQueue(RestCall& call) {
  if (call.method() != OrthancPluginHttpMethod_Get) return call.notAllowed("GET");
  JobFilter filter;
  filter.destination = call.query("destination");
  filter.search = call.query("search");
  std::string state = call.query("state");
  if (state == "rule-failed") {
    Json::Value items(Json::arrayValue);
    for (const IntakeItem& item : operations().listRuleFailed(1000)) items.append(intakeToJson(item));
    return call.answer(items);
  }
  if (!state.empty()) {
    filter.state = parseJobState(state);
    if (!filter.state) throw HttpError(400, "state must be pending, sending, failed, dead, held or rule-failed");
  }
  try {
    if (!call.query("after").empty()) filter.afterId = std::stoll(call.query("after"));
    if (!call.query("limit").empty()) filter.limit = std::stoi(call.query("limit"));
  } catch (const std::exception&) {
    throw HttpError(400, "after and limit must be numbers");
  }
  if (filter.limit < 1 || filter.limit > 10000) throw HttpError(400, "limit must be between 1 and 10000");
  Json::Value jobs(Json::arrayValue);
  for (const Job& job : operations().listJobs(filter)) jobs.append(jobToJson(job));
  call.answer(jobs);
}

void handleJob(RestCall& call) {
  const int64_t id = jobIdOf(call);
  if (call.method() == OrthancPluginHttpMethod_Get) {
    std::optional<Job> job = operations().job(id);
    if (!job) refuse(JobRefusal::NotFound, id, job);
    return call.answer(jobToJson(*job));
  }
  if (call.method() != OrthancPluginHttpMethod_Delete) return call.notAllowed("GET,DELETE");
  JobActionResult purged = operations().purgeJob(id);
  refuse(purged.refusal, id, purged.job);
  Json::Value out(Json::objectValue);
  out["Purged"] = static_cast<Json::Int64>(id);
  call.answer(out);
}

// Every attempt of a job, from the audit trail (also of a job delivered or
// purged since: the trail outlives the queue row).
void handleJobAttempts(RestCall& call) {
  if (call.method() != OrthancPluginHttpMethod_Get) return call.notAllowed("GET");
  const int64_t id = jobIdOf(call);
  std::optional<std::vector<std::string>> lines = operations().jobTrail(id, 1000);
  if (!lines) throw HttpError(404, "no audit trail: Router.AuditLog is not set (see Delivery guarantees)");
  Json::Value attempts(Json::arrayValue);
  for (const std::string& line : *lines) attempts.append(parseJson(line));
  Json::Value out(Json::objectValue);
  out["Job"] = static_cast<Json::Int64>(id);
  out["Attempts"] = attempts;
  call.answer(out);
}

void handleJobRetry(RestCall& call) {
  if (call.method() != OrthancPluginHttpMethod_Post) return call.notAllowed("POST");
  const int64_t id = jobIdOf(call);
  JobActionResult retried = operations().retryJob(id);
  refuse(retried.refusal, id, retried.job);
  call.answer(jobToJson(*retried.job));
}

void handleDestinationRetry(RestCall& call) {
  if (call.method() != OrthancPluginHttpMethod_Post) return call.notAllowed("POST");
  const std::string name = call.group(0);
  Json::Value out(Json::objectValue);
  out["Retried"] = operations().retryDead(name);
  out["Destination"] = name;
  call.answer(out);
}

template <bool paused>
void handleDestinationPause(RestCall& call) {
  if (call.method() != OrthancPluginHttpMethod_Post) return call.notAllowed("POST");
  const std::string name = call.group(0);
  operations().pause(name, paused);
  Json::Value out(Json::objectValue);
  out["Destination"] = name;
  out["Paused"] = paused;
  call.answer(out);
}

void handleDestinationDead(RestCall& call) {
  if (call.method() != OrthancPluginHttpMethod_Delete) return call.notAllowed("DELETE");
  const std::string name = call.group(0);
  Json::Value out(Json::objectValue);
  out["Purged"] = operations().purgeDead(name);
  out["Destination"] = name;
  call.answer(out);
}

void handleReload(RestCall& call) {
  if (call.method() != OrthancPluginHttpMethod_Post) return call.notAllowed("POST");
  std::string version;
  try {
    version = operations().reloadRules();
  } catch (const std::exception& e) {
    throw HttpError(400, std::string("rules refused, the previous rules stay in force: ") + e.what());
  }
  Json::Value out(Json::objectValue);
  out["Version"] = version;
  out["Status"] = rulesToJson(router().status().rules);
  call.answer(out);
}

void handleReroute(RestCall& call) {
  if (call.method() != OrthancPluginHttpMethod_Post) return call.notAllowed("POST");
  Json::Value out(Json::objectValue);
  out["Rerouted"] = operations().rerouteFailed();
  call.answer(out);
}

void handleTest(RestCall& call) {
  if (call.method() != OrthancPluginHttpMethod_Post) return call.notAllowed("POST");
  // The sender to simulate: headers, since Orthanc gives a POST no query arguments.
  Origin origin;
  origin.callingAet = call.header("x-router-calling-aet");
  origin.calledAet = call.header("x-router-called-aet");
  origin.remoteIp = call.header("x-router-remote-ip");
  origin.protocol = call.header("x-router-protocol");
  if (origin.protocol.empty()) origin.protocol = "DicomProtocol";
  // Several files, multipart/related (as in STOW-RS): each one's routes and
  // route_study()'s decision on the studies they make up. (Orthanc's HTTP
  // server answers multipart/form-data itself, one part at a time, as the
  // upload of its Explorer: such a body never reaches a plugin whole.)
  if (std::optional<std::string> boundary = multipartBoundary(call.header("content-type"))) {
    std::vector<std::string> files;
    StudyTest test;
    try {
      const std::string body = call.body();
      for (std::string_view part : multipartParts(body, *boundary)) files.emplace_back(part);
      if (files.empty()) throw RouterError("the body has no file");
      test = router().testStudy(files, origin);
    } catch (const std::exception& e) {
      throw HttpError(400, std::string("the body must be DICOM files in a multipart body: ") + e.what());
    }
    call.answer(studyTestToJson(test));
    return;
  }
  RouteDecision decision;
  try {
    decision = router().testRoute(call.body(), origin);
  } catch (const std::exception& e) {
    throw HttpError(400, std::string("the body must be a DICOM file: ") + e.what());
  }
  if (decision.failure) return call.fail(422, "rule failed: " + decision.failure->describe());
  call.answer(decisionToJson(decision));
}

// POST {"Project": "...", "Pseudonym": "..."}: who the pseudonym stands for.
void handleLookup(RestCall& call) {
  if (call.method() != OrthancPluginHttpMethod_Post) return call.notAllowed("POST");
  Json::Value body;
  try {
    body = parseJson(call.body());
  } catch (const std::exception&) {
  }
  if (!body.isObject() || !body["Project"].isString() ||
      !body["Pseudonym"].isString() || body["Pseudonym"].asString().empty()) {
    throw HttpError(400, "the body must be {\"Project\": \"...\", \"Pseudonym\": \"...\"}");
  }
  // Who asks, as Orthanc authenticated them (its SDK gives a plugin no client address).
  const std::string who = basicAuthUser(call.header("authorization")).value_or("");
  const std::string project = body["Project"].asString();
  LookupResult result = operations().lookupPseudonym(project, body["Pseudonym"].asString(), who);
  switch (result.refusal) {
    case LookupRefusal::UnknownProject:
      throw HttpError(404, "no de-identification project \"" + project + "\" in Router.Deidentification.Projects");
    case LookupRefusal::NotAllowed:
      throw HttpError(403, "re-identification is not allowed for project \"" + project +
                               "\": set \"Lookup\": true in Router.Deidentification.Projects." + project +
                               " to allow it (every lookup is audited)");
    case LookupRefusal::NotFound:
      throw HttpError(404, "no such pseudonym in project \"" + project +
                               "\" (only pseudonyms given out while Lookup was allowed are known)");
    case LookupRefusal::None: break;
  }
  call.answer(pseudonymToJson(*result.entry));
}

// Trampoline: one per route, instantiated with its handler.
template <void (*Handler)(RestCall&)>
OrthancPluginErrorCode restCallback(OrthancPluginRestOutput* output, const char* url,
                                    const OrthancPluginHttpRequest* request) noexcept {
  RestCall call(output, request);
  OrthancPluginErrorCode code = protect(url, [&] {
    try {
      refuseCrossSite(call);
      Handler(call);
    } catch (const HttpError& e) {
      call.fail(e.status(), e.what());
    } catch (const UnknownDestinationError& e) {
      call.fail(404, e.what());
    } catch (const std::exception& e) {
      plugin().log.error(std::string(url) + ": " + e.what());
      call.fail(500, e.what());
    }
  });
  return code;
}

}  // namespace

std::string OrthancLog::howTo(OperatorAction action, int64_t jobId) const {
  switch (action) {
    case OperatorAction::RetryJob: return "POST /router/queue/" + std::to_string(jobId) + "/retry";
    case OperatorAction::ReloadRules: return "POST /router/rules/reload";
    case OperatorAction::RerouteFailed: return "POST /router/rules/reroute";
  }
  return Log::howTo(action, jobId);
}

void registerRestRoutes(OrthancPluginContext* context) {
  OrthancPluginRegisterRestCallbackNoLock(context, "/router/status", restCallback<handleStatus>);
  OrthancPluginRegisterRestCallbackNoLock(context, "/router/metrics", restCallback<handleMetrics>);
  OrthancPluginRegisterRestCallbackNoLock(context, "/router/queue", restCallback<handleQueue>);
  OrthancPluginRegisterRestCallbackNoLock(context, "/router/queue/([0-9]+)", restCallback<handleJob>);
  OrthancPluginRegisterRestCallbackNoLock(context, "/router/queue/([0-9]+)/retry", restCallback<handleJobRetry>);
  OrthancPluginRegisterRestCallbackNoLock(context, "/router/queue/([0-9]+)/attempts",
                                          restCallback<handleJobAttempts>);
  OrthancPluginRegisterRestCallbackNoLock(context, "/router/destinations/([^/]+)/retry",
                                          restCallback<handleDestinationRetry>);
  OrthancPluginRegisterRestCallbackNoLock(context, "/router/destinations/([^/]+)/dead",
                                          restCallback<handleDestinationDead>);
  OrthancPluginRegisterRestCallbackNoLock(context, "/router/destinations/([^/]+)/pause",
                                          restCallback<handleDestinationPause<true>>);
  OrthancPluginRegisterRestCallbackNoLock(context, "/router/destinations/([^/]+)/resume",
                                          restCallback<handleDestinationPause<false>>);
  OrthancPluginRegisterRestCallbackNoLock(context, "/router/batches", restCallback<handleBatches>);
  OrthancPluginRegisterRestCallbackNoLock(context, "/router/batches/([0-9]+)", restCallback<handleBatch>);
  OrthancPluginRegisterRestCallbackNoLock(context, "/router/batches/([0-9]+)/release",
                                          restCallback<handleBatchAction<BatchAction::Release>>);
  OrthancPluginRegisterRestCallbackNoLock(context, "/router/batches/([0-9]+)/hold",
                                          restCallback<handleBatchAction<BatchAction::Hold>>);
  OrthancPluginRegisterRestCallbackNoLock(context, "/router/batches/([0-9]+)/resume",
                                          restCallback<handleBatchAction<BatchAction::Resume>>);
  OrthancPluginRegisterRestCallbackNoLock(context, "/router/batches/([0-9]+)/cancel",
                                          restCallback<handleBatchAction<BatchAction::Cancel>>);
  OrthancPluginRegisterRestCallbackNoLock(context, "/router/rules/reload", restCallback<handleReload>);
  OrthancPluginRegisterRestCallbackNoLock(context, "/router/rules/reroute", restCallback<handleReroute>);
  OrthancPluginRegisterRestCallbackNoLock(context, "/router/rules/test", restCallback<handleTest>);
  OrthancPluginRegisterRestCallbackNoLock(context, "/router/deidentification/lookup", restCallback<handleLookup>);
  OrthancPluginRegisterRestCallbackNoLock(context, "/router/ui", restCallback<handleConsoleRoot>);
  OrthancPluginRegisterRestCallbackNoLock(context, "/router/ui/([a-z]+\\.[a-z]+)",
                                          restCallback<handleConsoleFile>);
}

}  // namespace router::orthanc
