// Router.Deidentification: the de-identification projects routes may name
// (deidentify = { project = "..." } in the rules). Each project has its own
// secret key (read from KeyFile at start), so its UIDs and pseudonyms are
// unrelated to any other project's; its UID root, its safe private tags, its
// burned-in pixel policy, where patient pseudonyms come from, and whether
// authorised re-identification (the REST lookup) is allowed.
//
// Parsed once at start by parseConfig(); immutable afterwards.
#pragma once

#include <json/value.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "plugins/core/deid/Deidentifier.h"

namespace router {

// Where a project's patient pseudonyms come from:
//   Keyed  <PROJECT>-<16 base32>: the keyed hash of the PatientID; whoever
//          holds the key recomputes it, on any appliance, with no table;
//   Table  <PROJECT>-<6 digits>: numbered in order of first arrival, kept in
//          the queue database's mapping table (the pseudonym says nothing
//          about the patient, even to whoever holds the key).
enum class PatientIdentityMode { Keyed, Table };

struct DeidProjectConfig {
  std::string name;
  std::string keyFile;
  std::string key;      // the KeyFile's content (trailing white space dropped)
  std::string uidRoot;  // empty: 2.25.<UUID>
  std::vector<deid::SafePrivateTag> safePrivateTags;
  bool refuseBurnedIn = true;
  std::optional<std::vector<std::string>> burnedInModalities;  // nullopt: the built-in list
  PatientIdentityMode patientIdentity = PatientIdentityMode::Keyed;
  // POST /router/deidentification/lookup answers for this project (and the
  // mapping pseudonym -> patient is recorded for it); otherwise 403.
  bool lookup = false;
};

struct DeidentificationConfig {
  std::map<std::string, DeidProjectConfig> projects;
};

// Keys a KeyFile must hold at least (e.g. `openssl rand -hex 32`: 64).
constexpr size_t kMinimumKeyFileCharacters = 32;

// Reads Router.Deidentification (value: that object); relative KeyFile paths
// from baseDir. Throws ConfigError naming the key: a KeyFile missing,
// unreadable, too short or readable by other users; an invalid UidRoot; an
// unknown key.
DeidentificationConfig parseDeidentification(const Json::Value& value, const std::string& baseDir);

}  // namespace router
