// Test data for de-identification: an instance carrying every attribute of
// PS3.15 Table E.1-1 (plugins/core/deid/ProfileTable.cpp) at depth 0, 1 and
// 2, each with a value of its VR unlike any other row's (so a value found in
// an output can only come from its own element), plus private elements
// (safe-listed and not, a private sequence, one without a creator), a curve
// and an overlay. Used by the deid unit tests and by `router-testdata
// --suite identifying` for the integration test.
#pragma once

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcitem.h>

#include <cstddef>
#include <string>

#include "plugins/core/deid/ProfileTable.h"
#include "tests/generator/TestData.h"

namespace router::testdata {

// UIDs of the identifying values derive from this root.
inline constexpr const char* kIdentifyingRoot = "1.2.826.0.1.3680043.10.1234.99";
// The private tag the generated instances hold that a test may list as safe:
// (0009, "ROUTER SAFE", 01).
inline constexpr const char* kSafeCreator = "ROUTER SAFE";

// The VR of a row (from PS3.6 for the rows newer than DCMTK 3.6.7's dictionary).
DcmEVR vrOf(const deid::ProfileRow& row);
// Command (0000) and file meta (0002) rows never sit in a dataset; PatientID
// and PatientName are set on their own.
bool isRowInDataset(const deid::ProfileRow& row);
std::string hex(const deid::ProfileRow& row);  // "GGGGEEEE"
// The value the instance gives the row with this index in profileRows().
std::string valueFor(const deid::ProfileRow& row, std::size_t index, DcmEVR vr);
// The Referenced SOP Instance UID inside a sequence row's item.
std::string childUidFor(std::size_t index);

// Throw std::runtime_error when DCMTK refuses a value.
void insertRow(DcmItem& item, const deid::ProfileRow& row, std::size_t index);
void insertEveryRow(DcmItem& item);
void insertPrivateAndRepeating(DcmItem& item, bool withGroups);
DcmItem& childOf(DcmItem& parent, const DcmTagKey& sequence);

// spec's CT (signed pixels) with every row at depth 0, 1 (in Referenced
// Series Sequence) and 2 (in its Referenced SOP Sequence), and the private,
// curve and overlay elements; PatientID and PatientName (spec's, filled in
// by withIdentity() when empty) at every depth. The table's rows give the
// Study, Series and SOP Instance UIDs values of their own, the same in every
// instance; keepInstanceUids puts the spec's back at depth 0 (a series).
std::string instanceWithEveryRow(ImageSpec spec, bool keepInstanceUids = false);

}  // namespace router::testdata
