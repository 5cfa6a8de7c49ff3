// HttpClient on libcurl's easy interface: RAII for the CURL handle and the
// header lists, streamed request bodies, answers captured with a size cap.
#include "plugins/core/destinations/http/HttpClient.h"

#include <curl/curl.h>
#include <json/reader.h>
#include <json/value.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <mutex>

#include "plugins/core/Error.h"

namespace router {
namespace {

constexpr std::size_t kMaxBodyKept = 8u << 20;

struct CurlDeleter {
  void operator()(CURL* curl) const { curl_easy_cleanup(curl); }
};
struct SlistDeleter {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};
using CurlPtr = std::unique_ptr<CURL, CurlDeleter>;
using SlistPtr = std::unique_ptr<curl_slist, SlistDeleter>;

// The request body, read piece by piece by curl from the caller's buffers.
// Seekable, because curl rewinds when it resends a request (a kept-alive
// connection the server had closed meanwhile, an authentication round).
struct BodyReader {
  const std::vector<std::string_view>* parts = nullptr;
  std::size_t part = 0;
  std::size_t offset = 0;  // within parts[part]
};

size_t readBody(char* buffer, size_t size, size_t count, void* userdata) noexcept {
  auto* reader = static_cast<BodyReader*>(userdata);
  const std::size_t room = size * count;
  std::size_t written = 0;
  while (written < room && reader->part < reader->parts->size()) {
    const std::string_view& piece = (*reader->parts)[reader->part];
    const std::size_t n = std::min(room - written, piece.size() - reader->offset);
    std::memcpy(buffer + written, piece.data() + reader->offset, n);
    written += n;
    reader->offset += n;
    if (reader->offset == piece.size()) {
      ++reader->part;
      reader->offset = 0;
    }
  }
  return written;
}

int seekBody(void* userdata, curl_off_t position, int origin) noexcept {
  auto* reader = static_cast<BodyReader*>(userdata);
  if (origin != SEEK_SET || position < 0) return CURL_SEEKFUNC_CANTSEEK;
  auto remaining = static_cast<std::size_t>(position);
  reader->part = 0;
  reader->offset = 0;
  while (reader->part < reader->parts->size() &&
         remaining >= (*reader->parts)[reader->part].size()) {
    remaining -= (*reader->parts)[reader->part].size();
    ++reader->part;
  }
  if (reader->part == reader->parts->size())
    return remaining == 0 ? CURL_SEEKFUNC_OK : CURL_SEEKFUNC_FAIL;
  reader->offset = remaining;
  return CURL_SEEKFUNC_OK;
}

size_t writeBody(char* data, size_t size, size_t count, void* userdata) noexcept {
  auto* body = static_cast<std::string*>(userdata);
  const std::size_t n = size * count;
  if (body->size() < kMaxBodyKept) {
    try {
      body->append(data, std::min(n, kMaxBodyKept - body->size()));
    } catch (...) {
      return 0;  // out of memory: curl aborts the transfer with a write error
    }
  }
  return n;
}

std::string seconds(std::chrono::seconds value) {
  return std::to_string(value.count()) + " s";
}

bool contains(const std::string& text, const char* part) {
  return text.find(part) != std::string::npos;
}

// A failed exchange that a retry cannot mend because of TLS: what to check,
// or "" when it may work later (a reset or timeout during the handshake).
// curl reports a refusal of our certificate, or a server that is not
// speaking TLS, only as OpenSSL's text (CURLE_SSL_CONNECT_ERROR, or with
// TLS 1.3 CURLE_RECV_ERROR on the first read), hence the text checks.
std::string tlsRefusal(CURLcode code, const std::string& why, const TlsSettings& tls) {
  switch (code) {
    case CURLE_PEER_FAILED_VERIFICATION:
      return "the server's TLS certificate was rejected; check that " + tls.configKey +
             ".CaCertificates (now " + tls.caDescription() +
             ") holds the CA that signed it, that it has not expired, and that it is "
             "issued for the host named in Url";
    case CURLE_SSL_CACERT_BADFILE:
      return "the trusted CAs could not be loaded; check " + tls.configKey + ".CaCertificates";
    case CURLE_SSL_CERTPROBLEM:
      return "our client certificate could not be used; check " + tls.configKey +
             ".Certificate and .PrivateKey";
    case CURLE_SSL_CIPHER:
      return "no cipher suite in common with the server";
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
      break;
    default:
      return "";
  }
  for (const char* alert :
       {"alert unknown ca", "alert bad certificate", "alert certificate required",
        "alert certificate unknown", "alert certificate expired", "alert certificate revoked",
        "alert unsupported certificate", "alert access denied"}) {
    if (contains(why, alert)) {
      return tls.certificate.empty()
                 ? "the server refused the connection without a client certificate: set " +
                       tls.configKey + ".Certificate and .PrivateKey"
                 : "the server refused our client certificate " + tls.certificate +
                       ": check that it trusts the CA that signed it and that it has not expired";
    }
  }
  if (contains(why, "wrong version number") || contains(why, "packet length too long")) {
    return "the server does not speak TLS on that port: check the Url (http:// or https://, and "
           "the port)";
  }
  if (contains(why, "alert protocol version") || contains(why, "unsupported protocol") ||
      contains(why, "no shared cipher") || contains(why, "alert handshake failure")) {
    return "no TLS version or cipher suite in common with the server";
  }
  return "";
}

// Trust exactly what the destination names: its CA file or folder, not
// those plus curl's built-in defaults.
void setTls(CURL* curl, const TlsSettings& tls) {
  curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, tls.verify ? 1L : 0L);
  curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, tls.verify ? 2L : 0L);
  if (!tls.caCertificates.empty()) {
    if (tls.caIsFolder) {
      curl_easy_setopt(curl, CURLOPT_CAINFO, nullptr);
      curl_easy_setopt(curl, CURLOPT_CAPATH, tls.caCertificates.c_str());
    } else {
      curl_easy_setopt(curl, CURLOPT_CAINFO, tls.caCertificates.c_str());
      curl_easy_setopt(curl, CURLOPT_CAPATH, nullptr);
    }
  }
  if (!tls.certificate.empty()) {
    curl_easy_setopt(curl, CURLOPT_SSLCERT, tls.certificate.c_str());
    curl_easy_setopt(curl, CURLOPT_SSLCERTTYPE, "PEM");
    curl_easy_setopt(curl, CURLOPT_SSLKEY, tls.privateKey.c_str());
    curl_easy_setopt(curl, CURLOPT_SSLKEYTYPE, "PEM");
  }
}

}  // namespace

