// The cross-site request rule of every mutating /router/ route (POST, PUT,
// DELETE). Browsers replay Orthanc's basic-auth credentials to any page that
// asks, so a page on another site could otherwise submit a form to
// /router/... and act with the operator's rights. A request is accepted only
// when it carries the header X-Router-Console (which a cross-site form cannot
// set, and a cross-site script cannot send without a CORS preflight Orthanc
// never grants), and when what the browser says of its origin agrees:
//   - Origin, if present, names this server (its host:port equals Host);
//   - Sec-Fetch-Site, if present, is same-origin (or none: typed by the user).
// curl and scripts send the header and no Origin, and pass.
//
// Pure functions, no Orthanc headers: safe from any thread.
#pragma once

#include <optional>
#include <string>

namespace router::orthanc {

inline constexpr const char* kConsoleHeader = "X-Router-Console";

struct RequestOrigin {
  std::string consoleHeader;  // value of X-Router-Console; empty: absent
  std::string origin;         // Origin; empty: absent
  std::string host;           // Host
  std::string fetchSite;      // Sec-Fetch-Site; empty: absent
};

// Why the request must be refused (a sentence for the 403 answer), or
// nullopt when it may go on.
std::optional<std::string> crossSiteRefusal(const RequestOrigin& request);

}  // namespace router::orthanc
