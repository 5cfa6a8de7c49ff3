// Orthanc as the core sees it, in memory: a changes log (NewInstance
// changes, numbered from 1) and the files of the instances stored with a
// file. Like a shared PostgreSQL index, a change may draw its number and
// become visible later (reserve, then commit), or never (a gap).
// Thread-safe: the router's threads read it while a test adds to it.
#pragma once

#include <algorithm>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "plugins/core/intake/InstanceStore.h"
#include "tests/generator/TestData.h"

namespace router {

class MemoryOrthanc : public InstanceStore {
 public:
  // `count` NewInstance changes of instances that have no file.
  void add(int count) {
    std::lock_guard<std::mutex> lock(mutex_);
    for (int i = 0; i < count; ++i) {
      ++last_;
      changes_.push_back({last_, "instance-" + std::to_string(last_)});
    }
  }
  // Stores a new 16x16 CT; returns its Orthanc id and SOP Instance UID.
  std::pair<std::string, std::string> store() {
    std::lock_guard<std::mutex> lock(mutex_);
    ++last_;
    testdata::ImageSpec spec =
        testdata::withIdentity(testdata::ctSeries(1, static_cast<uint32_t>(last_), 16, 16).front());
    std::string id = "instance-" + std::to_string(last_);
    files_[id] = testdata::makeInstance(spec);
    changes_.push_back({last_, id});
    return {id, spec.sopInstanceUid};
  }
  // A NewInstance change whose number is drawn now and that becomes visible
  // at commit(seq) (or never: a rolled-back transaction).
  int64_t reserve() {
    std::lock_guard<std::mutex> lock(mutex_);
    ++last_;
    hidden_[last_] = "instance-" + std::to_string(last_);
    return last_;
  }
  void commit(int64_t seq) {
    std::lock_guard<std::mutex> lock(mutex_);
    Change change{seq, hidden_.at(seq)};
    hidden_.erase(seq);
    auto at = std::find_if(changes_.begin(), changes_.end(), [&](const Change& c) { return c.seq > seq; });
    changes_.insert(at, change);
  }
  std::string file(const std::string& id) {
    std::lock_guard<std::mutex> lock(mutex_);
    return files_.at(id);
  }

  ChangeBatch changesSince(int64_t since, int limit) override {
    std::lock_guard<std::mutex> lock(mutex_);
    ChangeBatch batch;
    batch.last = since;
    for (const Change& c : changes_) {
      if (c.seq <= since) continue;
      if (static_cast<int>(batch.newInstances.size()) == limit) {
        batch.done = false;
        break;
      }
      batch.newInstances.push_back(c);
      batch.seqs.push_back(c.seq);
      batch.last = c.seq;
    }
    return batch;
  }
  int64_t lastChange() override {
    std::lock_guard<std::mutex> lock(mutex_);
    return last_;
  }
  std::string readFile(const std::string& id) override {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = files_.find(id);
    if (it == files_.end()) throw InstanceGoneError("no instance " + id);
    return it->second;
  }
  Origin readOrigin(const std::string&) override { return {}; }
  void deleteInstance(const std::string&) override {}

 private:
  std::mutex mutex_;
  std::map<std::string, std::string> files_;
  std::vector<Change> changes_;          // visible, in sequence order
  std::map<int64_t, std::string> hidden_;  // drawn, not committed
  int64_t last_ = 0;
};

}  // namespace router
