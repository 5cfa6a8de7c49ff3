// The operator console (console/: index.html, app.js, style.css), embedded
// in the plugin at build time (plugins/orthanc/CMakeLists.txt generates
// ConsoleFiles.cpp from the files) and served under /router/ui/. Nothing is
// read from disk at run time, so the .deb ships the console inside the plugin.
//
// Immutable data: safe from any thread.
#pragma once

#include <string_view>
#include <vector>

namespace router::orthanc {

struct ConsoleFile {
  std::string_view name;         // "index.html"
  std::string_view contentType;  // "text/html; charset=utf-8"
  std::string_view body;
};

// Every embedded file, in console/ order.
const std::vector<ConsoleFile>& consoleFiles();

// The file a name under /router/ui/ names ("app.js"), or nullptr.
const ConsoleFile* findConsoleFile(std::string_view path);

}  // namespace router::orthanc
