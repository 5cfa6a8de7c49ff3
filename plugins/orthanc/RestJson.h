// The JSON shapes of the REST API: the core's plain structs (status, jobs,
// rule-failed instances, route decisions) as the answers README documents.
#pragma once

#include <json/value.h>

#include "lua/RuleEngine.h"
#include "plugins/core/Router.h"
#include "plugins/core/RouterStatus.h"
#include "plugins/core/queue/Queue.h"

namespace router::orthanc {

Json::Value statusToJson(const RouterStatus& status);
Json::Value rulesToJson(const RulesStatus& rules);
Json::Value jobToJson(const Job& job);
Json::Value intakeToJson(const IntakeItem& item);
Json::Value batchToJson(const Batch& batch);
// A re-identification lookup's answer: Project, Pseudonym, PatientID,
// PatientName, FirstSeen, LastSeen.
Json::Value pseudonymToJson(const PseudonymEntry& entry);
// The same shape as the orthanc-router-rules CLI prints, so a rule set
// tried offline and through the API reads the same.
Json::Value decisionToJson(const RouteDecision& decision);
// POST /router/rules/test with several files.
Json::Value studyTestToJson(const StudyTest& test);

}  // namespace router::orthanc
