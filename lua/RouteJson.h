// A route as JSON, the one shape shown by POST /router/rules/test and the
// orthanc-router-rules CLI: destination, transfer_syntax (UID, null = as
// received) and its keyword, modify (null removes), priority, deidentify
// (project, profile, options; when the route de-identifies), and for a
// route that waits for its series or study: when, quiet, max_wait (seconds),
// expected (if given) and late.
#pragma once

#include <json/value.h>

#include "plugins/core/model/Route.h"

namespace router::lua {

Json::Value routeToJson(const Route& route);

}  // namespace router::lua
