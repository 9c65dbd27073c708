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

bool JsonChecker::Bad(const std::string& path, const std::string& why) {
  if (!error_) error_ = Error{EINVAL, what_ + ": " + (path.empty() ? "(top level)" : path) + ": " + why, hint_};
  return false;
}

bool JsonChecker::Object(const json& j, const std::string& path, std::initializer_list<const char*> known) {
  if (!j.is_object()) return Bad(path, std::string("expected an object, got ") + j.type_name());
  for (auto it = j.begin(); it != j.end(); ++it) {
    bool ok = false;
    for (const char* k : known) ok = ok || it.key() == k;
    if (!ok) {
      std::string expected;
      for (const char* k : known) expected += std::string(expected.empty() ? "" : ", ") + k;
      return Bad(Join(path, it.key()), "unknown field (known fields: " + expected + ")");
    }
  }
  return true;
}

bool JsonChecker::String(const json& j, const std::string& path, std::string* out, bool nonempty) {
  if (!j.is_string()) return Bad(path, std::string("expected a string, got ") + j.type_name());
  *out = j.get<std::string>();
  if (nonempty && out->empty()) return Bad(path, "must not be empty");
  return true;
}

bool JsonChecker::StringList(const json& j, const std::string& path, std::vector<std::string>* out) {
  if (!j.is_array()) return Bad(path, std::string("expected an array of strings, got ") + j.type_name());
  for (size_t i = 0; i < j.size(); ++i) {
    std::string s;
    if (!String(j[i], Index(path, i), &s)) return false;
    out->push_back(std::move(s));
  }
  return true;
}

bool JsonChecker::Uint(const json& j, const std::string& path, uint64_t* out, uint64_t min, uint64_t max,
                       bool zero_ok) {
  if (!j.is_number_unsigned() && !(j.is_number_integer() && j.get<int64_t>() >= 0))
    return Bad(path, std::string("expected a non-negative integer, got ") +
                         (j.is_number_integer() ? std::to_string(j.get<int64_t>()) : j.type_name()));
  const uint64_t v = j.get<uint64_t>();
  if (v == 0 && zero_ok) {
    *out = 0;
    return true;
  }
  if (v > max && min == 0) return Bad(path, "at most " + std::to_string(max) + ", got " + std::to_string(v));
  if (v < min || v > max)
    return Bad(path, (zero_ok ? "must be 0 (no limit) or between " : "must be between ") + std::to_string(min) +
                         " and " + std::to_string(max));
  *out = v;
  return true;
}

}  // namespace cordon
