// supervisor/daemon/tokens.cc: cordond's identity boundary (docs/identity.md): per-task tokens
// (minted when a task starts, delivered through a pipe binding or attached by the egress proxy),
// the secrets a task sees only as placeholders, and the TokenVerify and TokenKeys calls.
#include <poll.h>
#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <map>

#include "supervisor/daemon/daemon_internal.h"
#include "supervisor/token/jwt.h"
#include "supervisor/token/rotation.h"

namespace cordon::daemon::internal {
namespace {

constexpr const char* kIssuer = "cordond";
constexpr size_t kMaxSecretBytes = 64 << 10;

// A secret's value must be one line: it goes into header values.
Result<std::string> CheckedValue(std::string value, const std::string& who) {
  if (value.ends_with('\n')) value.pop_back();
  if (value.ends_with('\r')) value.pop_back();
  if (value.empty()) return FailMsg(who + " is empty");
  // It goes into header values: a line break or NUL would let it add headers of its own.
  if (value.find_first_of(std::string_view("\r\n\0", 3)) != std::string::npos)
    return FailMsg(who + " holds a line break or NUL character", "store the value on one line");
  return value;
}

// A secret's value from a file only cordond may read: a regular file (no symlink), owned by
// cordond's uid, no access for group or others. One trailing newline is not part of the value.
Result<std::string> ReadSecretFile(const SecretDecl& s) {
  const std::string who = "secret '" + s.name + "' (" + s.source + ")";
  UniqueFd fd(::open(s.source.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY));
  if (fd.Get() < 0) return Fail(errno, "cannot open " + who, "create it, readable only by cordond's user");
  struct stat st{};
  if (::fstat(fd.Get(), &st) < 0) return Fail(errno, "fstat " + who);
  if (!S_ISREG(st.st_mode)) return FailMsg(who + " is not a regular file");
  if (st.st_uid != ::geteuid() || (st.st_mode & 077) != 0)
    return FailMsg(who + " must be owned by cordond's user and readable by it alone",
                   "chown it to uid " + std::to_string(::geteuid()) + " and chmod 600 it");
  if (static_cast<size_t>(st.st_size) > kMaxSecretBytes)
    return FailMsg(who + " is larger than " + std::to_string(kMaxSecretBytes) + " bytes");
  std::string value(static_cast<size_t>(st.st_size), '\0');
  size_t got = 0;
  while (got < value.size()) {
    ssize_t n = ::read(fd.Get(), value.data() + got, value.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Fail(n < 0 ? errno : EIO, "read " + who);
    got += static_cast<size_t>(n);
  }
  return CheckedValue(std::move(value), who);
}

// A secret the caller passed as --fd NAME=N: a regular file (read from its start), or a pipe
// whose writer has written the value and closed it. Read without blocking the loop: a pipe that
// is not at its end yet is refused, never waited for.
Result<std::string> ReadCallerSecret(int fd, const std::string& name) {
  const std::string who = "secret '" + name + "' (--fd " + name + ")";
  struct stat st{};
  if (::fstat(fd, &st) < 0) return Fail(errno, "fstat " + who);
  std::string value;
  char buf[4096];
  if (S_ISREG(st.st_mode)) {
    if (static_cast<size_t>(st.st_size) > kMaxSecretBytes)
      return FailMsg(who + " is larger than " + std::to_string(kMaxSecretBytes) + " bytes");
    for (off_t off = 0;;) {
      ssize_t n = ::pread(fd, buf, sizeof buf, off);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return Fail(errno, "read " + who);
      if (n == 0) break;
      value.append(buf, static_cast<size_t>(n));
      off += n;
      if (value.size() > kMaxSecretBytes) return FailMsg(who + " is larger than " + std::to_string(kMaxSecretBytes) + " bytes");
    }
  } else if (S_ISFIFO(st.st_mode)) {
    for (;;) {
      pollfd p{fd, POLLIN, 0};
      int r = ::poll(&p, 1, 0);
      if (r < 0 && errno == EINTR) continue;
      if (r == 0)
        return FailMsg(who + ": the pipe is not at its end (its writer has not closed it)",
                       "write the value and close the pipe before the submit, e.g. --fd " + name + "=3 3<<<\"$VALUE\", or pass a file");
      ssize_t n = ::read(fd, buf, sizeof buf);  // poll said readable: data or EOF, no wait
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return Fail(errno, "read " + who);
      if (n == 0) break;
      value.append(buf, static_cast<size_t>(n));
      if (value.size() > kMaxSecretBytes) return FailMsg(who + " is larger than " + std::to_string(kMaxSecretBytes) + " bytes");
    }
  } else {
    return FailMsg(who + " is neither a regular file nor a pipe", "pass the value in a file or a closed pipe");
  }
  return CheckedValue(std::move(value), who);
}

void WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // the sandbox is gone: nobody reads it
    data.remove_prefix(static_cast<size_t>(n));
  }
}

// A token's claims for a task of `policy` (its own at start, or a step's through TokenMint): exp is
// the earliest of now + the policy's maximum life and the task's wall-clock deadline.
token::Claims TaskClaims(const Live& l, const Policy& policy, const std::string& audience, int64_t now) {
  const PolicyIdentity& id = policy.identity;
  token::Claims c;
  c.iss = kIssuer;
  c.sub = l.row.tenant + "/" + (l.row.app_id.empty() ? "default" : l.row.app_id) + "/" + l.row.principal;
  c.aud = audience;
  c.iat = c.nbf = now;
  c.exp = now + static_cast<int64_t>(id.max_token_ttl_s);
  if (l.token_deadline_s != 0) c.exp = std::min(c.exp, l.token_deadline_s);
  c.task_id = l.row.id;
  c.session = l.session;
  c.task_class = l.row.cls;
  c.policy = policy.name;
  c.policy_sha256 = policy.sha256;
  for (const Binding& b : policy.bindings) c.capabilities.push_back("binding:" + b.name);
  for (const auto& e : policy.outbound.allow) c.capabilities.push_back("outbound:" + e.text);
  for (const TokenGrant& g : id.tokens) c.capabilities.push_back("token:" + g.audience);
  for (const SecretDecl& sd : id.secrets) c.capabilities.push_back("secret:" + sd.name);
  return c;
}

// A step's name goes into a claim and the evidence log: short, plain characters.
bool ValidStep(const std::string& step) {
  if (step.size() > 64) return false;
  for (char ch : step)
    if (!(std::isalnum(static_cast<unsigned char>(ch)) || ch == '_' || ch == '.' || ch == ':' || ch == '-')) return false;
  return true;
}

}  // namespace

