#include "plugins/core/queue/SqlitePseudonyms.h"

#include <cstdio>

namespace router::sqlite_pseudonyms {

using sqlite::Statement;
using sqlite::Transaction;

// One row per (project, patient). `number` orders a project's patients for
// the "table" identity mode (0 for keyed pseudonyms).
const char* const kSchema = R"SQL(
CREATE TABLE IF NOT EXISTS pseudonyms (
  project TEXT NOT NULL,
  patient_key TEXT NOT NULL,
  pseudonym TEXT NOT NULL,
  number INTEGER NOT NULL DEFAULT 0,
  patient_id TEXT NOT NULL DEFAULT '',
  patient_name TEXT NOT NULL DEFAULT '',
  first_seen INTEGER NOT NULL,
  last_seen INTEGER NOT NULL,
  PRIMARY KEY (project, patient_key));
CREATE UNIQUE INDEX IF NOT EXISTS pseudonyms_pseudonym ON pseudonyms(project, pseudonym);
)SQL";

namespace {
Clock::time_point fromMs(int64_t ms) {
  return Clock::time_point(std::chrono::milliseconds(ms));
}
}  // namespace

std::string assign(sqlite::Database& db, const std::string& project, const std::string& patientKey,
                   const std::string& patientId, const std::string& patientName,
                   const std::string& prefix, int64_t nowMs) {
  Transaction tx(db);
  Statement known(db, "SELECT pseudonym FROM pseudonyms WHERE project=?1 AND patient_key=?2");
  if (known.bind(1, project).bind(2, patientKey).step()) {
    std::string pseudonym = known.text(0);
    Statement(db, "UPDATE pseudonyms SET last_seen=?3 WHERE project=?1 AND patient_key=?2")
        .bind(1, project)
        .bind(2, patientKey)
        .bind(3, nowMs)
        .run();
    tx.commit();
    return pseudonym;
  }
  Statement last(db, "SELECT COALESCE(MAX(number), 0) FROM pseudonyms WHERE project=?1");
  last.bind(1, project).step();
  const int64_t number = last.int64(0) + 1;
  char digits[24];
  std::snprintf(digits, sizeof digits, "%06lld", static_cast<long long>(number));
  const std::string pseudonym = prefix + "-" + digits;
  Statement(
      db,
      "INSERT INTO pseudonyms(project, patient_key, pseudonym, number, patient_id, patient_name, "
      "first_seen, last_seen) VALUES(?1,?2,?3,?4,?5,?6,?7,?7)")
      .bind(1, project)
      .bind(2, patientKey)
      .bind(3, pseudonym)
      .bind(4, number)
      .bind(5, patientId)
      .bind(6, patientName)
      .bind(7, nowMs)
      .run();
  tx.commit();
  return pseudonym;
}

void record(sqlite::Database& db, const PseudonymEntry& e, int64_t nowMs) {
  Transaction tx(db);
  Statement(
      db,
      "INSERT INTO pseudonyms(project, patient_key, pseudonym, patient_id, patient_name, "
      "first_seen, "
      "last_seen) VALUES(?1,?2,?3,?4,?5,?6,?6) ON CONFLICT(project, patient_key) DO UPDATE SET "
      "last_seen=excluded.last_seen, pseudonym=excluded.pseudonym, "
      "patient_id=CASE WHEN excluded.patient_id<>'' THEN excluded.patient_id ELSE patient_id END, "
      "patient_name=CASE WHEN excluded.patient_name<>'' THEN excluded.patient_name ELSE "
      "patient_name END")
      .bind(1, e.project)
      .bind(2, e.patientKey)
      .bind(3, e.pseudonym)
      .bind(4, e.patientId)
      .bind(5, e.patientName)
      .bind(6, nowMs)
      .run();
  tx.commit();
}

std::optional<PseudonymEntry> find(sqlite::Database& db, const std::string& project,
                                   const std::string& pseudonym) {
  Statement s(
      db,
      "SELECT project, pseudonym, patient_key, patient_id, patient_name, first_seen, last_seen "
      "FROM pseudonyms WHERE project=?1 AND pseudonym=?2");
  if (!s.bind(1, project).bind(2, pseudonym).step()) return std::nullopt;
  PseudonymEntry e;
  e.project = s.text(0);
  e.pseudonym = s.text(1);
  e.patientKey = s.text(2);
  e.patientId = s.text(3);
  e.patientName = s.text(4);
  e.firstSeen = fromMs(s.int64(5));
  e.lastSeen = fromMs(s.int64(6));
  return e;
}

}  // namespace router::sqlite_pseudonyms
