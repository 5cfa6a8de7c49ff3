#include "plugins/core/queue/Sqlite.h"

#include "plugins/core/Error.h"

namespace router::sqlite {
namespace {
[[noreturn]] void fail(sqlite3* db, const std::string& what) {
  throw RouterError("queue database: " + what + ": " + (db ? sqlite3_errmsg(db) : "out of memory"));
}
}  // namespace

Database::Database(const std::string& path) : path_(path) {
  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &raw,
                           SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  db_.reset(raw);
  if (rc != SQLITE_OK) fail(raw, "cannot open " + path);
  sqlite3_busy_timeout(raw, 5000);
}

void Database::exec(const std::string& sql) {
  char* message = nullptr;
  if (sqlite3_exec(db_.get(), sql.c_str(), nullptr, nullptr, &message) != SQLITE_OK) {
    std::string text = message ? message : "unknown error";
    sqlite3_free(message);
    throw RouterError("queue database " + path_ + ": " + text + " (in: " + sql.substr(0, 80) + ")");
  }
}

Statement::Statement(Database& db, const std::string& sql) : db_(db) {
  auto found = db.statements_.find(sql);
  if (found != db.statements_.end() && !found->second.inUse) {
    cached_ = &found->second;
    cached_->inUse = true;
    statement_ = cached_->statement.get();
    return;
  }
  sqlite3_stmt* raw = nullptr;
  if (sqlite3_prepare_v2(db.handle(), sql.c_str(), static_cast<int>(sql.size()), &raw, nullptr) != SQLITE_OK) {
    fail(db.handle(), "cannot prepare \"" + sql + "\"");
  }
  statement_ = raw;
  if (found == db.statements_.end()) {
    cached_ = &db.statements_[sql];
    cached_->statement.reset(raw);
    cached_->inUse = true;
  } else {
    own_.reset(raw);  // the cached one is open further up the stack
  }
}

Statement::~Statement() {
  sqlite3_reset(statement_);
  sqlite3_clear_bindings(statement_);
  if (cached_) cached_->inUse = false;
}

Statement& Statement::bind(int index, int64_t value) {
  if (sqlite3_bind_int64(statement_, index, value) != SQLITE_OK) fail(db_.handle(), "bind");
  return *this;
}

Statement& Statement::bind(int index, const std::string& value) {
  if (sqlite3_bind_text(statement_, index, value.data(), static_cast<int>(value.size()), SQLITE_TRANSIENT) !=
      SQLITE_OK) {
    fail(db_.handle(), "bind");
  }
  return *this;
}

Statement& Statement::bindNull(int index) {
  if (sqlite3_bind_null(statement_, index) != SQLITE_OK) fail(db_.handle(), "bind");
  return *this;
}

bool Statement::step() {
  int rc = sqlite3_step(statement_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  fail(db_.handle(), "query failed");
}

void Statement::run() {
  while (step()) {
  }
}

std::string Statement::text(int column) const {
  const unsigned char* value = sqlite3_column_text(statement_, column);
  int size = sqlite3_column_bytes(statement_, column);
  return value ? std::string(reinterpret_cast<const char*>(value), static_cast<size_t>(size)) : std::string();
}

Transaction::Transaction(Database& db) : db_(db) { Statement(db_, "BEGIN IMMEDIATE").run(); }

Transaction::~Transaction() {
  if (!done_) sqlite3_exec(db_.handle(), "ROLLBACK", nullptr, nullptr, nullptr);
}

void Transaction::commit() {
  Statement(db_, "COMMIT").run();
  done_ = true;
}

}  // namespace router::sqlite
