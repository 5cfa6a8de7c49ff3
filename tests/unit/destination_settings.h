// Tests build destination configurations in code: editSettings<S>(config)
// gives the kind's settings of `config` to change, as a fresh copy that
// `config` then holds (other copies of the configuration keep theirs).
#pragma once

#include <memory>

#include "plugins/core/destinations/DestinationConfig.h"

namespace router {

template <class Settings>
Settings& editSettings(DestinationConfig& config) {
  auto copy = config.settings ? std::make_shared<Settings>(config.settingsAs<Settings>())
                              : std::make_shared<Settings>();
  config.settings = copy;
  return *copy;
}

}  // namespace router
