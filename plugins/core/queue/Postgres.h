// Thin RAII layer over libpq for the PostgreSQL queue: a connection that
// prepares each statement once (by SQL text), its results, transactions, and
// a small pool of connections.
//
// Parameters go as text ($1, $2 ...); the server infers their types from
// the statement (casts where it cannot). Results are read as text and
// converted here, so no binary formats or OIDs leak into the queue.
//
// Thread safety: a Connection, Result or Transaction is used by one thread
// at a time (the one holding its Pool lease). The Pool itself is safe to
// share: taking and giving back a connection happens under its mutex.
#pragma once

#include <libpq-fe.h>

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace router::pg {

struct ConnectionCloser {
  void operator()(PGconn* c) const { PQfinish(c); }
};
struct ResultClearer {
  void operator()(PGresult* r) const { PQclear(r); }
};

// One statement parameter, as text; nullptr is SQL NULL.
class Value {
 public:
  Value(int64_t v) : text_(std::to_string(v)) {}  // NOLINT: implicit on purpose, for {a, b, c} lists
  Value(int v) : text_(std::to_string(v)) {}      // NOLINT
  Value(std::string v) : text_(std::move(v)) {}   // NOLINT
  Value(const char* v) : text_(v) {}              // NOLINT
  Value(std::nullptr_t) {}                        // NOLINT
  const char* data() const { return text_ ? text_->c_str() : nullptr; }

 private:
  std::optional<std::string> text_;
};

// Array literals for unnest($1::text[]) and the like: one statement for many rows.
std::string textArray(const std::vector<std::string>& values);
std::string intArray(const std::vector<int64_t>& values);

class Result {
 public:
  explicit Result(PGresult* r) : result_(r) {}
  int rows() const { return PQntuples(result_.get()); }
  bool empty() const { return rows() == 0; }
  int64_t int64(int row, int column) const;
  std::string text(int row, int column) const;
  bool isNull(int row, int column) const { return PQgetisnull(result_.get(), row, column) != 0; }
  // Rows an INSERT/UPDATE/DELETE touched.
  int affected() const;

 private:
  friend class Connection;
  std::unique_ptr<PGresult, ResultClearer> result_;
};

class Connection {
 public:
  // uri: a libpq connection URI; label: how messages name the database
  // (host, port and name, never the password). Throws RouterError.
  Connection(const std::string& uri, std::string label);
  // Runs one statement, prepared on first use and kept for this connection.
  Result exec(const std::string& sql, std::initializer_list<Value> params = {});
  // Runs statements without parameters, unprepared (schema, VACUUM ...).
  void script(const std::string& sql);
  // Still usable: connected, and not inside a transaction left open.
  bool reusable() const;
  bool broken() const { return PQstatus(conn_.get()) != CONNECTION_OK; }

 private:
  [[noreturn]] void fail(const std::string& what, const PGresult* result) const;
  std::string label_;
  std::unique_ptr<PGconn, ConnectionCloser> conn_;
  std::unordered_map<std::string, std::string> prepared_;  // SQL text -> statement name
};

// BEGIN ... COMMIT; rolls back if not committed.
class Transaction {
 public:
  explicit Transaction(Connection& c);
  ~Transaction();
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  void commit();

 private:
  Connection& c_;
  bool done_ = false;
};

// Connections to one database, lent one per call. A connection found broken
// when it comes back is closed together with every idle one (a server
// restart breaks them all); the next call connects afresh.
class Pool {
 public:
  Pool(std::string uri, std::string label) : uri_(std::move(uri)), label_(std::move(label)) {}

  class Lease {
   public:
    Lease(Pool& pool, std::unique_ptr<Connection> c) : pool_(pool), c_(std::move(c)) {}
    ~Lease() { pool_.giveBack(std::move(c_)); }
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    Connection& operator*() const { return *c_; }
    Connection* operator->() const { return c_.get(); }

   private:
    Pool& pool_;
    std::unique_ptr<Connection> c_;
  };

  Lease take();
  const std::string& label() const { return label_; }

 private:
  void giveBack(std::unique_ptr<Connection> c);
  // More idle connections than this are closed (peak concurrency is the
  // appliance's worker threads, a few dozen at most).
  static constexpr size_t kMaxIdle = 16;
  const std::string uri_, label_;
  std::mutex mutex_;
  std::vector<std::unique_ptr<Connection>> idle_;
};

}  // namespace router::pg
