// One named value of a status report (GET /router/status), kept as plain
// data so that the core does not build JSON: plugins/orthanc turns a list of
// fields into a JSON object, in order.
#pragma once

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

namespace router {

struct StatusField {
  std::string name;
  std::variant<std::string, int64_t, bool> value;
};

using StatusFields = std::vector<StatusField>;

}  // namespace router
