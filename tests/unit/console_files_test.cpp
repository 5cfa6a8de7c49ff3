// The console embedded in the plugin: every file of console/ is there, byte
// for byte, with its Content-Type; nothing else is served.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "plugins/orthanc/ConsoleFiles.h"

namespace router::orthanc {
namespace {

std::string readSource(const std::string& name) {
  std::ifstream in(std::string(ROUTER_SOURCE_DIR) + "/console/" + name, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST(ConsoleFilesTest, EmbedsEachFileAsItIs) {
  ASSERT_EQ(consoleFiles().size(), 3u);
  for (const char* name : {"index.html", "app.js", "style.css"}) {
    const ConsoleFile* file = findConsoleFile(name);
    ASSERT_NE(file, nullptr) << name;
    EXPECT_EQ(std::string(file->body), readSource(name))
        << name << " differs from console/" << name;
  }
}

TEST(ConsoleFilesTest, ContentTypes) {
  EXPECT_EQ(findConsoleFile("index.html")->contentType, "text/html; charset=utf-8");
  EXPECT_EQ(findConsoleFile("app.js")->contentType, "text/javascript; charset=utf-8");
  EXPECT_EQ(findConsoleFile("style.css")->contentType, "text/css; charset=utf-8");
}

TEST(ConsoleFilesTest, NothingElseIsFound) {
  EXPECT_EQ(findConsoleFile(""), nullptr);
  EXPECT_EQ(findConsoleFile("../status"), nullptr);
  EXPECT_EQ(findConsoleFile("/etc/passwd"), nullptr);
  EXPECT_EQ(findConsoleFile("app.js/"), nullptr);
  EXPECT_EQ(findConsoleFile("APP.JS"), nullptr);
}

}  // namespace
}  // namespace router::orthanc
