-- Benchmark rule set (tests/bench/rules_bench): what a mid-size hospital's
-- router might run. This file: the site tables the rules below look up.

SCANNERS_CT = { "CT_ER_1", "CT_ER_2", "CT_RAD_1", "CT_ONCO" }
SCANNERS_MR = { "MR_NEURO", "MR_MSK", "MR_1_5T" }
NEURO_PARTS = { "HEAD", "BRAIN", "NECK", "CSPINE" }
PARTNER_VENDORS = { "SIEMENS", "GE MEDICAL SYSTEMS", "Philips Medical Systems", "TOSHIBA" }

CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2"
ENHANCED_CT_STORAGE = "1.2.840.10008.5.1.4.1.1.2.1"
MR_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.4"
DOSE_SR_STORAGE = "1.2.840.10008.5.1.4.1.1.88.67"
