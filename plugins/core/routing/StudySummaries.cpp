#include "plugins/core/routing/StudySummaries.h"

#include <algorithm>
#include <map>
#include <tuple>

#include "plugins/core/dicom/Uid.h"

namespace router {

std::string textOf(const InstanceView& view, const char* keyword) {
  for (const TagValue& tag : view.tags) {
    if (tag.keyword == keyword) return trimUid(tag.value);
  }
  return {};
}

int numberOf(const InstanceView& view, const char* keyword) {
  try {
    return std::stoi(textOf(view, keyword));
  } catch (const std::exception&) {
    return 0;
  }
}

std::vector<StudySummary> summarizeStudies(const std::vector<InstanceView>& instances) {
  std::vector<const InstanceView*> ordered;
  for (const InstanceView& view : instances) ordered.push_back(&view);
  const auto key = [](const InstanceView* v) {
    return std::make_tuple(numberOf(*v, "SeriesNumber"), textOf(*v, "SeriesInstanceUID"),
                           numberOf(*v, "InstanceNumber"));
  };
  std::stable_sort(ordered.begin(), ordered.end(), [&](auto* a, auto* b) { return key(a) < key(b); });

  std::vector<StudySummary> studies;
  std::map<std::string, size_t> studyAt;
  for (const InstanceView* view : ordered) {
    const std::string studyUid = textOf(*view, "StudyInstanceUID");
    auto [at, added] = studyAt.emplace(studyUid, studies.size());
    if (added) {
      studies.emplace_back();
      studies.back().uid = studyUid;
      studies.back().first = *view;
    }
    StudySummary& study = studies[at->second];
    ++study.instances;
    const std::string& sender = !view->origin.callingAet.empty() ? view->origin.callingAet : view->origin.protocol;
    if (!sender.empty() && std::find(study.senders.begin(), study.senders.end(), sender) == study.senders.end()) {
      study.senders.push_back(sender);
    }
    const std::string seriesUid = textOf(*view, "SeriesInstanceUID");
    auto series = std::find_if(study.series.begin(), study.series.end(),
                               [&](const SeriesSummary& s) { return s.uid == seriesUid; });
    if (series == study.series.end()) {
      study.series.push_back({seriesUid, 0, *view});
      series = study.series.end() - 1;
    }
    ++series->instances;
  }
  return studies;
}

}  // namespace router
