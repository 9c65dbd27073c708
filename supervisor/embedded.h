// supervisor/embedded.h: the shipped default policy and seccomp profile, compiled into the binary
// (generated from policies/default.json and seccomp-profiles/default.json by CMake into
// embedded.cc), so that `cordon run` needs no files at all.
#pragma once

#include <string_view>

namespace cordon {

std::string_view EmbeddedDefaultPolicy();
std::string_view EmbeddedDefaultSeccompProfile();

}  // namespace cordon
