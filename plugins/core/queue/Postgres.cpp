#include "plugins/core/queue/Postgres.h"

#include <cstdlib>
#include <vector>

#include "plugins/core/Error.h"

namespace router::pg {

namespace {
std::string trimmed(const char* message) {
  std::string text = message ? message : "";
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text.empty() ? "unknown error" : text;
}
}  // namespace

std::string textArray(const std::vector<std::string>& values) {
  std::string out = "{";
  for (const std::string& v : values) {
    if (out.size() > 1) out += ',';
    out += '"';
    for (char c : v) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  return out + "}";
}

std::string intArray(const std::vector<int64_t>& values) {
  std::string out = "{";
  for (int64_t v : values) out += (out.size() > 1 ? "," : "") + std::to_string(v);
  return out + "}";
}

int64_t Result::int64(int row, int column) const {
  return std::strtoll(PQgetvalue(result_.get(), row, column), nullptr, 10);
}

std::string Result::text(int row, int column) const {
  return std::string(PQgetvalue(result_.get(), row, column),
                     static_cast<size_t>(PQgetlength(result_.get(), row, column)));
}

int Result::affected() const { return std::atoi(PQcmdTuples(result_.get())); }

Connection::Connection(const std::string& uri, std::string label) : label_(std::move(label)) {
  // The URI comes last so that its own settings win; a server that does not
  // answer fails the call after connect_timeout instead of hanging it.
  const char* keys[] = {"connect_timeout", "application_name", "dbname", nullptr};
  const char* values[] = {"10", "orthanc-router", uri.c_str(), nullptr};
  conn_.reset(PQconnectdbParams(keys, values, 1));
  if (!conn_) throw RouterError("PostgreSQL queue " + label_ + ": out of memory");
  if (PQstatus(conn_.get()) != CONNECTION_OK) {
    throw RouterError("PostgreSQL queue " + label_ + ": cannot connect: " + trimmed(PQerrorMessage(conn_.get())));
  }
  // Notices ("relation already exists, skipping") are not errors; keep them off stderr.
  PQsetNoticeProcessor(conn_.get(), [](void*, const char*) {}, nullptr);
  // Every statement is prepared once per connection (exec) and is short, on
  // indexed columns: planning it again at each call (PostgreSQL's default
  // picks custom plans while they look cheaper) was 14-40 % of the queue's
  // server time in cluster_bench's statement profile; one generic plan per
  // statement gave queue_bench about 1.1x the jobs/s (5 runs against 2).
  script("SET plan_cache_mode = force_generic_plan");
}

void Connection::fail(const std::string& what, const PGresult* result) const {
  std::string message = result ? PQresultErrorMessage(result) : "";
  if (message.empty()) message = PQerrorMessage(conn_.get());
  throw RouterError("PostgreSQL queue " + label_ + ": " + what + ": " + trimmed(message.c_str()) +
                    (broken() ? " (connection lost; the next call reconnects)" : ""));
}

Result Connection::exec(const std::string& sql, std::initializer_list<Value> params) {
  auto found = prepared_.find(sql);
  if (found == prepared_.end()) {
    std::string name = "q" + std::to_string(prepared_.size());
    Result prepared(PQprepare(conn_.get(), name.c_str(), sql.c_str(), static_cast<int>(params.size()), nullptr));
    if (PQresultStatus(prepared.result_.get()) != PGRES_COMMAND_OK) {
      fail("cannot prepare \"" + sql.substr(0, 120) + "\"", prepared.result_.get());
    }
    found = prepared_.emplace(sql, std::move(name)).first;
  }
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const Value& v : params) values.push_back(v.data());
  Result result(PQexecPrepared(conn_.get(), found->second.c_str(), static_cast<int>(values.size()), values.data(),
                               nullptr, nullptr, 0));
  const ExecStatusType status = PQresultStatus(result.result_.get());
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
    fail("query failed (\"" + sql.substr(0, 120) + "\")", result.result_.get());
  }
  return result;
}

void Connection::script(const std::string& sql) {
  Result result(PQexec(conn_.get(), sql.c_str()));
  const ExecStatusType status = PQresultStatus(result.result_.get());
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
    fail("\"" + sql.substr(0, 80) + "\" failed", result.result_.get());
  }
}

bool Connection::reusable() const {
  return !broken() && PQtransactionStatus(conn_.get()) == PQTRANS_IDLE;
}

Transaction::Transaction(Connection& c) : c_(c) { c_.exec("BEGIN"); }

Transaction::~Transaction() {
  if (done_ || c_.broken()) return;
  try {
    c_.exec("ROLLBACK");
  } catch (...) {
    // The connection is then not reusable and the pool closes it.
  }
}

void Transaction::commit() {
  c_.exec("COMMIT");
  done_ = true;
}

Pool::Lease Pool::take() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!idle_.empty()) {
      std::unique_ptr<Connection> c = std::move(idle_.back());
      idle_.pop_back();
      return Lease(*this, std::move(c));
    }
  }
  return Lease(*this, std::make_unique<Connection>(uri_, label_));  // connecting is slow: not under the lock
}

void Pool::giveBack(std::unique_ptr<Connection> c) {
  if (!c) return;
  std::lock_guard<std::mutex> lock(mutex_);
  if (c->broken()) {
    idle_.clear();  // most likely the server went away: the others are dead too
    return;
  }
  if (c->reusable() && idle_.size() < kMaxIdle) idle_.push_back(std::move(c));
}

}  // namespace router::pg
