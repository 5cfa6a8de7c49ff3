#include "plugins/core/destinations/dicom/DicomKind.h"

#include "plugins/core/destinations/dicom/DicomDestination.h"
#include "plugins/core/destinations/dicom/DicomTransport.h"
#include "transcoders/TransferSyntax.h"

namespace router {
namespace {

void checkAet(const std::string& aet, const std::string& key) {
  if (aet.empty() || aet.size() > 16) ConfigSection::fail(key, "an AE title has 1 to 16 characters");
}

// "Tls": the keys every TLS destination shares, and the DICOM profile.
void parseDicomTls(const ConfigSection& parent, const std::string& baseDir, DicomSettings& d) {
  std::set<std::string> known = tlsKeys();
  known.insert("Profile");
  ConfigSection s(parent.raw("Tls"), parent.key("Tls"), known);
  d.tls = parseTls(s, parent.key("Tls"), baseDir);
  const std::string profile = s.string("Profile", tlsProfileName(TlsProfile::BCP195NonDowngrading));
  bool found = false;
  for (TlsProfile candidate :
       {TlsProfile::BCP195, TlsProfile::BCP195NonDowngrading, TlsProfile::BCP195Extended}) {
    if (profile == tlsProfileName(candidate)) {
      d.tlsProfile = candidate;
      found = true;
    }
  }
  if (!found) {
    ConfigSection::fail(s.key("Profile"), "unknown TLS profile \"" + profile +
                                              "\" (use \"BCP195-ND\", \"BCP195\" or \"BCP195-Extended\")");
  }
}

class DicomKind final : public DestinationKind {
 public:
  std::string name() const override { return "dicom"; }
  std::set<std::string> keys() const override {
    return {"AET", "Host", "Port", "Associations", "TransferSyntaxes", "Timeout", "StorageCommitment",
            "StorageCommitmentTimeout", "Tls"};
  }

  std::shared_ptr<const DestinationSettings> parse(const ConfigSection& s, const std::string& baseDir) const override {
    auto d = std::make_shared<DicomSettings>();
    d->aet = s.string("AET", "", true);
    checkAet(d->aet, s.key("AET"));
    d->host = s.string("Host", "", true);
    d->port = s.integer("Port", 0, 1, 65535, true);
    d->associations = s.integer("Associations", 1, 1, 32);
    d->timeout = std::chrono::seconds(s.integer("Timeout", 30, 1, 3600));
    d->storageCommitment = s.boolean("StorageCommitment", false);
    d->storageCommitmentTimeout = std::chrono::seconds(s.integer("StorageCommitmentTimeout", 120, 1, 24 * 3600));
    if (s.has("TransferSyntaxes")) {
      const Json::Value& list = s.raw("TransferSyntaxes");
      if (!list.isArray()) ConfigSection::fail(s.key("TransferSyntaxes"), "must be a list of keywords or UIDs");
      for (const auto& item : list) {
        std::optional<std::string> uid = item.isString() ? resolveTransferSyntax(item.asString()) : std::nullopt;
        if (!uid) {
          ConfigSection::fail(s.key("TransferSyntaxes"),
                              "unknown transfer syntax \"" + (item.isString() ? item.asString() : std::string("?")) +
                                  "\" (use a keyword such as JPEGLSLossless or a UID)");
        }
        if (!associationCanCarry(*uid)) {
          ConfigSection::fail(s.key("TransferSyntaxes"),
                              transferSyntaxName(*uid) + " cannot be sent on a DICOM association with DCMTK 3.6.7 "
                              "(it does not know that syntax); remove it: instances in it are converted to what "
                              "the peer accepts");
        }
        d->transferSyntaxes.push_back(*uid);
      }
    }
    if (s.has("Tls")) parseDicomTls(s, baseDir, *d);
    return d;
  }
};

}  // namespace

std::unique_ptr<Destination> DicomSettings::make(const DestinationConfig& config,
                                                 const DestinationContext& context) const {
  return std::make_unique<DicomDestination>(config, context.localAet, context.commitments);
}

std::string tlsProfileName(TlsProfile profile) {
  switch (profile) {
    case TlsProfile::BCP195:
      return "BCP195";
    case TlsProfile::BCP195NonDowngrading:
      return "BCP195-ND";
    case TlsProfile::BCP195Extended:
      return "BCP195-Extended";
  }
  return "?";
}

StatusFields DicomSettings::status() const {
  StatusFields fields = {{"AET", aet},
                         {"Host", host},
                         {"Port", int64_t{port}},
                         {"Associations", int64_t{associations}},
                         {"StorageCommitment", storageCommitment}};
  fields.push_back({"Tls", tls ? tlsProfileName(tlsProfile) + ", " + tls->summary() : std::string("off")});
  return fields;
}

const DestinationKind& dicomKind() {
  static const DicomKind kind;
  return kind;
}

std::shared_ptr<const DicomSettings> parseOrthancModality(const Json::Value& value, const std::string& path) {
  Json::Value aet, host, port;
  if (value.isArray() && value.size() >= 3) {
    aet = value[0];
    host = value[1];
    port = value[2];
  } else if (value.isObject()) {
    aet = value["AET"];
    host = value["Host"];
    port = value["Port"];
  } else {
    ConfigSection::fail(path, "must be [\"AET\", \"host\", port] or an object with AET, Host and Port");
  }
  if (!aet.isString()) ConfigSection::fail(path, "AET missing");
  if (!host.isString()) ConfigSection::fail(path, "Host missing");
  auto d = std::make_shared<DicomSettings>();
  d->aet = aet.asString();
  checkAet(d->aet, path);
  d->host = host.asString();
  if (port.isString()) {
    try {
      d->port = std::stoi(port.asString());
    } catch (const std::exception&) {
      ConfigSection::fail(path, "Port must be a number");
    }
  } else if (port.isInt()) {
    d->port = port.asInt();
  } else {
    ConfigSection::fail(path, "Port missing");
  }
  if (d->port < 1 || d->port > 65535) ConfigSection::fail(path, "Port must be between 1 and 65535");
  return d;
}

}  // namespace router
