// The SQLite side of the de-identification mapping table (Queue.h,
// PseudonymQueue): pseudonym <-> patient, per project. Functions of
// SqliteQueue.cpp's connection, called under its mutex, each in its own
// transaction; kept apart so that the queue file stays readable.
#pragma once

#include <optional>
#include <string>

#include "plugins/core/queue/Queue.h"
#include "plugins/core/queue/Sqlite.h"

namespace router::sqlite_pseudonyms {

// Created with the queue (CREATE ... IF NOT EXISTS; schema version 3).
extern const char* const kSchema;

std::string assign(sqlite::Database& db, const std::string& project, const std::string& patientKey,
                   const std::string& patientId, const std::string& patientName,
                   const std::string& prefix, int64_t nowMs);
void record(sqlite::Database& db, const PseudonymEntry& entry, int64_t nowMs);
std::optional<PseudonymEntry> find(sqlite::Database& db, const std::string& project,
                                   const std::string& pseudonym);

}  // namespace router::sqlite_pseudonyms