void initHttp() {
  static std::once_flag once;
  std::call_once(once, [] {
    const CURLcode code = curl_global_init(CURL_GLOBAL_DEFAULT);
    if (code != CURLE_OK) {
      throw RouterError(std::string("cannot initialise the HTTP library (libcurl): ") +
                        curl_easy_strerror(code));
    }
  });
}

struct HttpClient::Handle {
  CurlPtr curl;
  char errorBuffer[CURL_ERROR_SIZE] = {};
};

HttpClient::HttpClient(HttpOptions options) : options_(std::move(options)) {
  initHttp();
}

HttpClient::~HttpClient() = default;

void HttpClient::closeConnections() {
  handle_.reset();
}

HttpResponse HttpClient::get(const std::string& url, const std::vector<std::string>& headers) {
  return perform(url, nullptr, headers);
}

HttpResponse HttpClient::post(const std::string& url, const std::vector<std::string_view>& body,
                              const std::vector<std::string>& headers) {
  return perform(url, &body, headers);
}

HttpResponse HttpClient::perform(const std::string& url, const std::vector<std::string_view>* body,
                                 const std::vector<std::string>& headers) {
  if (!handle_) {
    auto handle = std::make_unique<Handle>();
    handle->curl.reset(curl_easy_init());
    if (!handle->curl)
      throw RouterError("cannot create an HTTP session (libcurl) for " + redactUrl(url));
    handle_ = std::move(handle);
  }
  CURL* curl = handle_->curl.get();
  // Options are set afresh for every request; curl_easy_reset keeps the live
  // connection, so keep-alive reuse survives it.
  curl_easy_reset(curl);
  handle_->errorBuffer[0] = '\0';

  HttpResponse response;
  BodyReader reader;

  SlistPtr headerList;
  auto addHeader = [&headerList](const std::string& line) {
    curl_slist* grown = curl_slist_append(headerList.get(), line.c_str());
    if (grown == nullptr) throw RouterError("out of memory while building an HTTP request");
    headerList.release();
    headerList.reset(grown);
  };
  for (const auto& [name, value] : options_.headers) addHeader(name + ": " + value);
  for (const std::string& line : headers) addHeader(line);
  // No "Expect: 100-continue" round trip before large bodies.
  if (body != nullptr) addHeader("Expect:");

  const long timeoutMs = static_cast<long>(options_.timeout.count()) * 1000;
  const long connectMs =
      std::min(timeoutMs, static_cast<long>(options_.connectTimeout.count()) * 1000);

  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, handle_->errorBuffer);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_TCP_NODELAY, 1L);
  curl_easy_setopt(curl, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, connectMs);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, timeoutMs);
  curl_easy_setopt(curl, CURLOPT_USERAGENT, "orthanc-router");
  curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headerList.get());
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &writeBody);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &response.body);
  setTls(curl, options_.tls);
  if (!options_.username.empty()) {
    curl_easy_setopt(curl, CURLOPT_HTTPAUTH, static_cast<long>(CURLAUTH_BASIC));
    curl_easy_setopt(curl, CURLOPT_USERNAME, options_.username.c_str());
    curl_easy_setopt(curl, CURLOPT_PASSWORD, options_.password.c_str());
  }
  if (body != nullptr) {
    curl_off_t total = 0;
    for (const std::string_view& piece : *body) total += static_cast<curl_off_t>(piece.size());
    reader.parts = body;
    curl_easy_setopt(curl, CURLOPT_POST, 1L);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, total);
    curl_easy_setopt(curl, CURLOPT_READFUNCTION, &readBody);
    curl_easy_setopt(curl, CURLOPT_READDATA, &reader);
    curl_easy_setopt(curl, CURLOPT_SEEKFUNCTION, &seekBody);
    curl_easy_setopt(curl, CURLOPT_SEEKDATA, &reader);
  } else {
    curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
  }

  const CURLcode code = curl_easy_perform(curl);
  // Nothing may point at this stack frame after the call.
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, nullptr);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, nullptr);

  if (code != CURLE_OK) {
    const std::string where = redactUrl(url);
    // curl's error buffer is the more precise text (host, port, elapsed time).
    const std::string why =
        handle_->errorBuffer[0] != '\0' ? handle_->errorBuffer : curl_easy_strerror(code);
    const std::string refusal = tlsRefusal(code, why, options_.tls);
    if (!refusal.empty()) {
      response.tlsRefused = true;
      response.error = "TLS with " + where + " failed: " + why + "; " + refusal;
    } else if (code == CURLE_OPERATION_TIMEDOUT) {
      response.error =
          "no complete answer from " + where + " within " + seconds(options_.timeout) + ": " + why;
    } else {
      response.error = "cannot reach " + where + ": " + why;
    }
    response.invalidRequest = code == CURLE_URL_MALFORMAT || code == CURLE_UNSUPPORTED_PROTOCOL;
    response.body.clear();
    // A half-done exchange leaves the connection in an unknown state.
    handle_.reset();
    return response;
  }

  long status = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  response.status = status;
  const char* contentType = nullptr;
  if (curl_easy_getinfo(curl, CURLINFO_CONTENT_TYPE, &contentType) == CURLE_OK &&
      contentType != nullptr) {
    response.contentType = contentType;
  }
  return response;
}

