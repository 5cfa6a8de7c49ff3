-- Vendor bridging, part 1: what we know about each sending site. Two
-- hospitals send to one shared PACS; their modalities do not fill in the
-- issuer of the patient ID, use different accession numbers, and name the
-- institution in their own way. The PACS needs all three to be unambiguous.
--
-- Sites are recognized by the calling AE title of their modalities.

SITES = {
  NORTH_CT = { issuer = "NORTH-HOSP", accession_prefix = "N", institution = "North Hospital" },
  NORTH_MR = { issuer = "NORTH-HOSP", accession_prefix = "N", institution = "North Hospital" },
  SOUTH_CT = { issuer = "SOUTH-CLINIC", accession_prefix = "S", institution = "South Clinic" },
}