std::string IdentityTrustDir(const DaemonOptions& opts, const Policy& policy) {
  return policy.identity.empty() ? std::string() : opts.state_dir + "/tls/trust";
}

Result<void> Daemon::InitTokens() {
  std::vector<std::string> notes;
  auto key = token::SigningKey::LoadOrCreate(opts_.state_dir + "/token", &notes);
  if (!key) return Wrap(key.error(), "token signing key");
  token_key_ = std::move(*key);
  // The interception CA (docs/network.md "TLS interception"), with the host's bundle for the
  // sandbox's trust file.
  auto ca = egress::InterceptCa::LoadOrCreate(opts_.state_dir + "/tls", "/etc/ssl/certs/ca-certificates.crt", &notes);
  if (!ca) return Wrap(ca.error(), "egress TLS interception CA");
  tls_ca_ = std::move(*ca);
  for (const auto& n : notes) Log(n);
  return {};
}

Result<std::shared_ptr<const egress::TlsInterception>> Daemon::CurrentTls() {
  const DaemonSettings& set = config_->settings;
  if (!set.tls_interception) return std::shared_ptr<const egress::TlsInterception>();
  if (!tls_ || tls_ca_file_ != set.tls_upstream_ca_file) {
    auto ctx = egress::UpstreamContext(set.tls_upstream_ca_file);
    if (!ctx) return Wrap(ctx.error(), "daemon.json tls_interception.upstream_ca_file");
    tls_ = std::make_shared<const egress::TlsInterception>(egress::TlsInterception{tls_ca_, std::move(*ctx)});
    tls_ca_file_ = set.tls_upstream_ca_file;
  }
  return tls_;
}

