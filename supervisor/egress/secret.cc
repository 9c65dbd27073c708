// supervisor/egress/secret.cc: substituting secrets and attaching tokens in forwarded requests.
#include "supervisor/egress/secret.h"

#include <algorithm>

namespace cordon::egress {
namespace {

std::string DestText(const Destination& d) {
  if (d.host.find(':') != std::string::npos) return "[" + d.host + "]:" + std::to_string(d.port);
  return d.host + ":" + std::to_string(d.port);
}

CredentialOutcome Refuse(const SecretRule& s, const Destination& dest, const char* where) {
  return CredentialOutcome{false,
                           "secret placeholder '" + s.name + "' in the request " + where + " to " + DestText(dest) +
                               ", a destination it is not bound to",
                           {}};
}

bool Contains(std::string_view hay, std::string_view needle) { return hay.find(needle) != std::string_view::npos; }

}  // namespace

size_t ReplaceAll(std::string* s, std::string_view from, std::string_view to) {
  if (from.empty()) return 0;
  size_t n = 0;
  for (size_t at = s->find(from); at != std::string::npos; at = s->find(from, at + to.size())) {
    s->replace(at, from.size(), to);
    ++n;
  }
  return n;
}

bool BoundTo(const std::vector<AllowEntry>& entries, const Destination& dest) {
  const auto literal = ParseIpLiteral(dest.host);
  for (const AllowEntry& e : entries) {
    if (!e.MatchesPort(dest.port)) continue;
    switch (e.kind) {
      case AllowEntry::Kind::kExactName:
        if (!literal && dest.host == e.name) return true;
        break;
      case AllowEntry::Kind::kWildcardName:
        if (!literal && dest.host.size() > e.name.size() + 1 && dest.host.ends_with(e.name) &&
            dest.host[dest.host.size() - e.name.size() - 1] == '.')
          return true;
        break;
      case AllowEntry::Kind::kAnyHost: return true;
      case AllowEntry::Kind::kAddress:
        if (literal && e.range.Contains(*literal)) return true;
        break;
    }
  }
  return false;
}

bool AnyBoundTo(const Credentials& creds, const Destination& dest) {
  for (const SecretRule& r : creds.secrets)
    if (BoundTo(r.destinations, dest)) return true;
  for (const HeaderRule& r : creds.headers)
    if (BoundTo(r.destinations, dest)) return true;
  return false;
}

CredentialOutcome ApplyToRequest(const Credentials& creds, const Destination& dest, RequestHead* head,
                                 ProxyTarget* target, std::string* body, bool body_complete) {
  CredentialOutcome out;
  bool body_changed = false;
  for (const SecretRule& s : creds.secrets) {
    const bool bound = BoundTo(s.destinations, dest);
    size_t n = 0;
    if (bound) {
      n += ReplaceAll(&target->path, s.placeholder, s.value);
      for (auto& [k, v] : head->headers) n += ReplaceAll(&v, s.placeholder, s.value);
      if (s.body && body_complete) {
        size_t in_body = ReplaceAll(body, s.placeholder, s.value);
        body_changed = body_changed || in_body > 0;
        n += in_body;
      }
      if (n > 0) out.applied.push_back("secret:" + s.name);
      continue;
    }
    if (Contains(target->path, s.placeholder)) return Refuse(s, dest, "target");
    for (const auto& [k, v] : head->headers)
      if (Contains(v, s.placeholder) || Contains(k, s.placeholder)) return Refuse(s, dest, "headers");
    if (Contains(*body, s.placeholder)) return Refuse(s, dest, "body");
  }
  if (body_changed) {
    for (auto& [k, v] : head->headers)
      if (EqualsIgnoreCase(k, "content-length")) v = std::to_string(body->size());
  }
  for (const HeaderRule& h : creds.headers) {
    if (!BoundTo(h.destinations, dest)) continue;
    std::erase_if(head->headers, [&](const auto& kv) { return EqualsIgnoreCase(kv.first, h.header); });
    head->headers.emplace_back(h.header, h.value);
    out.applied.push_back(h.label);
  }
  return out;
}

CredentialOutcome CheckTunnelHead(const Credentials& creds, const Destination& dest, const RequestHead& head) {
  for (const SecretRule& s : creds.secrets) {
    bool found = Contains(head.target, s.placeholder);
    for (const auto& [k, v] : head.headers) found = found || Contains(v, s.placeholder) || Contains(k, s.placeholder);
    if (found)
      return CredentialOutcome{false,
                               "secret placeholder '" + s.name + "' in a CONNECT to " + DestText(dest) +
                                   ": nothing can be substituted in a tunnel",
                               {}};
  }
  return {};
}

}  // namespace cordon::egress
