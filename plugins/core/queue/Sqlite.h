// Thin RAII layer over the SQLite C API for the queue: a connection, prepared
// statements with typed binding, and transactions. Not thread-safe by itself:
// SqliteQueue serialises all use under its mutex.
//
// The connection keeps every statement it prepared, by SQL text: the queue
// runs the same few dozen statements thousands of times, and preparing one
// costs more than running it.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>

namespace router::sqlite {

struct DatabaseCloser {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
struct StatementFinalizer {
  void operator()(sqlite3_stmt* statement) const { sqlite3_finalize(statement); }
};

class Database {
 public:
  explicit Database(const std::string& path);
  sqlite3* handle() const { return db_.get(); }
  void exec(const std::string& sql);
  int64_t lastInsertId() const { return sqlite3_last_insert_rowid(db_.get()); }
  int changes() const { return sqlite3_changes(db_.get()); }
  const std::string& path() const { return path_; }

 private:
  friend class Statement;
  struct Cached {
    std::unique_ptr<sqlite3_stmt, StatementFinalizer> statement;
    bool inUse = false;
  };
  std::string path_;
  std::unique_ptr<sqlite3, DatabaseCloser> db_;
  std::unordered_map<std::string, Cached> statements_;  // destroyed before db_
};

// A prepared statement taken from the connection's cache for one use: reset
// and its bindings cleared when this object goes. The same SQL may be open
// twice at once (the second gets its own, uncached statement).
class Statement {
 public:
  Statement(Database& db, const std::string& sql);
  ~Statement();
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  Statement& bind(int index, int64_t value);
  Statement& bind(int index, int value) { return bind(index, static_cast<int64_t>(value)); }
  Statement& bind(int index, const std::string& value);
  Statement& bindNull(int index);
  // Steps once: true while a row is available.
  bool step();
  // Runs to completion (INSERT/UPDATE/DELETE).
  void run();
  int64_t int64(int column) const { return sqlite3_column_int64(statement_, column); }
  std::string text(int column) const;
  bool isNull(int column) const { return sqlite3_column_type(statement_, column) == SQLITE_NULL; }

 private:
  Database& db_;
  Database::Cached* cached_ = nullptr;                        // when borrowed from the cache
  std::unique_ptr<sqlite3_stmt, StatementFinalizer> own_;     // when not
  sqlite3_stmt* statement_ = nullptr;
};

// BEGIN IMMEDIATE ... COMMIT; rolls back if not committed.
class Transaction {
 public:
  explicit Transaction(Database& db);
  ~Transaction();
  void commit();

 private:
  Database& db_;
  bool done_ = false;
};

}  // namespace router::sqlite
