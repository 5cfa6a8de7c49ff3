// The SQLite side of series and study batches (Queue.h, BatchQueue): the
// tables, the way a routed instance joins its batch, and the release of a
// complete batch. Functions of SqliteQueue.cpp's connection, called under
// its mutex and inside its transactions; kept apart so that the queue file
// stays readable.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <vector>

#include "plugins/core/model/Route.h"
#include "plugins/core/queue/Queue.h"
#include "plugins/core/queue/Sqlite.h"

namespace router::sqlite_batches {

// Created with the queue (CREATE ... IF NOT EXISTS).
extern const char* const kSchema;

// One job row; defined in SqliteQueue.cpp, which owns the jobs table.
void insertJob(sqlite::Database& db, const std::string& instanceId, const std::string& sopInstanceUid,
               const Route& route, JobState state, int64_t batchId, int64_t sortKey, int64_t nowMs);

// Enqueues the job of a route that waits for its series or study (see
// RoutingQueue::finishRouting).
void enqueue(sqlite::Database& db, const std::string& instanceId, const RoutedInstance& instance,
             const Route& route, int64_t nowMs);

std::vector<Batch> releaseDue(sqlite::Database& db, int64_t nowMs, std::optional<int64_t>& nextDueMs);
bool release(sqlite::Database& db, int64_t batchId, const std::string& because, int64_t nowMs,
             std::initializer_list<BatchState> from);
bool setState(sqlite::Database& db, int64_t batchId, BatchState from, BatchState to);
bool cancel(sqlite::Database& db, int64_t batchId);
// A released batch with no job left is delivered (its jobs were sent, or
// purged by an operator). batchId 0: every released batch is looked at.
// Returns how many it settled.
int settle(sqlite::Database& db, int64_t batchId, int64_t nowMs);

// Released decisions (destination kStudyDecision), oldest first; their series;
// turning one into released study batches; holding one whose rule failed.
std::vector<Batch> toDecide(sqlite::Database& db, int limit);
std::vector<BatchSeries> series(sqlite::Database& db, int64_t batchId);
bool decide(sqlite::Database& db, int64_t batchId, const std::vector<Route>& routes, int64_t nowMs);
bool holdDecision(sqlite::Database& db, int64_t batchId, const std::string& reason);

// Forgets at most limit delivered or cancelled batches that ended before
// beforeMs, with their members and requirements; returns how many.
int prune(sqlite::Database& db, int64_t beforeMs, int limit);

std::optional<Batch> get(sqlite::Database& db, int64_t batchId);
std::vector<Batch> list(sqlite::Database& db, std::optional<BatchState> state, int limit);
// Per destination, the batches not delivered or cancelled, by state.
void countInto(sqlite::Database& db, QueueDepth& depth);

}  // namespace router::sqlite_batches
