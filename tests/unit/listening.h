// Whether something listens on a loopback TCP port, for tests that start a
// peer (storescp, openssl s_server) and wait for it. Read from /proc, so the
// check itself opens no connection the server would log.
#pragma once

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

namespace router::testdata {

inline bool isListening(int port) {
  char wanted[16];
  std::snprintf(wanted, sizeof wanted, ":%04X", port);
  for (const char* table : {"/proc/net/tcp", "/proc/net/tcp6"}) {
    std::ifstream in(table);
    std::string line;
    while (std::getline(in, line)) {
      std::istringstream fields(line);
      std::string slot, local, remote, state;
      fields >> slot >> local >> remote >> state;
      if (state == "0A" && local.size() >= 5 && local.substr(local.size() - 5) == wanted)
        return true;
    }
  }
  return false;
}

}  // namespace router::testdata
