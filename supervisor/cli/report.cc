// supervisor/cli/report.cc: see report.h.
#include "supervisor/cli/report.h"

#include <cstdio>

namespace cordon::cli {

int ReportFailure(std::string_view msg, std::string_view hint, int exit_code, std::string_view who) {
  std::fprintf(stderr, "%.*s: %.*s\n", static_cast<int>(who.size()), who.data(), static_cast<int>(msg.size()),
               msg.data());
  if (!hint.empty()) {
    std::fprintf(stderr, "%.*s: hint: %.*s\n", static_cast<int>(who.size()), who.data(),
                 static_cast<int>(hint.size()), hint.data());
  }
  return exit_code;
}

}  // namespace cordon::cli
