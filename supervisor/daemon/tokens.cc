// supervisor/daemon/tokens.cc: cordond's identity boundary (docs/identity.md): per-task tokens
// (minted when a task starts, delivered through a pipe binding or attached by the egress proxy),
// the secrets a task sees only as placeholders, and the TokenVerify and TokenKeys calls.
#include <sys/stat.h>

#include "supervisor/daemon/daemon_internal.h"
#include "supervisor/token/jwt.h"

namespace cordon::daemon::internal {
namespace {

constexpr const char* kIssuer = "cordond";
constexpr size_t kMaxSecretBytes = 64 << 10;

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
  if (value.ends_with('\n')) value.pop_back();
  if (value.ends_with('\r')) value.pop_back();
  if (value.empty()) return FailMsg(who + " is empty");
  // It goes into header values: a line break or NUL would let it add headers of its own.
  if (value.find_first_of(std::string_view("\r\n\0", 3)) != std::string::npos)
    return FailMsg(who + " holds a line break or NUL character", "store the value on one line");
  return value;
}

void WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // the sandbox is gone: nobody reads it
    data.remove_prefix(static_cast<size_t>(n));
  }
}

}  // namespace

Result<void> Daemon::InitTokens() {
  std::vector<std::string> notes;
  auto key = token::SigningKey::LoadOrCreate(opts_.state_dir + "/token", &notes);
  if (!key) return Wrap(key.error(), "token signing key");
  for (const auto& n : notes) Log(n);
  token_key_ = std::move(*key);
  return {};
}

Result<void> Daemon::PrepareIdentity(const Decision& d, const Submission& s, TaskRequest* tr, Live* l) {
  const PolicyIdentity& id = d.policy->policy->identity;
  if (id.empty()) return {};
  auto creds = std::make_shared<egress::Credentials>();
  for (const SecretDecl& decl : id.secrets) {
    CORDON_ASSIGN_OR_RETURN(std::string value, ReadSecretFile(decl));
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

void Daemon::IssueIdentity(Live& l, const Decision& d, const Submission& s) {
  l.token_reads.clear();  // the sandbox has its copies
  if (!l.credentials) return;
  const Policy& policy = *d.policy->policy;
  const PolicyIdentity& id = policy.identity;
  const int64_t now = NowUnixMs() / 1000;
  // exp: the earlier of the task's wall-clock limit and the policy's maximum (5 min by default).
  int64_t ttl = static_cast<int64_t>(id.max_token_ttl_s);
  if (policy.limits.max_wall_ms != 0)
    ttl = std::min<int64_t>(ttl, static_cast<int64_t>((policy.limits.max_wall_ms + 999) / 1000));
  std::vector<std::string> caps;
  for (const Binding& b : policy.bindings) caps.push_back("binding:" + b.name);
  for (const auto& e : policy.outbound.allow) caps.push_back("outbound:" + e.text);
  for (const TokenGrant& g : id.tokens) caps.push_back("token:" + g.audience);
  for (const SecretDecl& sd : id.secrets) caps.push_back("secret:" + sd.name);
  for (const TokenGrant& g : id.tokens) {
    token::Claims c;
    c.iss = kIssuer;
    c.sub = d.principal->tenant + "/" + (s.app_id.empty() ? "default" : s.app_id) + "/" + d.principal->name;
    c.aud = g.audience;
    c.iat = c.nbf = now;
    c.exp = now + ttl;
    c.task_id = l.row.id;
    c.task_class = s.cls;
    c.policy = policy.name;
    c.policy_sha256 = policy.sha256;
    c.capabilities = caps;
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

void Daemon::HandleTokenVerify(Conn& c, uint64_t call_id, const api::TokenVerifyRequest& req) {
  const Principal* p = FindPrincipal(config_->principals, c.peer.uid, c.peer.gid);
  if (p == nullptr)
    return ReplyError(c, call_id, api::ERROR_CODE_UNAUTHENTICATED,
                      "uid " + std::to_string(c.peer.uid) + " is not a principal in " + config_->principals.source);
  if (req.token().empty()) return ReplyError(c, call_id, api::ERROR_CODE_INVALID_ARGUMENT, "token is empty");
  token::VerifyOptions vo;
  vo.now = NowUnixMs() / 1000;
  vo.audience = req.audience();
  auto v = token::Verify(req.token(), {token_key_->public_key()}, vo);
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
  resp.mutable_token_keys()->set_jwks_json(token::JwksJson({token_key_->public_key()}));
  Reply(c, resp);
}

}  // namespace cordon::daemon::internal
