// Giving Prometheus a credential that can scrape and nothing else: with
// Router.MetricsUser set, a request authenticated as that user (HTTP basic
// auth; Orthanc itself checks the password) may only GET /router/metrics.
// Pure functions; safe from any thread.
#pragma once

#include <optional>
#include <string>

namespace router {

// The user name of an "Authorization: Basic ..." header value, if any.
std::optional<std::string> basicAuthUser(const std::string& authorization);

// Whether a request is allowed, given the configured metrics user (empty =
// no restriction) and the request's Authorization header value.
bool metricsUserMayAccess(const std::string& metricsUser, const std::string& authorization, bool isGet,
                          const std::string& uri);

}  // namespace router
