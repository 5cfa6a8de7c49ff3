// Names the calling thread (at most 15 characters, the kernel's limit), so
// `top -H`, `ps -L`, gdb and perf show which router thread does what
// (router-intake, router-route, rt-<destination>) among Orthanc's own.
#pragma once

#include <pthread.h>

#include <string>

namespace router {

inline void nameThisThread(const std::string& name) {
  pthread_setname_np(pthread_self(), name.substr(0, 15).c_str());
}

}  // namespace router
