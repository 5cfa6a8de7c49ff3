#include "plugins/core/queue/PostgresPseudonyms.h"

#include <cstdio>

#include "plugins/core/queue/StoredForm.h"

namespace router::pg_pseudonyms {

const char* const kSchema = R"SQL(
CREATE TABLE IF NOT EXISTS pseudonyms (
  project TEXT NOT NULL,
  patient_key TEXT NOT NULL,
  pseudonym TEXT NOT NULL,
  number BIGINT NOT NULL DEFAULT 0,
  patient_id TEXT NOT NULL DEFAULT '',
  patient_name TEXT NOT NULL DEFAULT '',
  first_seen BIGINT NOT NULL,
  last_seen BIGINT NOT NULL,
  PRIMARY KEY (project, patient_key));
CREATE UNIQUE INDEX IF NOT EXISTS pseudonyms_pseudonym ON pseudonyms(project, pseudonym);
)SQL";

std::string assign(pg::Connection& c, const std::string& project, const std::string& patientKey,
                   const std::string& patientId, const std::string& patientName, const std::string& prefix,
                   int64_t nowMs) {
  pg::Transaction tx(c);
  c.exec("SELECT pg_advisory_xact_lock(hashtext('orthanc-router pseudonyms'), hashtext($1))", {project});
  pg::Result known = c.exec("UPDATE pseudonyms SET last_seen=$3 WHERE project=$1 AND patient_key=$2 RETURNING pseudonym",
                            {project, patientKey, nowMs});
  if (!known.empty()) {
    tx.commit();
    return known.text(0, 0);
  }
  const int64_t number =
      c.exec("SELECT COALESCE(MAX(number), 0) + 1 FROM pseudonyms WHERE project=$1", {project}).int64(0, 0);
  char digits[24];
  std::snprintf(digits, sizeof digits, "%06lld", static_cast<long long>(number));
  const std::string pseudonym = prefix + "-" + digits;
  c.exec("INSERT INTO pseudonyms(project, patient_key, pseudonym, number, patient_id, patient_name, first_seen, "
         "last_seen) VALUES($1,$2,$3,$4,$5,$6,$7,$7)",
         {project, patientKey, pseudonym, number, patientId, patientName, nowMs});
  tx.commit();
  return pseudonym;
}

void record(pg::Connection& c, const PseudonymEntry& e, int64_t nowMs) {
  c.exec("INSERT INTO pseudonyms(project, patient_key, pseudonym, patient_id, patient_name, first_seen, last_seen) "
         "VALUES($1,$2,$3,$4,$5,$6,$6) ON CONFLICT (project, patient_key) DO UPDATE SET "
         "last_seen=excluded.last_seen, pseudonym=excluded.pseudonym, "
         "patient_id=CASE WHEN excluded.patient_id<>'' THEN excluded.patient_id ELSE pseudonyms.patient_id END, "
         "patient_name=CASE WHEN excluded.patient_name<>'' THEN excluded.patient_name ELSE pseudonyms.patient_name END",
         {e.project, e.patientKey, e.pseudonym, e.patientId, e.patientName, nowMs});
}

std::optional<PseudonymEntry> find(pg::Connection& c, const std::string& project, const std::string& pseudonym) {
  pg::Result r = c.exec("SELECT project, pseudonym, patient_key, patient_id, patient_name, first_seen, last_seen "
                        "FROM pseudonyms WHERE project=$1 AND pseudonym=$2",
                        {project, pseudonym});
  if (r.empty()) return std::nullopt;
  PseudonymEntry e;
  e.project = r.text(0, 0);
  e.pseudonym = r.text(0, 1);
  e.patientKey = r.text(0, 2);
  e.patientId = r.text(0, 3);
  e.patientName = r.text(0, 4);
  e.firstSeen = stored::fromMs(r.int64(0, 5));
  e.lastSeen = stored::fromMs(r.int64(0, 6));
  return e;
}

}  // namespace router::pg_pseudonyms
