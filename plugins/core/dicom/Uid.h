// UIDs as they come out of files and peers, made fit for use. UI values are
// padded to even length with a NUL (PS3.5 6.2), some writers pad with spaces
// instead, and some files carry a UID element with another VR (UN, OB), which
// DCMTK renders as hex ("31\2e\32\2e...\00"). Every UID the router uses (in
// presentation contexts, file names, comparisons, messages) goes through here.
// Stateless; safe from any thread.
#pragma once

#include <string>
#include <string_view>

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcitem.h>

namespace router {

// The UID without padding: cut at the first NUL (a UID never holds one), and
// leading and trailing spaces removed.
std::string trimUid(std::string_view value);

// The UID in element `key` of `item` (not of its sequences) as trimmed text;
// "" when absent or empty. An element of VR UN or OB is read as the text its
// bytes spell.
std::string readUid(DcmItem& item, const DcmTagKey& key);

// Text values the rules see: trailing NULs and spaces removed from each
// value ('\'-separated unless the VR is one of the free-text ones).
std::string trimText(std::string_view value, bool multiValued);

// For messages: the trimmed UID with anything but printable ASCII shown as
// '?', so that a broken UID is still readable as text.
std::string printableUid(std::string_view uid);

}  // namespace router
