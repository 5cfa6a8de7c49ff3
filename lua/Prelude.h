// The Lua prelude (lua/prelude.lua): helpers every rule file can call. Its
// text is embedded into the binary at configure time (Prelude.cpp.in), so a
// deployed appliance needs no file beside its rules.
#pragma once

namespace router::lua {

extern const char* const kPreludeSource;

}  // namespace router::lua
