// The instance table route() receives. Its fields are set eagerly; its tags
// table is filled lazily: a metamethod looks a tag up (by keyword or by
// "GGGG,EEEE") on first access and caches it, because a rule set reads a
// handful of the ~100 elements of an instance. A tags table kept past its
// route() call answers only what it had cached (the instance is gone).
#include <cstdio>
#include <string_view>

#include "lua/Runtime.h"
#include "plugins/core/dicom/Uid.h"

namespace router::lua {
namespace {

int hexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

// "GGGG,EEEE" (hex, either case) -> group and element.
bool parseTagNumber(std::string_view key, uint16_t& group, uint16_t& element, bool& upperCase) {
  if (key.size() != 9 || key[4] != ',') return false;
  unsigned value[2] = {0, 0};
  upperCase = true;
  for (size_t i = 0; i < 9; ++i) {
    if (i == 4) continue;
    const int digit = hexDigit(key[i]);
    if (digit < 0) return false;
    if (key[i] >= 'a' && key[i] <= 'f') upperCase = false;
    value[i < 4 ? 0 : 1] = value[i < 4 ? 0 : 1] * 16 + static_cast<unsigned>(digit);
  }
  group = static_cast<uint16_t>(value[0]);
  element = static_cast<uint16_t>(value[1]);
  return true;
}

void setStringField(lua_State* L, const char* name, const std::string& value) {
  lua_pushlstring(L, value.data(), value.size());
  lua_setfield(L, -2, name);
}

bool isCurrentTags(lua_State* L, const Runtime& rt) {
  return rt.instance != nullptr && lua_topointer(L, 1) == rt.tagsTable;
}

// __index(tags, key)
int tagsIndex(lua_State* L) {
  const Runtime& rt = runtime(L);
  if (!isCurrentTags(L, rt) || lua_type(L, 2) != LUA_TSTRING) return 0;
  size_t length = 0;
  const char* text = lua_tolstring(L, 2, &length);
  const std::string_view key(text, length);
  uint16_t group = 0, element = 0;
  bool canonical = true;
  const bool byNumber = parseTagNumber(key, group, element, canonical);
  for (const TagValue& tag : rt.instance->tags) {
    const bool hit = byNumber ? (tag.group == group && tag.element == element) : (tag.keyword == key);
    if (!hit) continue;
    lua_pushlstring(L, tag.value.data(), tag.value.size());
    // Cache only canonical keys: pairs() may be traversing the table, and a
    // traversal must not see new keys appear.
    if (canonical) {
      lua_pushvalue(L, 2);
      lua_pushvalue(L, -2);
      lua_rawset(L, 1);
    }
    return 1;
  }
  return 0;
}

// __pairs(tags): fills in every tag, then iterates with next. Upvalue 1: next.
int tagsPairs(lua_State* L) {
  const Runtime& rt = runtime(L);
  if (isCurrentTags(L, rt)) {
    char number[16];
    for (const TagValue& tag : rt.instance->tags) {
      if (!tag.keyword.empty()) {
        lua_pushlstring(L, tag.keyword.data(), tag.keyword.size());
        lua_pushlstring(L, tag.value.data(), tag.value.size());
        lua_rawset(L, 1);
      }
      std::snprintf(number, sizeof number, "%04X,%04X", tag.group, tag.element);
      lua_pushstring(L, number);
      lua_pushlstring(L, tag.value.data(), tag.value.size());
      lua_rawset(L, 1);
    }
  }
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_pushvalue(L, 1);
  lua_pushnil(L);
  return 3;
}

}  // namespace

void registerInstanceSupport(lua_State* L) {
  lua_createtable(L, 0, 3);
  lua_pushcfunction(L, tagsIndex);
  lua_setfield(L, -2, "__index");
  lua_getglobal(L, "next");
  lua_pushcclosure(L, tagsPairs, 1);
  lua_setfield(L, -2, "__pairs");
  lua_pushboolean(L, 0);
  lua_setfield(L, -2, "__metatable");
  runtime(L).tagsMetatableRef = luaL_ref(L, LUA_REGISTRYINDEX);
}

void pushInstance(lua_State* L, const InstanceView& instance) {
  Runtime& rt = runtime(L);
  lua_createtable(L, 0, 6);
  setStringField(L, "id", instance.id);
  setStringField(L, "sop_class_uid", instance.sopClassUid);
  setStringField(L, "sop_instance_uid", instance.sopInstanceUid);
  setStringField(L, "transfer_syntax", instance.transferSyntax);

  lua_createtable(L, 0, 4);
  setStringField(L, "calling_aet", instance.origin.callingAet);
  setStringField(L, "called_aet", instance.origin.calledAet);
  setStringField(L, "remote_ip", instance.origin.remoteIp);
  setStringField(L, "protocol", instance.origin.protocol);
  lua_setfield(L, -2, "origin");

  // Room for the tags a typical rule set reads, without growing on the way.
  lua_createtable(L, 0, 16);
  lua_rawgeti(L, LUA_REGISTRYINDEX, rt.tagsMetatableRef);
  lua_setmetatable(L, -2);
  rt.tagsTable = lua_topointer(L, -1);
  rt.instance = &instance;
  lua_setfield(L, -2, "tags");
}

namespace {

// Every tag by keyword and by "GGGG,EEEE", as the lazy table would answer.
void pushTagsTable(lua_State* L, const InstanceView& instance) {
  lua_createtable(L, 0, static_cast<int>(instance.tags.size() * 2));
  char number[16];
  for (const TagValue& tag : instance.tags) {
    if (!tag.keyword.empty()) setStringField(L, tag.keyword.c_str(), tag.value);
    std::snprintf(number, sizeof number, "%04X,%04X", tag.group, tag.element);
    setStringField(L, number, tag.value);
  }
}

std::string tagOf(const InstanceView& instance, std::string_view keyword) {
  for (const TagValue& tag : instance.tags) {
    if (tag.keyword == keyword) return trimUid(tag.value);
  }
  return {};
}

}  // namespace

void pushStudy(lua_State* L, const StudySummary& study) {
  lua_createtable(L, 0, 6);
  setStringField(L, "uid", study.uid);
  lua_pushinteger(L, study.instances);
  lua_setfield(L, -2, "instances");
  lua_pushboolean(L, study.late ? 1 : 0);
  lua_setfield(L, -2, "late");
  lua_createtable(L, static_cast<int>(study.senders.size()), 0);
  for (size_t i = 0; i < study.senders.size(); ++i) {
    lua_pushlstring(L, study.senders[i].data(), study.senders[i].size());
    lua_rawseti(L, -2, static_cast<lua_Integer>(i + 1));
  }
  lua_setfield(L, -2, "senders");
  pushTagsTable(L, study.first);
  lua_setfield(L, -2, "tags");
  lua_createtable(L, static_cast<int>(study.series.size()), 0);
  for (size_t i = 0; i < study.series.size(); ++i) {
    const SeriesSummary& series = study.series[i];
    lua_createtable(L, 0, 6);
    setStringField(L, "uid", series.uid);
    lua_pushinteger(L, series.instances);
    lua_setfield(L, -2, "instances");
    setStringField(L, "modality", tagOf(series.first, "Modality"));
    setStringField(L, "description", tagOf(series.first, "SeriesDescription"));
    setStringField(L, "number", tagOf(series.first, "SeriesNumber"));
    pushTagsTable(L, series.first);
    lua_setfield(L, -2, "tags");
    lua_rawseti(L, -2, static_cast<lua_Integer>(i + 1));
  }
  lua_setfield(L, -2, "series");
}

}  // namespace router::lua
