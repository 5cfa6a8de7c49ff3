// A real PostgreSQL server for tests: Debian's postgresql 15 binaries, a
// cluster made by initdb in a temp folder, listening on 127.0.0.1 on a free
// port, ended by its PID. PostgreSQL refuses to run as root, so as root the
// cluster belongs to Debian's postgres user and both initdb and the server
// run as that user (the process switches before exec, so the PID we hold is
// the server's own). Started on first use, so a test program that never asks
// for it pays nothing; stopped by stop() (a gtest Environment's TearDown)
// or, if the test process dies first, by the parent-death signal.
//
// Missing binaries are an error, not a skip: ./appliance installs them.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <grp.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace router::testing_pg {

inline const char* const kBinDir = "/usr/lib/postgresql/15/bin";
inline const char* const kUser = "router";  // the cluster's superuser (initdb -U)

class PostgresServer {
 public:
  static PostgresServer& instance() {
    static PostgresServer server;
    return server;
  }

  // Before the first use: run with the server's durable defaults (fsync,
  // synchronous_commit, full_page_writes on), for benchmarks. Tests run
  // without them: the data is thrown away at the end anyway.
  void durable(bool on) { durable_ = on; }

  // A libpq URI of database `name` on the running server (started if needed).
  std::string uri(const std::string& name) {
    start();
    return "postgresql://" + std::string(kUser) + "@127.0.0.1:" + std::to_string(port_) + "/" + name;
  }

  // Creates database `name` (fresh, empty).
  void createDatabase(const std::string& name) { exec(uri("postgres"), "CREATE DATABASE " + name); }