Result<void> Daemon::PrepareIdentity(const Decision& d, SubmitCall* call, TaskRequest* tr, Live* l) {
  const Submission& s = call->s;
  const PolicyIdentity& id = d.policy->policy->identity;
  if (id.empty()) return {};
  // Caller secrets: their fds leave the call here, so that they never become the task's.
  std::map<std::string, std::string> from_caller;
  for (const SecretDecl& decl : id.secrets) {
    if (decl.source != "caller") continue;
    auto at = std::find(call->s.fd_bindings.begin(), call->s.fd_bindings.end(), decl.name);
    if (at == call->s.fd_bindings.end())
      return FailMsg("secret '" + decl.name + "' comes from the caller, and the submit passed no --fd " + decl.name,
                     "pass it with --fd " + decl.name + "=N (a file, or a pipe its writer has closed)");
    const size_t i = static_cast<size_t>(at - call->s.fd_bindings.begin());
    CORDON_ASSIGN_OR_RETURN(from_caller[decl.name], ReadCallerSecret(call->bound[i].Get(), decl.name));
    call->s.fd_bindings.erase(at);
    call->bound.erase(call->bound.begin() + static_cast<std::ptrdiff_t>(i));
  }
  auto creds = std::make_shared<egress::Credentials>();
  // TLS interception for the destinations bound below; the sandbox trusts the CA (tls_ca.h).
  CORDON_ASSIGN_OR_RETURN(creds->tls, CurrentTls());
  tr->trust_dir = IdentityTrustDir(opts_, *d.policy->policy);
  for (std::string& kv : egress::TrustEnvironment()) {
    std::erase_if(tr->env, [&](const std::string& e) { return e.starts_with(kv.substr(0, kv.find('=') + 1)); });
    tr->env.push_back(std::move(kv));
  }
  for (const SecretDecl& decl : id.secrets) {
    std::string value;
    if (decl.source == "caller") {
      value = std::move(from_caller[decl.name]);
    } else {
      CORDON_ASSIGN_OR_RETURN(value, ReadSecretFile(decl));
    }
    CORDON_ASSIGN_OR_RETURN(std::string nonce, token::NewJti());
    egress::SecretRule rule{decl.name, "cordon-secret-" + decl.name + "-" + nonce, std::move(value),
                            decl.destinations, decl.body};
    // Redacted by exact value from everything cordond stores from now on (docs/evidence.md).
    if (auto a = evlog_->AddSecret(rule.value, "secret"); !a) Log("evidence log: " + a.error().Message());
    std::erase_if(tr->env, [&](const std::string& kv) { return kv.starts_with(decl.env + "="); });
    tr->env.push_back(decl.env + "=" + rule.placeholder);
    creds->secrets.push_back(std::move(rule));
  }
  for (const TokenGrant& g : id.tokens) {
    if (g.binding.empty()) continue;
    for (const std::string& named : s.fd_bindings)
      if (named == g.binding)
        return FailMsg("binding '" + g.binding + "' carries cordond's token for '" + g.audience +
                           "'; the caller cannot pass it",
                       "drop --fd " + g.binding);
    int p[2];
    if (::pipe2(p, O_CLOEXEC) < 0) return Fail(errno, "pipe for token binding '" + g.binding + "'");
    l->token_reads.emplace_back(g.binding, UniqueFd(p[0]));
    l->token_writes.emplace_back(g.binding, UniqueFd(p[1]));
  }
  l->credentials = std::move(creds);
  return {};
}

