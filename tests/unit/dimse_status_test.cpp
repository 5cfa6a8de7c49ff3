// The C-STORE status table: which response statuses deliver, retry or go to
// dead-letter, and that the detail names the problem and the code.
#include <gtest/gtest.h>

#include "plugins/core/destinations/Destination.h"

namespace router {
namespace {

struct Row {
  uint16_t status;
  SendOutcome outcome;
  bool warning;
  const char* words;  // must appear in the detail
};

const Row kTable[] = {
    {0x0001, SendOutcome::Delivered, true, "warning"},
    {0x0107, SendOutcome::Delivered, true, "attribute list error"},
    {0x0116, SendOutcome::Delivered, true, "out of range"},
    {0xB000, SendOutcome::Delivered, true, "coercion of data elements"},
    {0xB006, SendOutcome::Delivered, true, "elements discarded"},
    {0xB007, SendOutcome::Delivered, true, "does not match SOP class"},
    {0xBABC, SendOutcome::Delivered, true, "warning"},
    {0x0111, SendOutcome::Delivered, true, "already has this instance"},
    {0xA700, SendOutcome::Retry, false, "out of resources"},
    {0xA7FF, SendOutcome::Retry, false, "out of resources"},
    {0x0110, SendOutcome::Retry, false, "processing failure"},
    {0x0213, SendOutcome::Retry, false, "resource limitation"},
    {0xA900, SendOutcome::Permanent, false, "data set does not match SOP class"},
    {0xA9FF, SendOutcome::Permanent, false, "data set does not match SOP class"},
    {0xC000, SendOutcome::Permanent, false, "cannot understand"},
    {0xCFFF, SendOutcome::Permanent, false, "cannot understand"},
    {0x0122, SendOutcome::Permanent, false, "SOP class not supported"},
    {0x0124, SendOutcome::Permanent, false, "not authorized"},
    {0x0117, SendOutcome::Permanent, false, "invalid object instance"},
    {0xA800, SendOutcome::Permanent, false, "unknown failure"},
    {0xD123, SendOutcome::Permanent, false, "unknown failure"},
};

TEST(DimseStatus, SuccessIsPlainDelivery) {
  SendResult result = classifyDimseStatus(0x0000);
  EXPECT_EQ(result.outcome, SendOutcome::Delivered);
  EXPECT_FALSE(result.warning);
  EXPECT_TRUE(result.detail.empty());
  EXPECT_EQ(result.dimseStatus, 0);
}

TEST(DimseStatus, Table) {
  for (const Row& row : kTable) {
    SCOPED_TRACE(testing::Message() << "status 0x" << std::hex << row.status);
    SendResult result = classifyDimseStatus(row.status);
    EXPECT_EQ(result.outcome, row.outcome);
    EXPECT_EQ(result.warning, row.warning);
    EXPECT_EQ(result.dimseStatus, row.status);
    EXPECT_NE(result.detail.find(row.words), std::string::npos) << result.detail;
    char code[16];
    std::snprintf(code, sizeof code, "(0x%04X)", row.status);
    EXPECT_NE(result.detail.find(code), std::string::npos) << result.detail;
  }
}

TEST(DimseStatus, ReadableRefusal) {
  EXPECT_EQ(classifyDimseStatus(0x0122).detail, "destination refused: SOP class not supported (0x0122)");
}

}  // namespace
}  // namespace router
