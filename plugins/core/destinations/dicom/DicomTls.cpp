// DicomTls: DCMTK's TLS layer with host name checks, socket options and
// classified handshake failures (see header).
#include "plugins/core/destinations/dicom/DicomTls.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <cerrno>
#include <cstring>
#include <mutex>

#include "plugins/core/Error.h"

namespace router {
namespace {

bool isIpAddress(const std::string& host) {
  in_addr v4{};
  in6_addr v6{};
  return ::inet_pton(AF_INET, host.c_str(), &v4) == 1 ||
         ::inet_pton(AF_INET6, host.c_str(), &v6) == 1;
}

DcmTLSSecurityProfile dcmtkProfile(TlsProfile profile) {
  switch (profile) {
    case TlsProfile::BCP195:
      return TSP_Profile_BCP195;
    case TlsProfile::BCP195Extended:
      return TSP_Profile_BCP195_Extended;
    case TlsProfile::BCP195NonDowngrading:
      break;
  }
  return TSP_Profile_BCP195_ND;
}

// The TLS alerts a peer sends when it refuses our certificate.
bool refusesOurCertificate(int reason) {
  switch (reason) {
    case SSL_R_TLSV1_ALERT_UNKNOWN_CA:
    case SSL_R_SSLV3_ALERT_BAD_CERTIFICATE:
    case SSL_R_SSLV3_ALERT_CERTIFICATE_UNKNOWN:
    case SSL_R_SSLV3_ALERT_CERTIFICATE_EXPIRED:
    case SSL_R_SSLV3_ALERT_CERTIFICATE_REVOKED:
    case SSL_R_SSLV3_ALERT_UNSUPPORTED_CERTIFICATE:
    case SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED:
    case SSL_R_TLSV1_ALERT_ACCESS_DENIED:
    case SSL_R_TLSV1_ALERT_DECRYPT_ERROR:
      return true;
    default:
      return false;
  }
}

// No TLS version or cipher suite both sides accept.
bool nothingInCommon(int reason) {
  switch (reason) {
    case SSL_R_TLSV1_ALERT_PROTOCOL_VERSION:
    case SSL_R_UNSUPPORTED_PROTOCOL:
    case SSL_R_NO_PROTOCOLS_AVAILABLE:
    case SSL_R_SSLV3_ALERT_HANDSHAKE_FAILURE:
    case SSL_R_NO_SHARED_CIPHER:
    case SSL_R_NO_CIPHERS_AVAILABLE:
    case SSL_R_TLSV1_ALERT_INSUFFICIENT_SECURITY:
      return true;
    default:
      return false;
  }
}

}  // namespace

TlsConnection::TlsConnection(DcmNativeSocketType socket, SSL* ssl, TlsTransportLayer& layer)
    : DcmTLSConnection(socket, ssl), ssl_(ssl), layer_(layer) {
  quickAck(getSocket());
}

OFCondition TlsConnection::clientSideHandshake() {
  if (ssl_ == nullptr) return DCMTLS_EC_NoTLSTransportConnectionPresent;
  ERR_clear_error();
  errno = 0;
  const int rc = SSL_connect(ssl_);
  if (rc == 1) return EC_Normal;
  const int saved = errno;
  layer_.recordFailure(ssl_, SSL_get_error(ssl_, rc), saved);
  const std::string text = layer_.failure_ ? layer_.failure_->detail : "TLS handshake failed";
  return OFCondition(OFM_dcmtls, OFCondition(DCMTLS_EC_OtherSSLError).code(), OF_error,
                     text.c_str());
}

ssize_t TlsConnection::read(void* buffer, size_t size) {
  if (ssl_ == nullptr) {
    errno = EIO;
    return -1;
  }
  quickAck(getSocket());
  ERR_clear_error();
  errno = 0;
  const int n = SSL_read(ssl_, buffer, static_cast<int>(size));
  const int saved = errno;
  if (layer_.handshaking_) {
    // With TLS 1.3 the client finishes its handshake before the server has
    // judged the client's certificate: a refusal arrives as an alert on the
    // first read, the one that waits for the A-ASSOCIATE answer.
    if (n > 0)
      layer_.handshaking_ = false;
    else
      layer_.recordFailure(ssl_, SSL_get_error(ssl_, n), saved);
  }
  quickAck(getSocket());
  errno = saved;
  return n;
}

ssize_t TlsConnection::write(void* buffer, size_t size) {
  if (ssl_ == nullptr) {
    errno = EIO;
    return -1;
  }
  ERR_clear_error();
  errno = 0;
  const int n = SSL_write(ssl_, buffer, static_cast<int>(size));
  const int saved = errno;
  if (n <= 0 && layer_.handshaking_) {
    // TLS 1.3 again: a peer that refused our certificate sends its alert and
    // closes, and our A-ASSOCIATE-RQ may meet the reset. The alert came
    // before the reset and can still be read: read it, so the failure says
    // "refused our certificate", not just "connection reset".
    char byte = 0;
    ERR_clear_error();
    errno = 0;
    const int r = SSL_read(ssl_, &byte, 1);
    layer_.recordFailure(ssl_, SSL_get_error(ssl_, r), errno != 0 ? errno : saved);
  }
  quickAck(getSocket());
  errno = saved;
  return n;
}

void TlsConnection::close() {
  ssl_ = nullptr;  // freed by DcmTLSConnection::close()
  DcmTLSConnection::close();
}

bool TlsConnection::readable(std::chrono::milliseconds timeout) {
  if (ssl_ == nullptr) return false;
  if (SSL_pending(ssl_) > 0) return true;  // decrypted already, the socket has nothing left
  pollfd entry{};
  entry.fd = getSocket();
  entry.events = POLLIN;
  return ::poll(&entry, 1, static_cast<int>(timeout.count())) > 0;
}

TlsTransportLayer::TlsTransportLayer(const DicomSettings& settings, const std::string& name)
    : DcmTLSTransportLayer(NET_REQUESTOR, nullptr, OFFalse),
      peer_("destination " + name + " (" + settings.aet + " " + settings.host + ":" +
            std::to_string(settings.port) + ")"),
      host_(settings.host),
      tls_(settings.tls.value_or(TlsSettings{})),
      profile_(settings.tlsProfile),
      timeoutSeconds_(static_cast<int>(std::max<long long>(1, settings.timeout.count()))) {
  static std::once_flag once;
  std::call_once(once, [] { DcmTLSTransportLayer::initializeOpenSSL(); });
  const std::string key = tls_.configKey;
  auto check = [&](const OFCondition& cond, const std::string& what) {
    if (cond.bad())
      throw ConfigError("destination " + name + ": " + what + ": " + cond.text() + " (" + key +
                        ")");
  };
  if (!*this) throw ConfigError("destination " + name + ": cannot create a TLS context (OpenSSL)");
  check(setTLSProfile(dcmtkProfile(profile_)),
        "TLS profile " + tlsProfileName(profile_) + " refused");
  check(activateCipherSuites(),
        "the cipher suites of TLS profile " + tlsProfileName(profile_) + " are refused");
  if (tls_.caCertificates.empty()) {
    if (SSL_CTX_set_default_verify_paths(getNativeHandle()) != 1) {
      ERR_clear_error();
      throw ConfigError("destination " + name + ": cannot load the system's trusted CAs; set " +
                        key + ".CaCertificates");
    }
  } else if (tls_.caIsFolder) {
    check(addTrustedCertificateDir(tls_.caCertificates.c_str(), DCF_Filetype_PEM),
          "cannot load the CA folder " + tls_.caCertificates);
  } else {
    check(addTrustedCertificateFile(tls_.caCertificates.c_str(), DCF_Filetype_PEM),
          "cannot load the CA file " + tls_.caCertificates);
  }
  if (!tls_.certificate.empty()) {
    check(setPrivateKeyFile(tls_.privateKey.c_str(), DCF_Filetype_PEM),
          "cannot load the private key " + tls_.privateKey);
    check(setCertificateFile(tls_.certificate.c_str(), DCF_Filetype_PEM),
          "cannot load the certificate " + tls_.certificate);
    if (!checkPrivateKeyMatchesCertificate()) {
      throw ConfigError("destination " + name + ": " + tls_.privateKey + " is not the key of " +
                        tls_.certificate);
    }
  }
  setCertificateVerification(tls_.verify ? DCV_requireCertificate : DCV_ignoreCertificate);
}

void TlsTransportLayer::startAssociation() {
  last_ = nullptr;
  failure_.reset();
  handshaking_ = false;
}

DcmTransportConnection* TlsTransportLayer::createConnection(DcmNativeSocketType socket,
                                                            OFBool useSecureLayer) {
  if (!useSecureLayer) return DcmTLSTransportLayer::createConnection(socket, useSecureLayer);
  SSL* ssl = SSL_new(getNativeHandle());
  if (ssl == nullptr) return nullptr;
  SSL_set_fd(ssl, static_cast<int>(socket));
  const bool ip = isIpAddress(host_);
  if (!ip) SSL_set_tlsext_host_name(ssl, host_.c_str());
  if (tls_.verify) {
    // DCMTK checks the chain only; BCP 195 (RFC 7525 6.1) wants the name too.
    X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
    if (ip)
      X509_VERIFY_PARAM_set1_ip_asc(param, host_.c_str());
    else
      SSL_set1_host(ssl, host_.c_str());
  }
  failure_.reset();
  handshaking_ = true;
  last_ = new TlsConnection(socket, ssl, *this);
  // After the connection object: DCMTK's constructor sets its own socket
  // timeouts (dcmSocketSendTimeout/ReceiveTimeout, 60 s). The handshake
  // reads and writes on a blocking socket: bound it, and any partial TLS
  // record later, by the destination's Timeout like every DIMSE exchange.
  prepareSocket(socket, timeoutSeconds_);
  timeval timeout{};
  timeout.tv_sec = timeoutSeconds_;
  ::setsockopt(socket, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  return last_;
}

void TlsTransportLayer::recordFailure(SSL* ssl, int sslError, int savedErrno) {
  TlsFailure failure;
  const long verified = tls_.verify ? SSL_get_verify_result(ssl) : X509_V_OK;
  const unsigned long error = ERR_peek_error();
  const char* reasonText = error != 0 ? ERR_reason_error_string(error) : nullptr;
  const std::string reason = reasonText != nullptr ? reasonText : "";
  const int code = error != 0 && ERR_GET_LIB(error) == ERR_LIB_SSL ? ERR_GET_REASON(error) : 0;
  ERR_clear_error();

  if (verified != X509_V_OK) {
    failure.permanent = true;
    failure.detail = peer_ + ": TLS certificate of the peer rejected (" +
                     X509_verify_cert_error_string(verified) + "); ";
    if (verified == X509_V_ERR_HOSTNAME_MISMATCH || verified == X509_V_ERR_IP_ADDRESS_MISMATCH) {
      failure.detail +=
          "the certificate is not issued for \"" + host_ +
          "\": set Host to a name the certificate lists (its subject alternative names) or have "
          "the peer's certificate reissued for this name";
    } else if (verified == X509_V_ERR_CERT_HAS_EXPIRED ||
               verified == X509_V_ERR_CERT_NOT_YET_VALID) {
      failure.detail += "check the dates of the peer's certificate and this machine's clock";
    } else {
      failure.detail +=
          "check that " + tls_.configKey + ".CaCertificates (now " + tls_.caDescription() +
          ") holds the CA that signed the peer's certificate, and that the certificate is issued "
          "for \"" +
          host_ + "\"";
    }
  } else if (sslError == SSL_ERROR_SSL && refusesOurCertificate(code)) {
    failure.permanent = true;
    failure.detail = peer_ + ": the peer refused our TLS certificate (" + reason + "); ";
    if (tls_.certificate.empty()) {
      failure.detail +=
          "it wants a client certificate: set " + tls_.configKey + ".Certificate and .PrivateKey";
    } else {
      failure.detail += "check that the peer trusts the CA that signed " + tls_.certificate +
                        " and that the certificate has not expired";
    }
  } else if (sslError == SSL_ERROR_SSL && nothingInCommon(code)) {
    failure.permanent = true;
    failure.detail = peer_ + ": no TLS version or cipher suite in common with the peer (" + reason +
                     "); check " + tls_.configKey + ".Profile (now " + tlsProfileName(profile_) +
                     ") against the peer's TLS profile";
  } else if (sslError == SSL_ERROR_SSL && code == SSL_R_WRONG_VERSION_NUMBER) {
    failure.permanent = true;
    failure.detail = peer_ + ": the peer does not answer in TLS (" + reason +
                     "); check that the Port is the peer's DICOM TLS port, or remove " +
                     tls_.configKey + " if the peer speaks plain DICOM";
  } else if (savedErrno == EAGAIN || savedErrno == EWOULDBLOCK) {
    failure.detail =
        peer_ + ": no answer to the TLS handshake within " + std::to_string(timeoutSeconds_) + " s";
  } else {
    // A reset or a close: the peer may be restarting, or (if it lasts) it
    // speaks plain DICOM on that port, which resets at our TLS hello.
    if (savedErrno != 0)
      failure.detail = peer_ + ": TLS handshake failed: " + std::strerror(savedErrno);
    else if (!reason.empty())
      failure.detail = peer_ + ": TLS handshake failed: " + reason;
    else
      failure.detail = peer_ + ": the peer closed the connection during the TLS handshake";
    failure.detail +=
        " (if this lasts, check that Port is the peer's DICOM TLS port and that the peer accepts "
        "TLS connections from this address)";
  }
  failure_ = std::move(failure);
  handshaking_ = false;
}

}  // namespace router