void Daemon::IssueIdentity(Live& l, const Decision& d) {
  l.token_reads.clear();  // the sandbox has its copies
  if (!l.credentials) return;
  const Policy& policy = *d.policy->policy;
  const PolicyIdentity& id = policy.identity;
  // A key rotated since the last token (`cordon token rotate`, rotation.h): sign with the new one.
  if (!id.tokens.empty()) {
    if (auto k = token::SigningKey::LoadOrCreate(opts_.state_dir + "/token", nullptr); !k) {
      Log("token signing key: " + k.error().Message() + "; signing with the key loaded before");
    } else if (k->public_key().kid != token_key_->public_key().kid) {
      const std::string old_kid = token_key_->public_key().kid;
      token_key_ = std::move(*k);
      Log("token signing key rotated: " + old_kid + " -> " + token_key_->public_key().kid);
      if (auto a = evlog_->Governance("token_key_rotated", "cordond",
                                      {{"old_kid", old_kid}, {"kid", token_key_->public_key().kid}});
          !a)
        Log("evidence log: token_key_rotated: " + a.error().Message());
    }
  }
  const int64_t now = NowUnixMs() / 1000;
  // exp: the earlier of the task's wall-clock limit and the policy's maximum (5 min by default).
  l.identity_policy = d.policy->policy;
  if (policy.limits.max_wall_ms != 0)
    l.token_deadline_s = now + static_cast<int64_t>((policy.limits.max_wall_ms + 999) / 1000);
  for (const TokenGrant& g : id.tokens) {
    token::Claims c = TaskClaims(l, policy, g.audience, now);
    auto jti = token::NewJti();
    if (jti) c.jti = *jti;
    auto jwt = jti ? token::Mint(*token_key_, c) : Result<std::string>(std::unexpected(jti.error()));
    if (!jwt) {
      Log("task " + l.row.id + ": minting its token for '" + g.audience + "' failed: " + jwt.error().Message());
      continue;  // its binding gets EOF and no token; the proxy attaches nothing
    }
    if (auto a = evlog_->AddSecret(*jwt, "token"); !a) Log("evidence log: " + a.error().Message());
    if (auto a = evlog_->Governance("token_minted", d.principal->name,
                                    {{"task", l.row.id}, {"aud", c.aud}, {"jti", c.jti}, {"exp", c.exp},
                                     {"kid", token_key_->public_key().kid},
                                     {"delivery", g.binding.empty() ? "proxy" : "binding"}});
        !a)
      Log("evidence log: token_minted: " + a.error().Message());
    if (!g.binding.empty()) {
      for (auto& [name, fd] : l.token_writes)
        if (name == g.binding) WriteAll(fd.Get(), *jwt + "\n");
    }
    if (!g.attach.empty())
      l.credentials->headers.push_back({"token:" + g.audience, g.attach, "Authorization", "Bearer " + *jwt});
  }
  l.token_writes.clear();  // EOF after the token
  if (!l.credentials->empty()) l.task->SetEgressCredentials(l.credentials);
}

void Daemon::HandleTokenMint(Conn& c, uint64_t call_id, const api::TokenMintRequest& req) {
  const Principal* p = FindPrincipal(config_->principals, c.peer.uid, c.peer.gid);
  if (p == nullptr)
    return ReplyError(c, call_id, api::ERROR_CODE_UNAUTHENTICATED,
                      "uid " + std::to_string(c.peer.uid) + " is not a principal in " + config_->principals.source);
  const std::string& id = req.task_id();
  if (id.empty()) return ReplyError(c, call_id, api::ERROR_CODE_INVALID_ARGUMENT, "task_id is empty");
  if (req.audience().empty())
    return ReplyError(c, call_id, api::ERROR_CODE_INVALID_ARGUMENT,
                      "audience is empty: name one of the task's policy's identity.tokens audiences");
  if (!ValidStep(req.step()))
    return ReplyError(c, call_id, api::ERROR_CODE_INVALID_ARGUMENT,
                      "step '" + req.step() + "' is not 1-64 of letters, digits and _ . : -");
  // A finished task's row: from memory, the pending spool or the database, only to say so.
  Live* live = nullptr;
  const PendingRecord* pending = nullptr;
  const std::optional<TaskRow> row = FindVisibleTaskRow(c, call_id, id, *p, &live, &pending);
  if (!row) return;
  // The token speaks for the task's owner: an operator who may manage it still may not mint it.
  if (row->principal != p->name)
    return ReplyError(c, call_id, api::ERROR_CODE_PERMISSION_DENIED,
                      "task " + id + " belongs to principal '" + row->principal +
                          "'; only its owner may mint its tokens");
  const int64_t now = NowUnixMs() / 1000;
  if (live == nullptr || live->task == nullptr || live->task->finished() || row->state == "finished")
    return ReplyError(c, call_id, api::ERROR_CODE_TASK_FINISHED,
                      "task " + id + " has finished; tokens are minted only for a running task");
  if (live->token_deadline_s != 0 && live->token_deadline_s <= now)
    return ReplyError(c, call_id, api::ERROR_CODE_TASK_FINISHED,
                      "task " + id + " has reached its wall-clock limit (policy limits.max_wall_ms); no new tokens");
  const std::shared_ptr<const Policy> policy = live->identity_policy;
  const TokenGrant* grant = nullptr;
  if (policy)
    for (const TokenGrant& g : policy->identity.tokens)
      if (g.audience == req.audience()) grant = &g;
  if (grant == nullptr) {
    std::string allowed;
    if (policy)
      for (const TokenGrant& g : policy->identity.tokens) allowed += (allowed.empty() ? "" : ", ") + g.audience;
    return ReplyError(c, call_id, api::ERROR_CODE_PERMISSION_DENIED,
                      "policy '" + row->policy + "' grants task " + id + " no tokens for audience '" + req.audience() +
                          "' (" + (allowed.empty() ? std::string("it grants none") : "it grants: " + allowed) +
                          "); add it to the policy's identity.tokens");
  }
  token::Claims claims = TaskClaims(*live, *policy, req.audience(), now);
  claims.step = req.step();
  auto jti = token::NewJti();
  if (!jti) return ReplyError(c, call_id, api::ERROR_CODE_INTERNAL, "token id: " + jti.error().Message());
  claims.jti = *jti;
  auto jwt = token::Mint(*token_key_, claims);
  if (!jwt) return ReplyError(c, call_id, api::ERROR_CODE_INTERNAL, "minting the token: " + jwt.error().Message());
  if (auto a = evlog_->AddSecret(*jwt, "token"); !a) Log("evidence log: " + a.error().Message());
  if (auto a = evlog_->Governance("token_minted", p->name,
                                  {{"task", id}, {"aud", claims.aud}, {"jti", claims.jti}, {"exp", claims.exp},
                                   {"kid", token_key_->public_key().kid}, {"delivery", "api"}, {"step", claims.step},
                                   {"peer_pid", c.peer.pid}, {"peer_uid", c.peer.uid}});
      !a)
    Log("evidence log: token_minted: " + a.error().Message());
  api::Response resp;
  resp.set_call_id(call_id);
  resp.mutable_token_mint()->set_token(*jwt);
  resp.mutable_token_mint()->set_claims_json(token::ClaimsJson(claims).dump());
  Reply(c, resp);
}

