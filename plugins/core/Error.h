// The one error type of the core. Its message is written for the person who
// has to act on it: it names the destination, file, rule line or config key.
#pragma once

#include <stdexcept>
#include <string>

namespace router {

class RouterError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A configuration problem: the message names the key and what is wrong.
class ConfigError : public RouterError {
 public:
  using RouterError::RouterError;
};

}  // namespace router
