// supervisor/egress/secret.h: credentials the egress proxy adds to a task's requests, so that the
// task never holds them (docs/identity.md):
//   - secrets: the task sees a placeholder; in a request to a destination the secret is bound to,
//     the proxy puts the real value in its place (header values and the URL's path and query; the
//     body too where declared). A placeholder in a request to any other destination refuses that
//     request, and the refusal is the egress record (never the value).
//   - headers: a header set on every request to some destinations (an identity token as
//     "Authorization: Bearer <jwt>"), replacing any the task sent.
// Only what the proxy sees in clear can be changed: absolute-form http:// requests. A CONNECT
// tunnel is opaque; its head (authority and headers) is checked for placeholders all the same.
// Pure: no I/O. Credentials are built by cordond per task and read by the proxy's thread.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "supervisor/egress/http.h"
#include "supervisor/egress/policy.h"
#include "supervisor/egress/tls_ca.h"

namespace cordon::egress {

struct SecretRule {
  std::string name;                      // the policy's name for it (records, reasons)
  std::string placeholder;               // what the task sees; unique per task and secret
  std::string value;                     // the real value; never logged, never recorded
  std::vector<AllowEntry> destinations;  // where the value may go (name/literal and port)
  bool body = false;                     // also in a Content-Length body that arrives with the head
};

struct HeaderRule {
  std::string label;                     // for records: "token:<audience>"
  std::vector<AllowEntry> destinations;
  std::string header;                    // "Authorization"
  std::string value;                     // "Bearer <jwt>"; never logged, never recorded
};

struct Credentials {
  std::vector<SecretRule> secrets;
  std::vector<HeaderRule> headers;
  // TLS interception for the destinations above (tls_ca.h); null: their https stays a tunnel.
  std::shared_ptr<const TlsInterception> tls;
  bool empty() const { return secrets.empty() && headers.empty(); }
};

// True when `dest` (a host as asked for, and its port) is one of `entries`: a name entry by name,
// an address entry when the host is an IP literal inside it.
bool BoundTo(const std::vector<AllowEntry>& entries, const Destination& dest);

struct CredentialOutcome {
  bool allow = true;
  std::string reason;                // a refusal's: names the secret and the destination, never the value
  std::vector<std::string> applied;  // "secret:<name>", "token:<audience>": what was added
};

// A forwarded request (absolute-form) to `dest`: substitutes and attaches in `head`, `target`
// (its path and query) and, for secrets with `body`, in `body` when it holds the whole
// Content-Length body (Content-Length is then rewritten). Refuses when a placeholder would go
// where its secret is not bound.
CredentialOutcome ApplyToRequest(const Credentials& creds, const Destination& dest, RequestHead* head,
                                 ProxyTarget* target, std::string* body, bool body_complete);

// A CONNECT head to `dest`: nothing can be substituted inside the tunnel, so any placeholder in the
// head itself is refused (a bound destination too: its value cannot be put in).
CredentialOutcome CheckTunnelHead(const Credentials& creds, const Destination& dest, const RequestHead& head);

// True when a secret or a header rule is bound to `dest`: its TLS is worth intercepting.
bool AnyBoundTo(const Credentials& creds, const Destination& dest);

// Replaces every occurrence of `from` in `*s` by `to`; the number replaced.
size_t ReplaceAll(std::string* s, std::string_view from, std::string_view to);

}  // namespace cordon::egress
