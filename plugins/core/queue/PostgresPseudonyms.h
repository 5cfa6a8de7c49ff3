// The PostgreSQL side of the de-identification mapping table (Queue.h,
// PseudonymQueue): the same table and meaning as SqlitePseudonyms.cpp, shared
// by every node of the queue. A new patient's number is taken under an
// advisory lock on its project, so two nodes meeting the same new patient at
// once give it one pseudonym, and two new patients never get one number.
#pragma once

#include <optional>
#include <string>

#include "plugins/core/queue/Postgres.h"
#include "plugins/core/queue/Queue.h"

namespace router::pg_pseudonyms {

// Created with the queue (CREATE ... IF NOT EXISTS; schema version 3).
extern const char* const kSchema;

// Each in its own transaction.
std::string assign(pg::Connection& c, const std::string& project, const std::string& patientKey,
                   const std::string& patientId, const std::string& patientName, const std::string& prefix,
                   int64_t nowMs);
void record(pg::Connection& c, const PseudonymEntry& entry, int64_t nowMs);
std::optional<PseudonymEntry> find(pg::Connection& c, const std::string& project, const std::string& pseudonym);

}  // namespace router::pg_pseudonyms
