// The de-identification projects of Router.Deidentification, as delivery
// uses them: a route's deidentify = { project, profile, options } turned
// into the Deidentifier that applies it (made once per project and option
// set), with the project's key, UID root, safe private tags, burned-in
// policy and patient identity mode. In the "table" mode pseudonyms come from
// the queue database's mapping table; with Lookup allowed, every pseudonym
// given out is recorded there for the re-identification lookup.
//
// Thread safety: apply() may be called from any thread (the Deidentifiers
// are immutable; the map of them and the recorded-pseudonym memo are
// guarded by one mutex; the table synchronises itself).
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "plugins/core/Error.h"
#include "plugins/core/config/DeidConfig.h"
#include "plugins/core/deid/Deidentifier.h"
#include "plugins/core/model/Route.h"
#include "plugins/core/queue/Queue.h"

namespace router::deid {

// The route names a project that Router.Deidentification does not have.
class UnknownProjectError : public RouterError {
 public:
  using RouterError::RouterError;
};

// The mapping table (the queue database) could not be read or written: the
// de-identification did not happen and may succeed later (a full disk).
class MappingTableError : public RouterError {
 public:
  using RouterError::RouterError;
};

class Projects {
 public:
  // table: the mapping table (the queue); nullptr only where no project uses
  // the "table" mode or Lookup (tests).
  Projects(const DeidentificationConfig& config, PseudonymQueue* table);
  ~Projects();
  Projects(const Projects&) = delete;
  Projects& operator=(const Projects&) = delete;

  // part10 de-identified as the route says. Throws UnknownProjectError,
  // DeidentificationRefused (burned-in pixels), MappingTableError,
  // RouterError (unreadable).
  DeidentifiedFile apply(const std::string& part10, const Deidentify& route);

  const DeidProjectConfig* project(const std::string& name) const;

  // The text that identifies a route's de-identification in cache keys.
  static std::string cacheKey(const Deidentify& route);

 private:
  class TableSource;
  std::shared_ptr<const Deidentifier> deidentifierFor(const Deidentify& route);
  void remember(const DeidProjectConfig& project, const DeidResult& result);

  const DeidentificationConfig& config_;
  PseudonymQueue* table_;
  std::unique_ptr<TableSource> tableSource_;
  std::mutex mutex_;                                                 // guards the two below
  std::map<std::string, std::shared_ptr<const Deidentifier>> made_;  // by cacheKey
  std::set<std::string> recorded_;  // project NUL patientKey recorded for Lookup lately
};

}  // namespace router::deid
