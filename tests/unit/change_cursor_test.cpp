// ChangeCursor: how far Orthanc's changes-log cursor may move when changes
// become visible out of order (a shared PostgreSQL index).
#include <gtest/gtest.h>

#include "plugins/core/intake/ChangeCursor.h"

namespace router {
namespace {

using std::chrono::seconds;
const ChangeCursor::SteadyClock::time_point t0{};

TEST(ChangeCursorTest, MovesAtOnceOverARunWithoutGaps) {
  ChangeCursor c(seconds(30));
  EXPECT_EQ(c.advanceTo(10, {11, 12, 13}, t0), 13);
  EXPECT_EQ(c.advanceTo(10, {13, 11, 12}, t0), 13);  // any order
  EXPECT_EQ(c.advanceTo(10, {}, t0), 10);
}

TEST(ChangeCursorTest, WaitsAtAGapUntilTheGraceIsOver) {
  ChangeCursor c(seconds(30));
  EXPECT_EQ(c.advanceTo(10, {11, 13, 14}, t0), 11);
  c.committed(11, {11, 13, 14}, t0);
  EXPECT_TRUE(c.recorded(13));
  EXPECT_FALSE(c.recorded(12));
  EXPECT_EQ(c.advanceTo(11, {}, t0 + seconds(29)), 11);
  // A later change seen meanwhile has its own grace.
  c.committed(11, {16}, t0 + seconds(20));
  EXPECT_EQ(c.advanceTo(11, {}, t0 + seconds(30)), 14);
  EXPECT_EQ(c.advanceTo(11, {}, t0 + seconds(50)), 16);
}

TEST(ChangeCursorTest, AGapThatFillsLetsTheCursorOnAtOnce) {
  ChangeCursor c(seconds(30));
  c.committed(10, {12, 13}, t0);
  EXPECT_EQ(c.advanceTo(10, {11}, t0 + seconds(1)), 13);
  c.committed(13, {11}, t0 + seconds(1));
  EXPECT_EQ(c.pending(), 0u);
  EXPECT_FALSE(c.recorded(12));  // passed by the cursor: forgotten
}

TEST(ChangeCursorTest, ACursorMovedByAnotherNodeIsTakenAsIs) {
  ChangeCursor c(seconds(30));
  c.committed(10, {12, 15}, t0);
  c.committed(14, {}, t0);  // another node passed 11..14
  EXPECT_FALSE(c.recorded(12));
  EXPECT_TRUE(c.recorded(15));
  EXPECT_EQ(c.advanceTo(14, {}, t0), 15);
}

}  // namespace
}  // namespace router
