// queue_bench: jobs per second through the queue, SQLite against PostgreSQL,
// on one node, in the same run. One job is what the appliance does for one
// instance routed to one destination: the change recorded, the intake item
// claimed and routed (one job enqueued), the job claimed and completed.
//   serial: one thread does all of it, instance after instance (the latency
//           of the queue calls, summed);
//   parallel: the instances recorded, then 2 routing and 4 delivery threads
//           at once (as Router runs them), until every job is completed.
// PostgreSQL runs with its durable defaults (a commit is synced: fsync and
// synchronous_commit on), started by the bench itself (tests/unit/
// postgres_server.h); "postgresql async" is the same server with
// synchronous_commit=off for its database, which like SQLite's
// synchronous=NORMAL may lose the newest commits on a power loss, never on a
// crash. Prints each figure and its ratio to SQLite; never asserts a timing.
// Usage: queue_bench [--jobs N]
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "plugins/core/queue/Queue.h"
#include "tests/unit/postgres_server.h"

namespace {

using router::Queue;
using Steady = std::chrono::steady_clock;

router::Route route() {
  router::Route r;
  r.destination = "pacs";
  return r;
}

double serial(Queue& q, int jobs, int64_t& seq) {
  const auto start = Steady::now();
  for (int i = 0; i < jobs; ++i) {
    ++seq;
    q.recordChanges({{seq, "i" + std::to_string(seq)}}, seq, false);
    auto item = q.claimIntake();
    q.finishRouting(item->id, "1.2.3." + std::to_string(seq), {route()});
    q.completeJob(q.claimJob("pacs")->id);
  }
  return jobs / std::chrono::duration<double>(Steady::now() - start).count();
}

double parallel(Queue& q, int jobs, int64_t& seq) {
  std::vector<router::Change> changes;
  for (int i = 0; i < jobs; ++i) {
    ++seq;
    changes.push_back({seq, "i" + std::to_string(seq)});
  }
  const auto start = Steady::now();
  for (size_t at = 0; at < changes.size(); at += 100) {  // Intake takes the log in pages
    std::vector<router::Change> page(changes.begin() + at, changes.begin() + std::min(at + 100, changes.size()));
    q.recordChanges(page, page.back().seq, false);
  }
  std::atomic<int> routed{0}, completed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([&] {
      while (auto item = q.claimIntake()) {
        q.finishRouting(item->id, "1.2.3." + std::to_string(item->changeSeq), {route()});
        ++routed;
      }
    });
  }
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      while (completed < jobs) {
        if (auto job = q.claimJob("pacs")) {
          q.completeJob(job->id);
          ++completed;
        } else {
          std::this_thread::sleep_for(std::chrono::microseconds(200));  // routing is behind
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  return jobs / std::chrono::duration<double>(Steady::now() - start).count();
}

struct Figures {
  double serial = 0, parallel = 0;
};

Figures measure(const std::function<std::unique_ptr<Queue>()>& open, int jobs) {
  auto q = open();
  int64_t seq = 0;
  serial(*q, std::max(50, jobs / 10), seq);  // warm-up: statements prepared, caches filled
  Figures f;
  f.serial = serial(*q, jobs, seq);
  f.parallel = parallel(*q, jobs, seq);
  return f;
}

}  // namespace

int main(int argc, char** argv) {
  int jobs = 3000;
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::strcmp(argv[i], "--jobs") == 0) jobs = std::max(100, std::atoi(argv[i + 1]));
  }
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("router-queue-bench-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  auto& server = router::testing_pg::PostgresServer::instance();
  server.durable(true);
  int status = 0;
  try {
    server.createDatabase("bench");
    server.createDatabase("bench_async");
    router::testing_pg::PostgresServer::exec(server.uri("postgres"),
                                             "ALTER DATABASE bench_async SET synchronous_commit=off");
    struct Row {
      const char* name;
      Figures f;
    };
    std::vector<Row> rows;
    rows.push_back({"sqlite", measure([&] { return router::openQueue((dir / "queue.sqlite").string()); }, jobs)});
    rows.push_back({"postgresql", measure([&] { return router::openQueue(server.uri("bench")); }, jobs)});
    rows.push_back({"postgresql async", measure([&] { return router::openQueue(server.uri("bench_async")); }, jobs)});
    std::printf("==== queue: jobs/s through the queue, one node, %d jobs (record, route, claim, complete) ====\n", jobs);
    std::printf("%-18s %12s %8s %12s %8s\n", "backend", "serial", "ratio", "parallel", "ratio");
    for (const Row& r : rows) {
      std::printf("%-18s %12.0f %7.2fx %12.0f %7.2fx\n", r.name, r.f.serial, r.f.serial / rows[0].f.serial,
                  r.f.parallel, r.f.parallel / rows[0].f.parallel);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "queue_bench: %s\n", e.what());
    status = 1;
  }
  server.stop();
  std::filesystem::remove_all(dir);
  return status;
}
