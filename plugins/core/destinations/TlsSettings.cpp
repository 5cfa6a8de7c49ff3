// TlsSettings: the shared "Tls" keys and the checks of their files (see
// header). The files are opened with OpenSSL, the library that will use
// them (through DCMTK's dcmtls and through libcurl), so what passes here is
// what those accept.
#include "plugins/core/destinations/TlsSettings.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <memory>

namespace router {
namespace {

struct BioDeleter {
  void operator()(BIO* bio) const { BIO_free(bio); }
};
struct X509Deleter {
  void operator()(X509* cert) const { X509_free(cert); }
};
struct KeyDeleter {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
using BioPtr = std::unique_ptr<BIO, BioDeleter>;
using X509Ptr = std::unique_ptr<X509, X509Deleter>;
using KeyPtr = std::unique_ptr<EVP_PKEY, KeyDeleter>;

// A password-protected key would make OpenSSL (or DCMTK) ask for the password
// on the console: answer "no password" instead, so reading it fails here.
int noPassword(char*, int, int, void*) {
  return 0;
}

BioPtr openFile(const std::string& path, const std::string& key) {
  std::error_code error;
  if (!std::filesystem::exists(path, error))
    ConfigSection::fail(key, "\"" + path + "\" does not exist");
  if (std::filesystem::is_directory(path, error))
    ConfigSection::fail(key, "\"" + path + "\" is a folder, not a file");
  errno = 0;
  BioPtr bio(BIO_new_file(path.c_str(), "r"));
  if (!bio) {
    const int saved = errno;
    ERR_clear_error();
    ConfigSection::fail(key, "cannot read \"" + path + "\"" +
                                 (saved ? std::string(": ") + std::strerror(saved) : "") +
                                 " (the orthanc user must be able to read it)");
  }
  return bio;
}

// A CA folder is looked up by subject hash (names like 1a2b3c4d.0), as
// OpenSSL's c_rehash / `openssl rehash` make them.
bool hasHashedNames(const std::filesystem::path& folder) {
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(folder, error)) {
    const std::string name = entry.path().filename().string();
    if (name.size() < 10 || name[8] != '.') continue;
    bool hex = true;
    for (size_t i = 0; i < 8; ++i) hex = hex && std::isxdigit(static_cast<unsigned char>(name[i]));
    const char kind = name[9];
    if (hex && (std::isdigit(static_cast<unsigned char>(kind)) || kind == 'r')) return true;
  }
  return false;
}

void checkCaFile(const std::string& path, const std::string& key) {
  BioPtr bio = openFile(path, key);
  int count = 0;
  while (X509Ptr cert{PEM_read_bio_X509(bio.get(), nullptr, &noPassword, nullptr)}) ++count;
  ERR_clear_error();  // the end of the file reads as an error
  if (count == 0) {
    ConfigSection::fail(
        key, "\"" + path +
                 "\" holds no PEM certificate (\"-----BEGIN CERTIFICATE-----\"); "
                 "convert a DER file with: openssl x509 -inform der -in FILE -out FILE.pem");
  }
}

X509Ptr readCertificate(const std::string& path, const std::string& key) {
  BioPtr bio = openFile(path, key);
  X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, &noPassword, nullptr));
  ERR_clear_error();
  if (!cert)
    ConfigSection::fail(
        key, "\"" + path + "\" holds no PEM certificate (\"-----BEGIN CERTIFICATE-----\")");
  return cert;
}

KeyPtr readKey(const std::string& path, const std::string& key, bool quiet) {
  BioPtr bio = openFile(path, key);
  KeyPtr pkey(PEM_read_bio_PrivateKey(bio.get(), nullptr, &noPassword, nullptr));
  ERR_clear_error();
  if (!pkey && !quiet) {
    ConfigSection::fail(
        key, "cannot read a private key from \"" + path +
                 "\": it must be PEM and not protected by a password (remove the password with "
                 "`openssl pkey -in KEY -out KEY.plain` and let only the orthanc user read it)");
  }
  return pkey;
}

}  // namespace

std::set<std::string> tlsKeys() {
  return {"CaCertificates", "Certificate", "PrivateKey", "Verify"};
}

std::string TlsSettings::caDescription() const {
  if (caCertificates.empty()) return "the system's trusted CAs";
  return std::string(caIsFolder ? "the CA folder " : "the CA file ") + caCertificates;
}

std::string TlsSettings::summary() const {
  std::string text = verify ? "peer verified against " + caDescription() : "peer NOT verified";
  if (!certificate.empty()) text += ", client certificate " + certificate;
  return text;
}

TlsSettings parseTls(const ConfigSection& s, const std::string& configKey,
                     const std::string& baseDir) {
  TlsSettings tls;
  tls.configKey = configKey;
  tls.verify = s.boolean("Verify", true);

  tls.caCertificates = resolvePath(s.string("CaCertificates", ""), baseDir);
  if (s.has("CaCertificates")) {
    const std::string key = s.key("CaCertificates");
    if (tls.caCertificates.empty())
      ConfigSection::fail(key, "is empty (leave it out to trust the system's CAs)");
    std::error_code error;
    if (std::filesystem::is_directory(tls.caCertificates, error)) {
      tls.caIsFolder = true;
      if (!hasHashedNames(tls.caCertificates)) {
        ConfigSection::fail(key,
                            "the folder \"" + tls.caCertificates +
                                "\" has no certificates under hashed names (run `openssl rehash " +
                                tls.caCertificates + "`, or name a PEM file instead)");
      }
    } else {
      checkCaFile(tls.caCertificates, key);
    }
  }

  tls.certificate = resolvePath(s.string("Certificate", ""), baseDir);
  tls.privateKey = resolvePath(s.string("PrivateKey", ""), baseDir);
  if (s.has("PrivateKey") && tls.certificate.empty()) {
    ConfigSection::fail(s.key("PrivateKey"),
                        "is set without \"Certificate\" (the client certificate it belongs to)");
  }
  if (!tls.certificate.empty()) {
    X509Ptr cert = readCertificate(tls.certificate, s.key("Certificate"));
    KeyPtr key;
    if (tls.privateKey.empty()) {
      key = readKey(tls.certificate, s.key("Certificate"), true);
      if (!key) {
        ConfigSection::fail(s.key("PrivateKey"),
                            "missing: \"" + tls.certificate +
                                "\" holds no private key, so name the key's file here");
      }
      tls.privateKey = tls.certificate;
    } else {
      key = readKey(tls.privateKey, s.key("PrivateKey"), false);
    }
    if (X509_check_private_key(cert.get(), key.get()) != 1) {
      ERR_clear_error();
      ConfigSection::fail(s.key("PrivateKey"), "\"" + tls.privateKey +
                                                   "\" is not the key of the certificate \"" +
                                                   tls.certificate + "\"");
    }
  }
  return tls;
}

}  // namespace router
