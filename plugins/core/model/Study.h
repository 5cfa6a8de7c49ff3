// What route_study(study) sees of a complete study: its tags (those of its
// first instance, which hold the patient and study attributes), and for each
// series its tags (of its first instance) and instance count, in series
// order. Built from the queue's batch and the instances Orthanc stored.
#pragma once

#include <string>
#include <vector>

#include "plugins/core/model/Instance.h"

namespace router {

struct SeriesSummary {
  std::string uid;  // SeriesInstanceUID
  int instances = 0;
  InstanceView first;  // tags of its first instance (series and instance order)
};

struct StudySummary {
  std::string uid;  // StudyInstanceUID
  int instances = 0;
  std::vector<std::string> senders;
  bool late = false;  // more of a study decided before
  InstanceView first;  // tags of the study's first instance
  std::vector<SeriesSummary> series;
};

}  // namespace router
