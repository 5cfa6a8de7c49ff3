// Builds what route_study(study) sees from instances at hand: the rules test
// (REST and the offline CLI) gives a study as several files. Grouped by
// StudyInstanceUID and SeriesInstanceUID, series and instances in the order
// a released batch has them (SeriesNumber, then InstanceNumber).
#pragma once

#include <string>
#include <vector>

#include "plugins/core/model/Study.h"

namespace router {

// The value of a top-level element by keyword, without padding; empty when absent.
std::string textOf(const InstanceView& view, const char* keyword);
// A number element as an int (0 when absent or not a number: such an
// instance sorts first in its series).
int numberOf(const InstanceView& view, const char* keyword);

std::vector<StudySummary> summarizeStudies(const std::vector<InstanceView>& instances);

}  // namespace router
