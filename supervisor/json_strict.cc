#include "supervisor/json_strict.h"

#include <set>
#include <vector>

namespace cordon {
namespace {

using nlohmann::json;

// Thrown from the parser callback to stop the parse at the first problem; caught below, never
// beyond this file.
struct Refused {
  std::string path, why;
};

// Where the parser is: one frame per open object or array.
struct Frame {
  bool array = false;
  size_t next_index = 0;      // arrays: index of the next element
  std::string key;            // objects: the key whose value is being parsed
  std::set<std::string> keys; // objects: keys seen so far
};

std::string PathOf(const std::vector<Frame>& stack) {
  std::string p;
  for (const Frame& f : stack) {
    if (f.array) {
      if (f.next_index > 0) p += "[" + std::to_string(f.next_index - 1) + "]";
    } else if (!f.key.empty() || !f.keys.empty()) {
      p += (p.empty() ? "" : ".") + f.key;
    }
  }
  return p.empty() ? "(top level)" : p;
}

}  // namespace

Result<json> ParseStrictJson(std::string_view text, const std::string& what, const std::string& hint,
                             size_t max_depth) {
  std::vector<Frame> stack;
  // An element of an array counts when it starts (a value, or an object or array opening).
  auto element_starts = [&]() {
    if (!stack.empty() && stack.back().array) ++stack.back().next_index;
  };
  json::parser_callback_t cb = [&](int /*depth*/, json::parse_event_t ev, json& parsed) -> bool {
    switch (ev) {
      case json::parse_event_t::object_start:
      case json::parse_event_t::array_start:
        element_starts();
        if (stack.size() >= max_depth)
          throw Refused{PathOf(stack), "nested deeper than " + std::to_string(max_depth) + " levels"};
        stack.push_back(Frame{ev == json::parse_event_t::array_start, 0, {}, {}});
        break;
      case json::parse_event_t::key: {
        const std::string k = parsed.get<std::string>();
        Frame& f = stack.back();
        f.key = k;
        if (k.find('\0') != std::string::npos)
          throw Refused{PathOf(stack), "a key contains a NUL character (\\u0000)"};
        if (!f.keys.insert(k).second) throw Refused{PathOf(stack), "duplicate key: it is given twice in one object"};
        break;
      }
      case json::parse_event_t::value:
        element_starts();
        if (parsed.is_string() && parsed.get_ref<const std::string&>().find('\0') != std::string::npos)
          throw Refused{PathOf(stack), "the string contains a NUL character (\\u0000)"};
        break;
      case json::parse_event_t::object_end:
      case json::parse_event_t::array_end:
        if (!stack.empty()) stack.pop_back();
        break;
    }
    return true;
  };
  try {
    return json::parse(text, cb);
  } catch (const Refused& r) {
    return FailMsg(what + ": " + r.path + ": " + r.why, hint);
  } catch (const json::exception& e) {
    return FailMsg(what + ": not valid JSON: " + e.what(), hint);
  }
}

}  // namespace cordon
