// The three fuzz entries (see FuzzEntries.h) and the decoder that turns
// bytes into a rule's answer for fuzz_route_answer.
#include "tests/fuzz/FuzzEntries.h"

#include <dcmtk/oflog/oflog.h>
#include <gdcmTrace.h>

#include <algorithm>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <set>
#include <string_view>

#include "lua/RuleEngine.h"
#include "plugins/core/destinations/http/Multipart.h"
#include "plugins/core/dicom/DicomBuffer.h"
#include "plugins/core/dicom/TagEditor.h"
#include "plugins/core/dicom/TagReader.h"
#include "tests/generator/TestData.h"
#include "transcoders/Transcoder.h"
#include "transcoders/TransferSyntax.h"

namespace router::fuzz {
namespace {

// A broken contract is a finding like a crash: say what, then abort so that
// libFuzzer keeps the input (and the regression test's child dies).
[[noreturn]] void violated(const std::string& what, const std::string& context = {}) {
  std::fprintf(stderr, "fuzz: contract violated: %s\n", what.c_str());
  if (!context.empty()) std::fprintf(stderr, "%s\n", context.c_str());
  std::fflush(stderr);
  std::abort();
}

// UI values may carry a trailing NUL or space pad (PS3.5).
std::string trimmed(std::string uid) {
  while (!uid.empty() && (uid.back() == '\0' || uid.back() == ' ')) uid.pop_back();
  return uid;
}

// DCMTK and GDCM explain every refused input on stderr: millions of lines
// while fuzzing. Refusals reach us as errors anyway.
void quietLibraries() {
  static const bool done = [] {
    OFLog::configure(OFLogger::FATAL_LOG_LEVEL);
    gdcm::Trace::WarningOff();
    gdcm::Trace::ErrorOff();
    gdcm::Trace::DebugOff();
    return true;
  }();
  (void)done;
}

class QuietLog : public Log {
 public:
  void info(const std::string&) override {}
  void warning(const std::string&) override {}
  void error(const std::string&) override {}
};

QuietLog& quietLog() {
  static QuietLog log;
  return log;
}

const std::set<std::string>& configuredDestinations() {
  static const std::set<std::string> names = {"pacs", "cloud", "export", "ai", "out"};
  return names;
}

RuleSource sourceOf(const std::string& code) {
  RuleSource source;
  source.directory = "(fuzz)";
  source.version = "fuzz";
  source.files.push_back({"10-fuzz.lua", code});
  return source;
}

// ------------------------------------------------------------ fuzz_tags

// Reads every tag the way rule writers do: pairs() fills the lazy table,
// lookups by keyword and number, the prelude's helpers on arbitrary text.
constexpr const char* kTagsRule = R"(
function route(instance)
  local t = instance.tags
  local n = 0
  for k, v in pairs(t) do n = n + #k + #v end
  local s = (t.PatientName or "") .. (t["0010,0020"] or "") .. (t["7fe0,0010"] or "") ..
            tostring(t.SOPInstanceUID) .. tostring(t["0008,0060"]) .. instance.transfer_syntax
  local parts = values(t.ImageType)
  local flags = tostring(has_value(t.ImageType, "PRIMARY")) .. tostring(starts_with(t.StudyDescription, "CT")) ..
                tostring(match(t.Modality, {"CT", "MR"})) .. tostring(contains(t.InstitutionName, "Site"))
  return { { destination = "out", modify = { PatientComments = n .. "/" .. #s .. "/" .. #parts .. flags } } }
end
)";

RuleEngine& tagsEngine() {
  static RuleEngine engine(sourceOf(kTagsRule), configuredDestinations(), RuleLimits{}, quietLog());
  return engine;
}

// ------------------------------------------------------------ fuzz_route_answer: words

const std::vector<std::string>& destinationWords() {
  static const std::vector<std::string> words = {
      "pacs", "cloud", "export", "ai", "out", "*", "", "PACS", "pacs ", std::string("pacs\0x", 6),
  };
  return words;
}

const std::vector<std::string>& syntaxWords() {
  static const std::vector<std::string> words = [] {
    std::vector<std::string> list;
    for (const TransferSyntaxInfo& info : knownTransferSyntaxes()) {
      list.push_back(info.keyword);
      list.push_back(info.uid);
    }
    for (const char* odd : {"1.2.840.10008.1.2.4.80 ", "JPEGLSLossless ", "jpeglslossless", "1.2.3",
                            "HTJ2KLossless", "1.2.840.10008.1.2.4.201", ""}) {
      list.push_back(odd);
    }
    list.push_back(std::string("1.2.840.10008.1.2.4.80\0", 23));
    return list;
  }();
  return words;
}

const std::vector<std::string>& tagWords() {
  static const std::vector<std::string> words = {
      "PatientName",
      "InstitutionName",
      "PatientID",
      "StudyDescription",
      "PatientComments",
      "Modality",
      "Rows",
      "PixelSpacing",
      "ImageType",
      "PatientAge",
      "AcquisitionDateTime",
      "SOPInstanceUID",
      "TransferSyntaxUID",
      "FileMetaInformationVersion",
      "PixelData",
      "ReferencedSOPSequence",
      "Item",
      "ItemDelimitationItem",
      "OverlayData",
      "0010,0010",
      "0010,001",
      "0010,00100",
      "0010;0010",
      "7fe0,0010",
      "7FE0,0010",
      "0002,0010",
      "0002,0000",
      "0008,0018",
      "0008,0000",
      "0009,0010",
      "0009,1010",
      "0029,1008",
      "gggg,eeee",
      "ffff,ffff",
      "fffe,e000",
      "0000,0000",
      " PatientName",
      "patientname",
      std::string("PatientName\0x", 13),
      "0x0010,0x0010",
  };
  return words;
}

const std::vector<std::string>& valueWords() {
  static const std::vector<std::string> words = {
      "CT",
      "Site B",
      "A\\B",
      "",
      "2.5",
      "-1",
      "1e309",
      "Doe^John",
      "20260101",
      "destination",
      "transfer_syntax",
      "modify",
      "priority",
      "Destination",
  };
  return words;
}

const std::string& wordAt(uint8_t index) {
  static const std::vector<std::string> all = [] {
    std::vector<std::string> list;
    for (const auto* part : {&valueWords(), &destinationWords(), &syntaxWords(), &tagWords()}) {
      list.insert(list.end(), part->begin(), part->end());
    }
    return list;
  }();
  return all[index % all.size()];
}

// ------------------------------------------------------------ fuzz_route_answer: decoder

// The helpers the decoded expression calls. S registers a table (for E), E
// answers an earlier one, C makes a table contain itself, M sets a
// metatable, R repeats a value into a long list (copies of a route get
// distinct destinations, so long answers are not refused at the 2nd entry).
constexpr const char* kAnswerPrelude = R"(local tables = {}
local function S(t) tables[#tables + 1] = t return t end
local function E(n) if #tables == 0 then return nil end return tables[n % #tables + 1] end
local function C(v, k) if type(v) == "table" and k ~= nil and k == k then rawset(v, k, v) end return v end
local function M(v, m) if type(v) == "table" and type(m) == "table" then pcall(setmetatable, v, m) end return v end
local function R(n, v)
  local list = {}
  for i = 1, n do
    if type(v) == "table" then
      local copy = {}
      for k, x in next, v do copy[k] = x end
      if i > 1 and type(copy.destination) == "string" then copy.destination = copy.destination .. i end
      list[i] = copy
    else
      list[i] = v
    end
  end
  return S(list)
end
)";

class AnswerDecoder {
 public:
  AnswerDecoder(const uint8_t* data, size_t size) : data_(data), size_(size) {}

  uint8_t byte() { return at_ < size_ ? data_[at_++] : 0; }
  bool exhausted() const { return at_ >= size_; }

  uint64_t word64() {
    uint64_t value = 0;
    for (int i = 0; i < 8; ++i) value |= static_cast<uint64_t>(byte()) << (8 * i);
    return value;
  }

  void value(std::string& out, int depth) {
    if (++nodes_ > kMaxNodes || depth > kMaxDepth) {
      out += "nil";
      return;
    }
    switch (static_cast<AnswerOp>(byte() % kAnswerOpCount)) {
      case kNil:
        out += "nil";
        return;
      case kTrue:
        out += "true";
        return;
      case kFalse:
        out += "false";
        return;
      case kSmallInteger:
        out += std::to_string(static_cast<int8_t>(byte()));
        return;
      case kInteger:
        integer(out, static_cast<int64_t>(word64()));
        return;
      case kFloat:
        floating(out);
        return;
      case kWord:
        quoted(out, wordAt(byte()));
        return;
      case kBytes: {
        std::string text;
        for (uint8_t n = byte(); n > 0 && !exhausted(); --n) text += static_cast<char>(byte());
        quoted(out, text);
        return;
      }
      case kList: {
        out += "S({";
        for (uint8_t n = byte() % 32; n > 0; --n) {
          value(out, depth + 1);
          out += ", ";
        }
        out += "})";
        return;
      }
      case kMap: {
        out += "S({";
        for (uint8_t n = byte() % 16; n > 0; --n) {
          out += "[";
          key(out, depth + 1);
          out += "] = ";
          value(out, depth + 1);
          out += ", ";
        }
        out += "})";
        return;
      }
      case kRoute:
        route(out, depth);
        return;
      case kModify:
        modify(out, depth);
        return;
      case kFunction: {
        static const char* const functions[] = {"function() end",
                                                "print",
                                                "string.len",
                                                "route",
                                                "function() error(\"boom\") end",
                                                "next"};
        out += functions[byte() % (sizeof functions / sizeof functions[0])];
        return;
      }
      case kWithMetatable: {
        out += "M(";
        value(out, depth + 1);
        out += ", ";
        metatable(out, depth + 1);
        out += ")";
        return;
      }
      case kSelfReference: {
        out += "C(";
        value(out, depth + 1);
        out += ", ";
        key(out, depth + 1);
        out += ")";
        return;
      }
      case kEarlierTable:
        out += "E(" + std::to_string(byte()) + ")";
        return;
      case kRepeat: {
        out += "R(" + std::to_string(4 * static_cast<int>(byte())) + ", ";
        value(out, depth + 1);
        out += ")";
        return;
      }
      case kAnswerOpCount:
        break;
    }
    out += "nil";
  }

 private:
  static constexpr int kMaxNodes = 4096;
  static constexpr int kMaxDepth = 12;

  // A table key: nil and NaN keys are errors in a constructor, so they
  // become a word; everything else is as decoded.
  void key(std::string& out, int depth) {
    std::string text;
    value(text, depth);
    if (text == "nil" || text == "(0/0)") {
      quoted(out, wordAt(byte()));
    } else {
      out += text;
    }
  }

  static void integer(std::string& out, int64_t n) {
    // -9223372036854775808 would be read as minus a float.
    out += n == INT64_MIN ? std::string("math.mininteger") : std::to_string(n);
  }

  void floating(std::string& out) {
    const uint64_t bits = word64();
    double d = 0;
    std::memcpy(&d, &bits, sizeof d);
    if (std::isnan(d)) {
      out += "(0/0)";
    } else if (std::isinf(d)) {
      out += d > 0 ? "math.huge" : "(-math.huge)";
    } else {
      char text[40];
      std::snprintf(text, sizeof text, "%.17g", d);
      std::string s = text;
      if (s.find_first_of(".eE") == std::string::npos) s += ".0";  // stays a float
      out += "(" + s + ")";
    }
  }

  static void quoted(std::string& out, const std::string& text) {
    out += '"';
    for (unsigned char c : text) {
      if (c < 32 || c > 126 || c == '"' || c == '\\') {
        char escape[8];
        std::snprintf(escape, sizeof escape, "\\%03u", static_cast<unsigned>(c));
        out += escape;
      } else {
        out += static_cast<char>(c);
      }
    }
    out += '"';
  }

  // Fields mostly as a rule writer spells them, sometimes any value.
  void route(std::string& out, int depth) {
    const uint8_t mask = byte();
    out += "S({";
    if (mask & 0x01) {
      out += "destination = ";
      if (mask & 0x20)
        value(out, depth + 1);
      else
        quoted(out, destinationWords()[byte() % destinationWords().size()]);
      out += ", ";
    }
    if (mask & 0x02) {
      out += "transfer_syntax = ";
      if (mask & 0x40)
        value(out, depth + 1);
      else
        quoted(out, syntaxWords()[byte() % syntaxWords().size()]);
      out += ", ";
    }
    if (mask & 0x04) {
      out += "modify = ";
      if (mask & 0x80)
        value(out, depth + 1);
      else
        modify(out, depth + 1);
      out += ", ";
    }
    if (mask & 0x08) {
      out += "priority = ";
      value(out, depth + 1);
      out += ", ";
    }
    if (mask & 0x10) {
      out += "[";
      key(out, depth + 1);
      out += "] = ";
      value(out, depth + 1);
      out += ", ";
    }
    out += "})";
  }

  void modify(std::string& out, int depth) {
    out += "S({";
    for (uint8_t n = byte() % 16; n > 0; --n) {
      out += "[";
      quoted(out, tagWords()[byte() % tagWords().size()]);
      out += "] = ";
      value(out, depth + 1);
      out += ", ";
    }
    out += "})";
  }

  // Metatables that would change what a non-raw reader sees.
  void metatable(std::string& out, int depth) {
    static const char* const presets[] = {
        "{ __index = function() return \"pacs\" end }",
        "{ __len = function() return 5 end }",
        "{ __pairs = function() error(\"pairs\") end }",
        "{ __newindex = function() error(\"newindex\") end }",
        "{ __metatable = false }",
        "{ __index = { destination = \"pacs\" }, __len = function() return -1 end }",
        "{ __eq = function() return true end, __lt = function() error(\"lt\") end }",
    };
    const uint8_t choice = byte() % 8;
    if (choice < 7) {
      out += presets[choice];
    } else {
      value(out, depth);
    }
  }

  const uint8_t* data_;
  size_t size_;
  size_t at_ = 0;
  int nodes_ = 0;
};

bool isTextAnswer(const uint8_t* data, size_t size) {
  return size >= 2 && data[0] == '-' && data[1] == '-';
}

// "--*" in front of a text answer: any destination name is accepted.
bool anyDestination(const uint8_t* data, size_t size) {
  if (isTextAnswer(data, size)) return size >= 3 && data[2] == '*';
  return size >= 1 && (data[0] & kFlagAnyDestination) != 0;
}

const InstanceView& routedInstance() {
  static const InstanceView view = [] {
    testdata::ImageSpec spec;
    spec.name = "fuzz-ct";
    spec.rows = 4;
    spec.columns = 4;
    spec.institutionName = "General Hospital";
    InstanceView v = readInstanceView(testdata::makeInstance(spec));
    v.id = "orthanc-id-fuzz";
    v.origin = {"CT_SCANNER", "ROUTER", "10.0.0.7", "DicomProtocol"};
    return v;
  }();
  return view;
}

// What RouteReader accepted must hold to its contract (RuleEngine.h and the
// README's rule API): configured, distinct destinations, syntaxes the
// appliance can write, editable tag names.
void checkAccepted(const std::vector<Route>& routes, bool any, const std::string& source) {
  std::set<std::string> seen;
  for (const Route& route : routes) {
    const std::string where = "route to \"" + route.destination + "\": ";
    if (!any && configuredDestinations().count(route.destination) == 0) {
      violated(where + "destination is not configured", source);
    }
    if (!seen.insert(route.destination).second) violated(where + "destination named twice", source);
    if (!route.transferSyntax.empty()) {
      const TransferSyntaxInfo* info = findTransferSyntax(route.transferSyntax);
      if (info == nullptr || !info->canEncode) {
        violated(where + "transfer syntax " + route.transferSyntax + " cannot be written", source);
      }
    }
    for (const auto& [name, newValue] : route.modify) {
      std::optional<DcmTagKey> key = parseTagName(name);
      if (!key) violated(where + "modify names \"" + name + "\", not a tag", source);
      if (key->getGroup() == 0x0002 || *key == DcmTagKey(0x7fe0, 0x0010)) {
        violated(where + "modify edits " + name + " (meta header or pixel data)", source);
      }
    }
  }
}

}  // namespace

// ------------------------------------------------------------ entries

const std::vector<std::string>& transcodeTargets() {
  static const std::vector<std::string> targets = [] {
    std::vector<std::string> uids;
    for (const TransferSyntaxInfo& info : knownTransferSyntaxes()) {
      if (info.canEncode) uids.push_back(info.uid);
    }
    return uids;
  }();
  return targets;
}

void transcodeOne(const uint8_t* data, size_t size) {
  quietLibraries();
  if (size < 1) return;
  static const std::unique_ptr<Transcoder> transcoder = makeTranscoder();
  const std::string& target = transcodeTargets()[data[0] % transcodeTargets().size()];
  const std::string part10(reinterpret_cast<const char*>(data) + 1, size - 1);
  const std::string output = transcoder->transcode(part10, target);
  // Contract: the answer is a Part-10 file in the target syntax, readable by
  // the router (DCMTK) whenever the input was: Orthanc only stores files
  // DCMTK reads, and delivery reads the result again. (GDCM tolerates more
  // than DCMTK; what it makes of a file DCMTK refuses is not checked.)
  try {
    (void)parseDicom(part10);
  } catch (const std::exception&) {
    return;
  }
  std::string written;
  try {
    (void)parseDicom(output);  // what the DICOM and folder destinations do
    written = trimmed(readIdentity(output).transferSyntax);
  } catch (const std::exception& e) {
    violated("transcode to " + transferSyntaxName(target) +
             " answered an unreadable file: " + e.what());
  }
  if (written != target) {
    violated("transcode to " + transferSyntaxName(target) + " answered a file in " +
             transferSyntaxName(written));
  }
}

void tagsOne(const uint8_t* data, size_t size) {
  quietLibraries();
  const std::string part10(reinterpret_cast<const char*>(data), size);
  // Each reader on its own: one refusing the bytes does not stop the others.
  try {
    InstanceView view = readInstanceView(part10);
    RouteDecision decision = tagsEngine().route(view);
    (void)decision;
  } catch (const std::exception&) {
  }
  try {
    (void)readIdentity(part10);
  } catch (const std::exception&) {
  }
  try {
    std::unique_ptr<DcmFileFormat> file = parseDicom(part10);
    (void)serializeDicom(*file);
  } catch (const std::exception&) {
  }
  // What delivery does for a route with modify. Tags by number: DCMTK's
  // keyword lookup scans its whole dictionary (a third of the time per input
  // here), and the file's parsing is what this target is about.
  static const TagEdits edits = {{"0008,0080", std::nullopt},               // InstitutionName
                                 {"0010,4000", std::string("fuzz")},        // PatientComments
                                 {"0010,0010", std::string("FUZZ^EDIT")}};  // PatientName
  const std::string edited = applyTagEdits(part10, edits);
  (void)readIdentity(edited);
}

std::string routeAnswerSource(const uint8_t* data, size_t size) {
  if (isTextAnswer(data, size)) {
    return "function route(instance)\n" + std::string(reinterpret_cast<const char*>(data), size) +
           "\nend\n";
  }
  AnswerDecoder decoder(data, size);
  decoder.byte();  // flags
  std::string expression;
  decoder.value(expression, 0);
  return std::string(kAnswerPrelude) + "function route(instance)\n  tables = {}\n  return " +
         expression + "\nend\n";
}

void routeAnswerOne(const uint8_t* data, size_t size) {
  quietLibraries();
  const bool any = anyDestination(data, size);
  const std::string source = routeAnswerSource(data, size);
  std::set<std::string> destinations = configuredDestinations();
  if (any) destinations.insert(RuleEngine::kAnyDestination);
  std::unique_ptr<RuleEngine> engine;
  try {
    engine = std::make_unique<RuleEngine>(sourceOf(source), destinations, RuleLimits{}, quietLog());
  } catch (const RuleCompileError& e) {
    // A text answer may be any text; the decoder must always write valid Lua.
    if (isTextAnswer(data, size)) throw;
    violated(
        std::string("the decoded answer does not compile (a bug of the fuzz decoder): ") + e.what(),
        source);
  }
  // Twice: the second call runs on a state the first one (maybe failed) left.
  for (int call = 0; call < 2; ++call) {
    RouteDecision decision = engine->route(routedInstance());
    if (!decision.failure) checkAccepted(decision.routes, any, source);
  }
}

void multipartOne(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const size_t newline = input.find('\n');
  if (newline == std::string_view::npos || newline > 100) return;
  std::optional<std::string> boundary = multipartBoundary(input.substr(0, newline));
  if (!boundary) return;
  const std::string_view body = input.substr(newline + 1);
  const std::string delimiter = "\r\n--" + *boundary;
  // A delimiter line: CRLF, "--boundary", then "--" or spaces and a CRLF
  // (the bytes after it are read from the body, past the part's end if need be).
  const auto delimiterAt = [&](size_t at) {
    size_t after = at + delimiter.size();
    if (body.compare(after, 2, "--") == 0) return true;
    while (after < body.size() && (body[after] == ' ' || body[after] == '\t')) ++after;
    return body.compare(after, 2, "\r\n") == 0;
  };
  const char* last = body.data();
  for (std::string_view part : multipartParts(body, *boundary)) {
    if (part.data() < last || part.data() + part.size() > body.data() + body.size()) {
      violated("a part lies outside the body or before the one before it", std::string(input));
    }
    const size_t offset = static_cast<size_t>(part.data() - body.data());
    for (size_t at = part.find(delimiter); at != std::string_view::npos; at = part.find(delimiter, at + 1)) {
      if (delimiterAt(offset + at)) violated("a part holds a delimiter line", std::string(input));
    }
    last = part.data() + part.size();
  }
}

}  // namespace router::fuzz
