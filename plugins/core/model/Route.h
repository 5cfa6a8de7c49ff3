// A routing decision: one destination, with the syntax and tag edits wanted
// there, and when to send: at once, or once the instance's series or study
// is complete. Produced by the rules (lua/), stored with each queued job.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace router {

// keyword -> new value; std::nullopt removes the element.
using TagEdits = std::vector<std::pair<std::string, std::optional<std::string>>>;

// What a route waits for before it is sent.
enum class RouteLevel { Instance, Series, Study };

// An instance of a series or study whose batch was released already:
//   Batch   it opens a new batch, with its own quiet time (the default);
//   Alone   it is sent at once, by itself;
//   Resend  it opens a new batch that holds the whole series or study again.
enum class LatePolicy { Batch, Alone, Resend };

// One series a study needs before it counts as complete: an instance meets it
// when each named top-level element matches its pattern (* and ?, case
// ignored, padding trimmed; a multi-valued element matches when the whole
// value or any one of its values does).
struct Requirement {
  struct Match {
    uint16_t group = 0, element = 0;
    std::string name;     // as the rule wrote it: "Modality" or "0008,103E"
    std::string pattern;  // "CT", "*LUNG*"
  };
  std::vector<Match> matches;  // all must match
  std::string describe() const;  // "Modality=CT, SeriesDescription=*LUNG*"
};

// When a series or study counts as complete: the first of a quiet time since
// its last instance, an expected instance count reached, or a maximum wait
// since its first instance. A study with required series counts its quiet
// time only once every one of them is present (a maximum wait still forces
// it): released the moment the last required series began, the study would
// leave without the rest of that series.
struct Completion {
  static constexpr std::chrono::seconds kDefaultQuiet{60};
  static constexpr std::chrono::seconds kDefaultMaxWait{3600};
  RouteLevel level = RouteLevel::Instance;
  std::chrono::seconds quiet = kDefaultQuiet;
  std::chrono::seconds maxWait = kDefaultMaxWait;
  int expected = 0;  // instances; 0 = no count is known
  LatePolicy late = LatePolicy::Batch;
  static constexpr size_t kMaxRequired = 16;
  std::vector<Requirement> required;  // only with level Study
  // Set by the rule engine for the instance being routed: bit i when it
  // meets required[i].
  uint32_t requiredMet = 0;
};

// De-identification on the way out (PS3.15 Annex E, plugins/core/deid):
// none when project is empty. The project's key, UID root and policies are
// in Router.Deidentification; the route says which project and options.
struct Deidentify {
  std::string project;
  std::string profile = "basic";     // the Basic Application Level Confidentiality Profile
  std::vector<std::string> options;  // option keywords (ProfileTable.h), sorted, each once
  bool active() const { return !project.empty(); }
  bool operator==(const Deidentify& o) const {
    return project == o.project && profile == o.profile && options == o.options;
  }
};

struct Route {
  std::string destination;
  std::string transferSyntax;  // UID; empty = as received
  TagEdits modify;
  int priority = 0;  // higher is sent first
  Completion completion;
  bool urgent = false;  // sent outside the destination's delivery windows too
  // Only in an answer of route_study(): the SeriesInstanceUIDs to send; empty
  // sends the whole study.
  std::vector<std::string> series{};
  Deidentify deidentify{};  // applied after modify, before transcoding
};

// The destination name of the batches that wait for route_study(study): no
// configured destination can have it (names are letters, digits, _ - .).
inline constexpr const char* kStudyDecision = "@route_study";

inline std::string Requirement::describe() const {
  std::string text;
  for (const Match& m : matches) text += (text.empty() ? "" : ", ") + m.name + "=" + m.pattern;
  return text;
}

inline const char* toString(RouteLevel level) {
  switch (level) {
    case RouteLevel::Series: return "series";
    case RouteLevel::Study: return "study";
    case RouteLevel::Instance: break;
  }
  return "instance";
}

inline const char* toString(LatePolicy policy) {
  switch (policy) {
    case LatePolicy::Alone: return "alone";
    case LatePolicy::Resend: return "resend";
    case LatePolicy::Batch: break;
  }
  return "batch";
}

}  // namespace router