  // Runs one statement (no transaction) on the database at uri; throws on failure.
  static void exec(const std::string& uri, const std::string& sql) {
    std::unique_ptr<PGconn, void (*)(PGconn*)> c(PQconnectdb(uri.c_str()), PQfinish);
    if (PQstatus(c.get()) != CONNECTION_OK) throw std::runtime_error("test PostgreSQL: " + std::string(PQerrorMessage(c.get())));
    std::unique_ptr<PGresult, void (*)(PGresult*)> r(PQexec(c.get(), sql.c_str()), PQclear);
    const ExecStatusType status = PQresultStatus(r.get());
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
      throw std::runtime_error("test PostgreSQL: " + sql + ": " + PQresultErrorMessage(r.get()));
    }
  }

  // The first column of the first row of a query, as text.
  static std::string query(const std::string& uri, const std::string& sql) {
    std::unique_ptr<PGconn, void (*)(PGconn*)> c(PQconnectdb(uri.c_str()), PQfinish);
    if (PQstatus(c.get()) != CONNECTION_OK) throw std::runtime_error("test PostgreSQL: " + std::string(PQerrorMessage(c.get())));
    std::unique_ptr<PGresult, void (*)(PGresult*)> r(PQexec(c.get(), sql.c_str()), PQclear);
    if (PQresultStatus(r.get()) != PGRES_TUPLES_OK || PQntuples(r.get()) < 1) {
      throw std::runtime_error("test PostgreSQL: " + sql + ": " + PQresultErrorMessage(r.get()));
    }
    return PQgetvalue(r.get(), 0, 0);
  }

  // Ends the server by its PID (fast shutdown) and removes its folder.
  void stop() {
    std::lock_guard<std::mutex> lock(mutex_);
    if (pid_ > 0) {
      ::kill(pid_, SIGINT);
      if (!waitFor(pid_, std::chrono::seconds(20))) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, nullptr, 0);
      }
      pid_ = 0;
    }
    if (!dir_.empty()) {
      std::error_code ec;
      std::filesystem::remove_all(dir_, ec);
      dir_.clear();
    }
  }

  // Stops the server abruptly and starts it again on the same port and
  // data (what a PostgreSQL restart looks like to its clients).
  void restart() {
    std::lock_guard<std::mutex> lock(mutex_);
    if (pid_ <= 0) throw std::runtime_error("test PostgreSQL: not running");
    ::kill(pid_, SIGINT);
    waitFor(pid_, std::chrono::seconds(20));
    pid_ = 0;
    if (!launch()) throw std::runtime_error("test PostgreSQL: did not come back on port " + std::to_string(port_) + log());
  }

  ~PostgresServer() { stop(); }

 private:
  PostgresServer() = default;

  void start() {
    std::lock_guard<std::mutex> lock(mutex_);
    if (pid_ > 0) return;
    const std::string initdb = std::string(kBinDir) + "/initdb", postgres = std::string(kBinDir) + "/postgres";
    if (::access(initdb.c_str(), X_OK) != 0 || ::access(postgres.c_str(), X_OK) != 0) {
      throw std::runtime_error(std::string("PostgreSQL 15 is not installed (no ") + kBinDir +
                               "/initdb or postgres): install Debian's postgresql package (./appliance does)");
    }
    char tmpl[] = "/tmp/router-pg-XXXXXX";
    if (!::mkdtemp(tmpl)) throw std::runtime_error("test PostgreSQL: cannot make a temp folder");
    dir_ = tmpl;
    if (::geteuid() == 0) {
      const passwd* pw = ::getpwnam("postgres");
      if (!pw) throw std::runtime_error("test PostgreSQL: running as root, but there is no postgres user to run it as");
      uid_ = pw->pw_uid;
      gid_ = pw->pw_gid;
      if (::chown(dir_.c_str(), uid_, gid_) != 0) throw std::runtime_error("test PostgreSQL: cannot chown " + dir_);
    }
    const int status = run({initdb, "-D", dir_ + "/data", "-A", "trust", "-U", kUser, "-E", "UTF8", "--no-sync",
                            "--no-instructions"},
                           /*wait=*/true);
    if (status != 0) throw std::runtime_error("test PostgreSQL: initdb failed (status " + std::to_string(status) + ")" + log());
    // A port is free when we look; another test may take it before the server
    // binds it, so a few tries.
    for (int attempt = 0; attempt < 5; ++attempt) {
      port_ = freePort();
      if (launch()) return;
    }
    throw std::runtime_error("test PostgreSQL: the server did not start" + log());
  }

  // Starts the server on port_; true once it accepts connections.
  bool launch() {
    std::vector<std::string> argv = {std::string(kBinDir) + "/postgres", "-D", dir_ + "/data", "-p",
                                     std::to_string(port_), "-k", dir_, "-c", "listen_addresses=127.0.0.1", "-c",
                                     "max_connections=200"};
    if (!durable_) {
      for (const char* setting : {"fsync=off", "synchronous_commit=off", "full_page_writes=off"}) {
        argv.push_back("-c");
        argv.push_back(setting);
      }
    }
    pid_ = run(argv, /*wait=*/false);
    const std::string ping = "host=127.0.0.1 port=" + std::to_string(port_) + " dbname=postgres user=" + kUser;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (std::chrono::steady_clock::now() < deadline) {
      if (PQping(ping.c_str()) == PQPING_OK) return true;
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {  // it gave up (port taken, ...)
        pid_ = 0;
        return false;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = 0;
    return false;
  }

  // fork + (as root: become postgres) + exec; output appended to dir_/log.
  // wait: returns the exit status; else the child's PID.
  int run(const std::vector<std::string>& argv, bool wait) {
    const std::string logPath = dir_ + "/log";
    const pid_t pid = ::fork();
    if (pid < 0) throw std::runtime_error("test PostgreSQL: fork failed");
    if (pid == 0) {
      const int fd = ::open(logPath.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      if (fd >= 0) {
        ::dup2(fd, 1);
        ::dup2(fd, 2);
      }
      if (uid_ != 0 && (::setgroups(0, nullptr) != 0 || ::setgid(gid_) != 0 || ::setuid(uid_) != 0)) ::_exit(126);
      ::prctl(PR_SET_PDEATHSIG, SIGINT);  // after setuid, which clears it
      std::vector<char*> args;
      for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
      args.push_back(nullptr);
      ::execv(args[0], args.data());
      ::_exit(127);
    }
    if (!wait) return pid;
    int status = 0;
    ::waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }

  static bool waitFor(pid_t pid, std::chrono::seconds limit) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
      if (::waitpid(pid, nullptr, WNOHANG) == pid) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  }

  static int freePort() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t size = sizeof addr;
    if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &size) != 0) {
      if (fd >= 0) ::close(fd);
      throw std::runtime_error("test PostgreSQL: no free port");
    }
    ::close(fd);
    return ntohs(addr.sin_port);
  }

  // The end of the server's log, for an error message.
  std::string log() const {
    std::ifstream in(dir_ + "/log");
    std::stringstream text;
    text << in.rdbuf();
    std::string all = text.str();
    return all.empty() ? "" : "; its log ends: " + all.substr(all.size() > 2000 ? all.size() - 2000 : 0);
  }

  std::mutex mutex_;
  std::string dir_;
  pid_t pid_ = 0;
  int port_ = 0;
  uid_t uid_ = 0;
  gid_t gid_ = 0;
  bool durable_ = false;
};

}  // namespace router::testing_pg