void Daemon::HandleTokenVerify(Conn& c, uint64_t call_id, const api::TokenVerifyRequest& req) {
  const Principal* p = FindPrincipal(config_->principals, c.peer.uid, c.peer.gid);
  if (p == nullptr)
    return ReplyError(c, call_id, api::ERROR_CODE_UNAUTHENTICATED,
                      "uid " + std::to_string(c.peer.uid) + " is not a principal in " + config_->principals.source);
  if (req.token().empty()) return ReplyError(c, call_id, api::ERROR_CODE_INVALID_ARGUMENT, "token is empty");
  token::VerifyOptions vo;
  vo.now = NowUnixMs() / 1000;
  vo.audience = req.audience();
  // Every published key: the current one and those retired within their tokens' lives.
  auto keys = token::PublishedKeys(opts_.state_dir + "/token", token_key_->public_key(), vo.now);
  if (!keys) return ReplyError(c, call_id, api::ERROR_CODE_INTERNAL, "token key set: " + keys.error().Message());
  auto v = token::Verify(req.token(), *keys, vo);
  if (!v) return ReplyError(c, call_id, api::ERROR_CODE_TOKEN_REJECTED, "token rejected: " + v.error().context);
  // Online, a token is good only while its task runs.
  const std::string& task = v->claims.task_id;
  auto it = live_by_id_.find(task);
  if (it == live_by_id_.end() || live_.at(it->second)->task->finished())
    return ReplyError(c, call_id, api::ERROR_CODE_TOKEN_REJECTED,
                      "token rejected: its task " + task + " has finished (or is unknown to this cordond)");
  api::Response resp;
  resp.set_call_id(call_id);
  resp.mutable_token_verify()->set_claims_json(v->payload.dump());
  FillInfo(live_.at(it->second)->row, resp.mutable_token_verify()->mutable_task());
  Reply(c, resp);
}

void Daemon::HandleTokenKeys(Conn& c, uint64_t call_id) {
  if (FindPrincipal(config_->principals, c.peer.uid, c.peer.gid) == nullptr)
    return ReplyError(c, call_id, api::ERROR_CODE_UNAUTHENTICATED,
                      "uid " + std::to_string(c.peer.uid) + " is not a principal in " + config_->principals.source);
  api::Response resp;
  resp.set_call_id(call_id);
  auto keys = token::PublishedKeys(opts_.state_dir + "/token", token_key_->public_key(), NowUnixMs() / 1000);
  if (!keys) return ReplyError(c, call_id, api::ERROR_CODE_INTERNAL, "token key set: " + keys.error().Message());
  resp.mutable_token_keys()->set_jwks_json(token::JwksJson(*keys));
  Reply(c, resp);
}

}  // namespace cordon::daemon::internal
