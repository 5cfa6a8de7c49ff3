// The fuzz targets' "one input" functions, shared by the libFuzzer programs
// (fuzz_*.cpp, clang + sanitizers) and the regression test that replays the
// files under tests/fuzz/regressions/ with the normal build
// (tests/unit/fuzz_regressions_test.cpp).
//
// Each function feeds untrusted bytes to the code the appliance runs on them.
// It returns, or throws a std::exception (the code refused the input: a
// normal outcome). A crash, an abort, a sanitizer report, or an exception of
// another type is a finding. Where the code's contract can be checked
// cheaply (a route that names an unconfigured destination, a transcode that
// answers in the wrong syntax) a violation aborts too, with a message.
//
// Thread safety: one input at a time (libFuzzer and the test are single
// threaded); the functions keep a few objects built on first use.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace router::fuzz {

// fuzz_transcode. Byte 0 picks the target transfer syntax:
// transcodeTargets()[byte % size]; the rest is a DICOM Part-10 file given
// to makeTranscoder()->transcode().
void transcodeOne(const uint8_t* data, size_t size);

// fuzz_multipart. The first line (up to '\n', at most 100 bytes) is the
// Content-Type header, the rest the body of POST /router/rules/test, read
// by multipartBoundary and multipartParts. Every part must lie inside the
// body, in order, and hold no delimiter line of its own (the boundary text
// not followed by "--" or a line end is body, not a delimiter).
void multipartOne(const uint8_t* data, size_t size);

// The UIDs the appliance can write (knownTransferSyntaxes() with canEncode),
// in table order.
const std::vector<std::string>& transcodeTargets();

// fuzz_tags. The whole input is a Part-10 file given to everything the
// Orthanc process does with a stored file's bytes: readInstanceView (and the
// rules' instance table built from it), readIdentity, parseDicom +
// serializeDicom, applyTagEdits (and readIdentity of its result).
void tagsOne(const uint8_t* data, size_t size);

// fuzz_route_answer. A rule engine is built for the input, its route() is
// called twice on a generated CT instance, and an accepted answer is checked
// against the rule contract. Two encodings:
//  - text: an input that starts with "--" (a Lua comment) is the body of
//    route(instance), as a rule writer would type it;
//  - structured: any other input is decoded by routeAnswerSource() into a
//    Lua expression (nested tables, strings, numbers, booleans, functions,
//    metatables, shared and self-referencing tables) that route() returns.
//    Every input decodes to valid Lua, so every input reaches RouteReader.
void routeAnswerOne(const uint8_t* data, size_t size);

// The rule file routeAnswerOne compiles for the input: what to read when a
// route_answer input is a finding (routeAnswerOne prints it with a
// contract violation).
std::string routeAnswerSource(const uint8_t* data, size_t size);

// The structured encoding, for the seed writer: byte 0 holds flags, then one
// value. A value is an opcode byte (AnswerOp, taken modulo kAnswerOpCount)
// and its operands; reading past the end yields zero bytes.
inline constexpr uint8_t kFlagAnyDestination = 0x01;  // like the offline CLI: any name
enum AnswerOp : uint8_t {
  kNil = 0,
  kTrue,
  kFalse,
  kSmallInteger,  // 1 byte, signed
  kInteger,       // 8 bytes, little endian
  kFloat,         // 8 bytes, IEEE double, little endian
  kWord,          // 1 byte: index into the dictionary of words routes use
  kBytes,         // 1 byte length, then the bytes
  kList,          // 1 byte count, then count values
  kMap,           // 1 byte count, then count (key, value) pairs
  kRoute,   // 1 byte field mask (destination, transfer_syntax, modify, priority, extra), then those
            // values
  kModify,  // 1 byte count, then count (word index, value) pairs
  kFunction,       // 1 byte: which function
  kWithMetatable,  // value, then the metatable's value
  kSelfReference,  // value (a table), then a key: table[key] = table
  kEarlierTable,   // 1 byte: the n-th table made so far (shared subtables)
  kRepeat,         // 1 byte count (x4), then a value repeated in a list
  kAnswerOpCount
};

}  // namespace router::fuzz
