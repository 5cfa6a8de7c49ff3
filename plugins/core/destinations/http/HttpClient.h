// A small HTTP client on libcurl for the HTTP destinations (DICOMweb STOW-RS,
// Orthanc peer). One object owns one CURL easy handle, so consecutive requests
// reuse the same keep-alive connection; request bodies are streamed from the
// caller's buffers (a STOW-RS batch is never copied into one big string).
//
// Transport failures (no HTTP answer) do not throw: they come back in
// HttpResponse::error, with the URL (never the password) in the text, so the
// destination can classify them next to HTTP statuses.
//
// Thread safety: one HttpClient is used by one thread at a time (it belongs to
// one Destination object). initHttp() may be called from any thread.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "plugins/core/destinations/Destination.h"
#include "plugins/core/destinations/TlsSettings.h"

namespace router {

// curl_global_init() for the whole process, once (std::call_once inside).
// Safe to call repeatedly and from several threads; the HTTP destinations
// call it from their constructors, before their worker threads use curl.
void initHttp();

struct HttpOptions {
  std::string username;  // empty: no authentication
  std::string password;
  std::map<std::string, std::string> headers;  // sent with every request
  std::chrono::seconds timeout{60};            // whole request, upload included
  std::chrono::seconds connectTimeout{10};     // capped at timeout
  // HTTPS: trusted CAs, client certificate, verification (on by default,
  // against the system's CAs when no "Tls" section is given).
  TlsSettings tls;
};

struct HttpResponse {
  long status = 0;              // HTTP status; 0 when no answer came back
  std::string body;             // kept up to 8 MiB
  std::string contentType;      // of the answer, as sent
  std::string error;            // transport failure in words (with the URL); empty with an answer
  bool invalidRequest = false;  // the URL itself is unusable (a config problem, not a network one)
  // The TLS handshake failed in a way retrying cannot mend: a certificate was
  // refused (the server's by us, or ours by the server), or the server does
  // not speak TLS there. `error` then says what to check.
  bool tlsRefused = false;
  bool answered() const { return status != 0; }
};

class HttpClient {
 public:
  explicit HttpClient(HttpOptions options);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Extra request headers are "Name: value" lines.
  HttpResponse get(const std::string& url, const std::vector<std::string>& headers = {});
  // The body is the concatenation of the parts; they must outlive the call.
  HttpResponse post(const std::string& url, const std::vector<std::string_view>& body,
                    const std::vector<std::string>& headers = {});

  // Drops the kept-alive connection (the next request opens a new one).
  void closeConnections();

 private:
  struct Handle;
  HttpResponse perform(const std::string& url, const std::vector<std::string_view>* body,
                       const std::vector<std::string>& headers);

  HttpOptions options_;
  std::unique_ptr<Handle> handle_;
};

// The URL without any "user:password@" part, for messages and logs.
std::string redactUrl(const std::string& url);

// The one place where an HTTP exchange that did not store anything becomes
// Retry or Permanent: no answer (network, timeout, a TLS handshake cut
// short) and 408, 429, 5xx retry; a refused certificate does not;
// other statuses (bad request, credentials, wrong Url) will not get better by
// themselves and go to dead letter with a detail saying what to fix. `url` is
// the request's URL; `serverMessage` is what the server said, if anything.
SendResult classifyHttpFailure(const HttpResponse& response, const std::string& url,
                               const std::string& serverMessage);

// What a server said in an error answer, in one line: Orthanc's JSON error
// body ("Message" and "Details") when it is one, else bodySnippet().
std::string answerMessage(const std::string& body);

// The first line(s) of an HTTP answer body, trimmed and shortened, fit for a
// one-line detail ("" when the body is empty or binary).
std::string bodySnippet(const std::string& body, std::size_t maxLength = 200);

}  // namespace router
