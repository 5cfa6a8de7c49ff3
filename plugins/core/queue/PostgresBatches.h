// The PostgreSQL side of series and study batches (Queue.h, BatchQueue):
// the same tables and semantics as SqliteBatches.cpp, for several nodes at
// once. Functions of one pooled connection, called inside PostgresQueue's
// transactions. Where SQLite relies on its single writer, these lock: a
// batch row is locked (FOR UPDATE) before its state or its jobs change,
// and a routed instance joins its batch under an advisory lock on
// (level, UID, destination), so two nodes never open two batches of one
// series, nor add a held job to a batch being released.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <vector>

#include "plugins/core/model/Route.h"
#include "plugins/core/queue/Postgres.h"
#include "plugins/core/queue/Queue.h"

namespace router::pg_batches {

// Created with the queue (CREATE ... IF NOT EXISTS), after the jobs table.
extern const char* const kSchema;

// One job row; defined in PostgresQueue.cpp, which owns the jobs table.
void insertJob(pg::Connection& c, const std::string& instanceId, const std::string& sopInstanceUid,
               const Route& route, JobState state, int64_t batchId, int64_t sortKey, int64_t nowMs);

// See SqliteBatches.h: the same functions, the same meaning.
void enqueue(pg::Connection& c, const std::string& instanceId, const RoutedInstance& instance, const Route& route,
             int64_t nowMs);
std::vector<Batch> releaseDue(pg::Connection& c, int64_t nowMs, std::optional<int64_t>& nextDueMs);
bool release(pg::Connection& c, int64_t batchId, const std::string& because, int64_t nowMs,
             std::initializer_list<BatchState> from);
bool setState(pg::Connection& c, int64_t batchId, BatchState from, BatchState to);
bool cancel(pg::Connection& c, int64_t batchId);
int settle(pg::Connection& c, int64_t batchId, int64_t nowMs);
// Locks a batch's row until the transaction ends (before its jobs go).
void lock(pg::Connection& c, int64_t batchId);

std::vector<Batch> toDecide(pg::Connection& c, int limit);
std::vector<BatchSeries> series(pg::Connection& c, int64_t batchId);
bool decide(pg::Connection& c, int64_t batchId, const std::vector<Route>& routes, int64_t nowMs);
bool holdDecision(pg::Connection& c, int64_t batchId, const std::string& reason);

// Forgets at most limit delivered or cancelled batches that ended before
// beforeMs, with their members and requirements; returns how many.
int prune(pg::Connection& c, int64_t beforeMs, int limit);

std::optional<Batch> get(pg::Connection& c, int64_t batchId);
std::vector<Batch> list(pg::Connection& c, std::optional<BatchState> state, int limit);
void countInto(pg::Connection& c, QueueDepth& depth);

}  // namespace router::pg_batches
