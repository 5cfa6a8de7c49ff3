// classifyDimseStatus(): the one place where a C-STORE response status
// (PS3.4 Annex B.2.3, PS3.7 Annex C) becomes Delivered / Retry / Permanent,
// with a detail an operator can act on.
#include <cstdio>
#include <string>

#include "plugins/core/destinations/Destination.h"

namespace router {
namespace {

SendResult make(SendOutcome outcome, uint16_t status, const std::string& what) {
  SendResult result;
  result.outcome = outcome;
  result.dimseStatus = status;
  switch (outcome) {
    case SendOutcome::Delivered:
      result.warning = true;
      result.detail = "stored with a warning: " + what + " (" + statusHex(status) + ")";
      break;
    case SendOutcome::Retry:
      result.detail = "destination could not store it now: " + what + " (" + statusHex(status) + ")";
      break;
    case SendOutcome::Permanent:
      result.detail = "destination refused: " + what + " (" + statusHex(status) + ")";
      break;
  }
  return result;
}

}  // namespace

std::string statusHex(uint16_t status) {
  char buffer[16];
  std::snprintf(buffer, sizeof buffer, "0x%04X", static_cast<unsigned>(status));
  return buffer;
}

SendResult classifyDimseStatus(uint16_t status) {
  using O = SendOutcome;
  if (status == 0x0000) {
    SendResult ok;
    return ok;
  }

  // Warnings: the destination has the object.
  if (status == 0x0001) return make(O::Delivered, status, "optional attributes not supported");
  if (status == 0x0107) return make(O::Delivered, status, "attribute list error");
  if (status == 0x0116) return make(O::Delivered, status, "attribute value out of range");
  // A duplicate means the destination already holds this instance, typically
  // after a resend whose first response was lost: delivered, not a failure.
  if (status == 0x0111) return make(O::Delivered, status, "destination already has this instance");
  if (status == 0xB000) return make(O::Delivered, status, "coercion of data elements");
  if (status == 0xB006) return make(O::Delivered, status, "elements discarded");
  if (status == 0xB007) return make(O::Delivered, status, "data set does not match SOP class");
  if (status >= 0xB000 && status <= 0xBFFF) return make(O::Delivered, status, "warning status");

  // Temporary conditions on the destination's side.
  if (status >= 0xA700 && status <= 0xA7FF) return make(O::Retry, status, "out of resources");
  if (status == 0x0110) return make(O::Retry, status, "processing failure");
  if (status == 0x0213) return make(O::Retry, status, "resource limitation");
  if (status == 0x0210) return make(O::Retry, status, "duplicate message id on the association");
  if (status == 0xFE00) return make(O::Retry, status, "operation cancelled by the destination");

  // Refusals that no retry will change.
  if (status >= 0xA900 && status <= 0xA9FF)
    return make(O::Permanent, status, "data set does not match SOP class");
  if (status >= 0xC000 && status <= 0xCFFF) return make(O::Permanent, status, "cannot understand");
  switch (status) {
    case 0x0122: return make(O::Permanent, status, "SOP class not supported");
    case 0x0124: return make(O::Permanent, status, "not authorized");
    case 0x0117: return make(O::Permanent, status, "invalid object instance");
    case 0x0118: return make(O::Permanent, status, "no such SOP class");
    case 0x0119: return make(O::Permanent, status, "class-instance conflict");
    case 0x0105: return make(O::Permanent, status, "no such attribute");
    case 0x0106: return make(O::Permanent, status, "invalid attribute value");
    case 0x0120: return make(O::Permanent, status, "missing attribute");
    case 0x0121: return make(O::Permanent, status, "missing attribute value");
    case 0x0211: return make(O::Permanent, status, "unrecognized operation");
    case 0x0212: return make(O::Permanent, status, "mistyped argument");
    default: break;
  }
  return make(O::Permanent, status, "unknown failure status");
}

}  // namespace router
