// Router.Deidentification's projects applied to routes (see Projects.h).
#include "plugins/core/deid/Projects.h"

#include "plugins/core/deid/ProfileTable.h"

namespace router::deid {

// Pseudonyms from the mapping table ("table" identity mode), remembered in
// memory once assigned (an assignment never changes).
class Projects::TableSource : public PseudonymSource {
 public:
  explicit TableSource(PseudonymQueue& table) : table_(table) {}

  std::string pseudonymFor(const std::string& project, const std::string& patientKey,
                           const std::string& patientId, const std::string& patientName) override {
    const std::string key = project + '\0' + patientKey;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      auto known = assigned_.find(key);
      if (known != assigned_.end()) return known->second;
    }
    std::string pseudonym;
    try {
      pseudonym = table_.assignPseudonym(project, patientKey, patientId, patientName, KeyedHash::prefixOf(project));
    } catch (const std::exception& e) {
      throw MappingTableError(std::string("the pseudonym cannot be taken from the mapping table: ") + e.what());
    }
    std::lock_guard<std::mutex> lock(mutex_);
    if (assigned_.size() > 100000) assigned_.clear();
    assigned_.emplace(key, pseudonym);
    return pseudonym;
  }

 private:
  PseudonymQueue& table_;
  std::mutex mutex_;
  std::map<std::string, std::string> assigned_;
};

Projects::Projects(const DeidentificationConfig& config, PseudonymQueue* table)
    : config_(config),
      table_(table),
      tableSource_(table ? std::make_unique<TableSource>(*table) : nullptr) {}

Projects::~Projects() = default;

const DeidProjectConfig* Projects::project(const std::string& name) const {
  auto it = config_.projects.find(name);
  return it == config_.projects.end() ? nullptr : &it->second;
}

std::string Projects::cacheKey(const Deidentify& route) {
  if (!route.active()) return {};
  std::string key = "deid:" + route.project + "|" + route.profile;
  for (const std::string& option : route.options) key += "|" + option;
  return key;
}

std::shared_ptr<const Deidentifier> Projects::deidentifierFor(const Deidentify& route) {
  const std::string key = cacheKey(route);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto made = made_.find(key);
    if (made != made_.end()) return made->second;
  }
  const DeidProjectConfig* p = project(route.project);
  if (p == nullptr) {
    std::string known;
    for (const auto& [name, unused] : config_.projects) known += (known.empty() ? "" : ", ") + name;
    throw UnknownProjectError(
        "de-identification refused: the route names project \"" + route.project +
        "\", which Router.Deidentification.Projects does not have (" +
        (known.empty() ? std::string("none is configured") : "configured: " + known) +
        "); add it to the configuration or fix the rule, then retry the dead letters");
  }
  if (route.profile != "basic") {
    throw UnknownProjectError("de-identification refused: unknown profile \"" + route.profile +
                              "\" (only \"basic\")");
  }
  DeidOptions options;
  for (const std::string& name : route.options) {
    std::optional<ProfileOption> option = parseProfileOption(name);
    if (!option)
      throw UnknownProjectError("de-identification refused: unknown option \"" + name + "\"");
    options.options.insert(*option);
  }
  options.project = p->name;
  options.key = p->key;
  options.uidRoot = p->uidRoot;
  options.safePrivateTags = p->safePrivateTags;
  options.refuseBurnedIn = p->refuseBurnedIn;
  options.burnedInModalities = p->burnedInModalities;
  if (p->patientIdentity == PatientIdentityMode::Table) {
    if (!tableSource_)
      throw RouterError("de-identification: project " + p->name + " needs the mapping table");
    options.pseudonyms = tableSource_.get();
  }
  auto made = std::make_shared<const Deidentifier>(std::move(options));
  std::lock_guard<std::mutex> lock(mutex_);
  if (made_.size() > 1000) made_.clear();  // rules making option sets up
  return made_.emplace(key, made).first->second;
}

// Keyed pseudonyms are recorded for the lookup only where it is allowed: a
// project without Lookup keeps nothing that leads back to the patient.
// ("table" pseudonyms are recorded by their assignment.)
void Projects::remember(const DeidProjectConfig& p, const DeidResult& result) {
  if (!p.lookup || p.patientIdentity != PatientIdentityMode::Keyed || table_ == nullptr) return;
  const std::string key = p.name + '\0' + result.patientKey;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (recorded_.count(key)) return;
  }
  PseudonymEntry entry;
  entry.project = p.name;
  entry.pseudonym = result.pseudonym;
  entry.patientKey = result.patientKey;
  entry.patientId = result.originalPatientId;
  entry.patientName = result.originalPatientName;
  try {
    table_->recordPseudonym(entry);
  } catch (const std::exception& e) {
    throw MappingTableError(std::string("the pseudonym cannot be recorded in the mapping table (for the lookup): ") + e.what());
  }
  std::lock_guard<std::mutex> lock(mutex_);
  if (recorded_.size() > 100000) recorded_.clear();
  recorded_.insert(key);
}

DeidentifiedFile Projects::apply(const std::string& part10, const Deidentify& route) {
  std::shared_ptr<const Deidentifier> deidentifier = deidentifierFor(route);
  DeidentifiedFile out = deidentifyPart10(part10, *deidentifier);
  remember(*project(route.project), out.result);
  return out;
}

}  // namespace router::deid
