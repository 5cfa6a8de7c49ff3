// The certificate settings every TLS-speaking destination shares (DICOM TLS
// for "dicom", HTTPS for "dicomweb" and "orthanc"): a destination's "Tls"
// section, read by one parser so that the same key means the same thing in
// every kind. Kinds with more TLS keys (dicom's "Profile") read those
// themselves from the same section.
//
// The files are checked when the configuration is read (they exist, hold
// what they should, the key is not password-protected and belongs to the
// certificate), so a wrong path stops the plugin at start with the key named,
// instead of failing every send later.
//
// Thread safety: immutable once parsed; every thread may read it.
#pragma once

#include <set>
#include <string>

#include "plugins/core/ConfigSection.h"

namespace router {

struct TlsSettings {
  // Where the keys live in the configuration ("Router.Destinations.pacs.Tls"),
  // so that errors met while sending can name what to fix.
  std::string configKey;
  // Trusted CA certificates (PEM): one file, or a folder prepared with
  // `openssl rehash`. Empty: the system's trusted CAs (/etc/ssl/certs).
  std::string caCertificates;
  bool caIsFolder = false;
  // Our own (client) certificate and its private key, both PEM; empty: none.
  // The key may sit in the certificate's file, then PrivateKey can be left out.
  std::string certificate;
  std::string privateKey;
  // Check the peer's certificate chain against the CAs and its name against
  // the host we connect to. Off only for tests against self-made peers.
  bool verify = true;

  // "the system's trusted CAs" or the CA path, for messages.
  std::string caDescription() const;
  // One line for GET /router/status ("verified against /etc/ca.pem, client certificate").
  std::string summary() const;
};

// CaCertificates, Certificate, PrivateKey, Verify.
std::set<std::string> tlsKeys();

// Reads the shared keys of a "Tls" section (the caller opened it with
// tlsKeys() and any keys of its own; configKey is its full name) and checks
// the files. Relative paths resolve against baseDir. Throws ConfigError
// naming the key.
TlsSettings parseTls(const ConfigSection& section, const std::string& configKey,
                     const std::string& baseDir);

}  // namespace router