std::string redactUrl(const std::string& url) {
  const std::size_t scheme = url.find("://");
  if (scheme == std::string::npos) return url;
  const std::size_t start = scheme + 3;
  const std::size_t end = url.find_first_of("/?#", start);
  const std::size_t at = url.rfind('@', end == std::string::npos ? std::string::npos : end);
  if (at == std::string::npos || at < start) return url;
  return url.substr(0, start) + url.substr(at + 1);
}

namespace {

std::string reasonPhrase(long status) {
  switch (status) {
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 406:
      return "Not Acceptable";
    case 408:
      return "Request Timeout";
    case 409:
      return "Conflict";
    case 413:
      return "Payload Too Large";
    case 415:
      return "Unsupported Media Type";
    case 429:
      return "Too Many Requests";
    case 500:
      return "Internal Server Error";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    default:
      return "";
  }
}

}  // namespace

SendResult classifyHttpFailure(const HttpResponse& response, const std::string& url,
                               const std::string& serverMessage) {
  SendResult result;
  const std::string where = redactUrl(url);
  if (!response.answered()) {
    result.outcome = response.invalidRequest || response.tlsRefused ? SendOutcome::Permanent
                                                                    : SendOutcome::Retry;
    result.detail =
        response.error + (response.invalidRequest ? ": check the destination's Url" : "");
    return result;
  }

  const long status = response.status;
  std::string http = "HTTP " + std::to_string(status);
  if (!reasonPhrase(status).empty()) http += " " + reasonPhrase(status);
  const std::string said = serverMessage.empty() ? "" : ": " + serverMessage;

  if (status == 408 || status == 429 || status >= 500) {
    result.outcome = SendOutcome::Retry;
    result.detail = where + " answered " + http + said;
    return result;
  }
  result.outcome = SendOutcome::Permanent;
  if (status == 401) {
    result.detail = where + " refused our credentials (" + http +
                    "): check Username and Password of this destination";
  } else if (status == 403) {
    result.detail =
        where + " refused access (" + http +
        "): check Username and Password of this destination and that user's rights on the server";
  } else if (status == 404) {
    result.detail = where + " does not exist (" + http + "): check the destination's Url" + said;
  } else if (status >= 300 && status < 400) {
    result.detail = where + " redirects elsewhere (" + http +
                    "): set the destination's Url to the final address";
  } else if (status == 413) {
    result.detail = where + " refused a request this large (" + http +
                    "): raise the server's upload limit or lower BatchSize" + said;
  } else {
    result.detail = where + " refused the request (" + http + ")" + said;
  }
  return result;
}

std::string answerMessage(const std::string& body) {
  if (!body.empty() && body.front() == '{') {
    Json::CharReaderBuilder builder;
    const std::unique_ptr<Json::CharReader> reader(builder.newCharReader());
    Json::Value root;
    std::string errors;
    if (reader->parse(body.data(), body.data() + body.size(), &root, &errors) && root.isObject()) {
      std::string message = root["Message"].isString() ? root["Message"].asString() : "";
      const std::string details = root["Details"].isString() ? root["Details"].asString() : "";
      if (!details.empty()) message += message.empty() ? details : " (" + details + ")";
      if (!message.empty()) return message;
    }
  }
  return bodySnippet(body);
}

std::string bodySnippet(const std::string& body, std::size_t maxLength) {
  std::string text;
  bool space = false;
  for (char c : body) {
    const auto u = static_cast<unsigned char>(c);
    if (u == 0) return "";
    if (c == '\r' || c == '\n' || c == '\t' || c == ' ') {
      space = !text.empty();
      continue;
    }
    if (u < 0x20) return "";
    if (space) text += ' ';
    space = false;
    text += c;
    if (text.size() > maxLength) {
      text.resize(maxLength);
      return text + "...";
    }
  }
  return text;
}

}  // namespace router
