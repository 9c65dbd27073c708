// supervisor/cli/token.cc: `cordon token verify|jwks|rotate|mint` (docs/identity.md).
#include "supervisor/cli/token.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>

#include "supervisor/cli/report.h"
#include "supervisor/daemon/client.h"
#include "supervisor/daemon/paths.h"
#include "supervisor/token/jwt.h"
#include "supervisor/token/rotation.h"

namespace cordon {
namespace {

namespace api = ::cordon::api::v1;
constexpr int kExitRejected = 1;
constexpr const char* kWho = "cordon token";

constexpr const char* kUsage =
    "Usage:\n"
    "  cordon token verify [--jwks FILE | --online] [--audience AUD] [--socket PATH] TOKEN|-\n"
    "      Check a task's identity token. Offline (default): its signature against the key set\n"
    "      (--jwks FILE, default STATE/token/jwks.json of cordond's default state dir) and its\n"
    "      claims (nbf, exp, aud). --online: asks cordond, which also refuses the token once its\n"
    "      task has finished. '-' reads the token from stdin (keeps it out of `ps`).\n"
    "      Exit 0 and the claims as JSON on stdout; exit 1 and the reason when rejected; 125 when\n"
    "      it could not be checked.\n"
    "  cordon token mint TASK --aud AUDIENCE [--step NAME] [--socket PATH]\n"
    "      Mint a token for one execution step of your running task TASK (you must be the\n"
    "      principal that submitted it). AUDIENCE must be one the task's policy grants\n"
    "      (identity.tokens); NAME goes into the token's cordon.step claim. Its life ends at the\n"
    "      earliest of identity.max_token_ttl_s and the task's wall-clock limit. Prints the token\n"
    "      on stdout; exit 1 and the reason when cordond refuses (a finished task, another\n"
    "      audience, not your task), 125 when it could not ask.\n"
    "  cordon token jwks [--socket PATH]\n"
    "      Print cordond's published key set (JWKS JSON).\n"
    "  cordon token rotate [--state-dir DIR]\n"
    "      Replace cordond's signing key (run as cordond's user; DIR default: cordond's default\n"
    "      state dir). The old key stays in the key set for 24 h 5 min, so tokens it signed keep\n"
    "      verifying until they expire; cordond signs with the new key from its next token on.\n";

std::string ReadToken(std::string arg) {
  if (arg == "-") std::getline(std::cin, arg);
  while (!arg.empty() && (arg.back() == '\n' || arg.back() == '\r' || arg.back() == ' ')) arg.pop_back();
  return arg;
}

Result<api::Response> CallDaemon(const std::string& socket, api::Request req) {
  auto conn = daemon::ClientConnection::Open(socket.empty() ? daemon::ClientSocketPath() : socket);
  if (!conn) return std::unexpected(conn.error());
  return conn->Call(std::move(req), nullptr, 0, 30000);
}

int Verify(int argc, char** argv) {
  std::string jwks, audience, socket, token_arg;
  bool online = false, have_token = false;
  for (int i = 0; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&](std::string* out) {
      if (i + 1 >= argc) return false;
      *out = argv[++i];
      return true;
    };
    if (a == "--jwks" || a == "--audience" || a == "--socket") {
      std::string* out = a == "--jwks" ? &jwks : a == "--audience" ? &audience : &socket;
      if (!value(out)) return cli::ReportFailure(a + " needs a value", "cordon token --help", kExitCordonFailure, kWho);
    } else if (a == "--online") {
      online = true;
    } else if (a.starts_with("--") ) {
      return cli::ReportFailure("unknown option " + a, "cordon token --help", kExitCordonFailure, kWho);
    } else if (!have_token) {
      token_arg = a;
      have_token = true;
    } else {
      return cli::ReportFailure("more than one token given", "cordon token --help", kExitCordonFailure, kWho);
    }
  }
  if (!have_token) return cli::ReportFailure("no token given", "cordon token verify TOKEN (or - for stdin)", kExitCordonFailure, kWho);
  if (online && !jwks.empty())
    return cli::ReportFailure("--online and --jwks exclude each other", "online, cordond checks with its own key",
                              kExitCordonFailure, kWho);
  const std::string tok = ReadToken(token_arg);
  if (tok.empty()) return cli::ReportFailure("the token is empty", {}, kExitCordonFailure, kWho);

  if (online) {
    api::Request req;
    req.mutable_token_verify()->set_token(tok);
    req.mutable_token_verify()->set_audience(audience);
    auto resp = CallDaemon(socket, std::move(req));
    if (!resp) return cli::ReportFailure(resp.error(), kExitCordonFailure, kWho);
    if (resp->has_error()) {
      const bool rejected = resp->error().code() == api::ERROR_CODE_TOKEN_REJECTED;
      return cli::ReportFailure(resp->error().message(), {}, rejected ? kExitRejected : kExitCordonFailure, kWho);
    }
    std::printf("%s\n", resp->token_verify().claims_json().c_str());
    return 0;
  }
  if (jwks.empty()) jwks = daemon::GetDefaultPaths().state_dir + "/token/jwks.json";
  std::ifstream f(jwks);
  if (!f)
    return cli::ReportFailure("cannot read the key set " + jwks,
                              "give --jwks FILE (cordond's STATE/token/jwks.json, or `cordon token jwks > FILE`)",
                              kExitCordonFailure, kWho);
  std::stringstream text;
  text << f.rdbuf();
  auto keys = token::ParseJwks(text.str());
  if (!keys) return cli::ReportFailure(jwks + ": " + keys.error().Message(), keys.error().hint, kExitCordonFailure, kWho);
  token::VerifyOptions vo;
  vo.now = static_cast<int64_t>(std::time(nullptr));
  vo.audience = audience;
  auto v = token::Verify(tok, *keys, vo);
  if (!v) return cli::ReportFailure("token rejected: " + v.error().context, {}, kExitRejected, kWho);
  std::printf("%s\n", v->payload.dump().c_str());
  return 0;
}

int Jwks(int argc, char** argv) {
  std::string socket;
  for (int i = 0; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--socket" && i + 1 < argc) {
      socket = argv[++i];
    } else {
      return cli::ReportFailure("unexpected argument " + a, "cordon token jwks [--socket PATH]", kExitCordonFailure, kWho);
    }
  }
  api::Request req;
  req.mutable_token_keys();
  auto resp = CallDaemon(socket, std::move(req));
  if (!resp) return cli::ReportFailure(resp.error(), kExitCordonFailure, kWho);
  if (resp->has_error()) return cli::ReportFailure(resp->error().message(), {}, kExitCordonFailure, kWho);
  std::printf("%s\n", resp->token_keys().jwks_json().c_str());
  return 0;
}

int Rotate(int argc, char** argv) {
  std::string state_dir = daemon::GetDefaultPaths().state_dir;
  for (int i = 0; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--state-dir" && i + 1 < argc) {
      state_dir = argv[++i];
    } else {
      return cli::ReportFailure("unexpected argument " + a, "cordon token rotate [--state-dir DIR]", kExitCordonFailure,
                                kWho);
    }
  }
  const std::string dir = state_dir + "/token";
  struct stat st{};
  if (::stat((dir + "/signing-key.pem").c_str(), &st) < 0)
    return cli::ReportFailure("no signing key in " + dir + " (" + std::strerror(errno) + ")",
                              "give cordond's --state-dir, and run as cordond's user", kExitCordonFailure, kWho);
  auto r = token::RotateSigningKey(dir, static_cast<int64_t>(std::time(nullptr)));
  if (!r) return cli::ReportFailure(r.error(), kExitCordonFailure, kWho);
  std::printf("token signing key rotated: new kid %s; old kid %s stays in %s/jwks.json until %lld (Unix time)\n",
              r->new_kid.c_str(), r->old_kid.c_str(), dir.c_str(), static_cast<long long>(r->old_until));
  return 0;
}

int Mint(int argc, char** argv) {
  std::string task, audience, step, socket;
  for (int i = 0; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--aud" || a == "--audience" || a == "--step" || a == "--socket") {
      if (i + 1 >= argc) return cli::ReportFailure(a + " needs a value", "cordon token --help", kExitCordonFailure, kWho);
      (a == "--step" ? step : a == "--socket" ? socket : audience) = argv[++i];
    } else if (a.starts_with("--")) {
      return cli::ReportFailure("unknown option " + a, "cordon token --help", kExitCordonFailure, kWho);
    } else if (task.empty()) {
      task = a;
    } else {
      return cli::ReportFailure("more than one task given", "cordon token mint TASK --aud AUDIENCE", kExitCordonFailure,
                                kWho);
    }
  }
  if (task.empty())
    return cli::ReportFailure("no task given", "cordon token mint TASK --aud AUDIENCE (cordon ps lists your tasks)",
                              kExitCordonFailure, kWho);
  if (audience.empty())
    return cli::ReportFailure("no audience given", "cordon token mint " + task + " --aud AUDIENCE", kExitCordonFailure,
                              kWho);
  api::Request req;
  req.mutable_token_mint()->set_task_id(task);
  req.mutable_token_mint()->set_audience(audience);
  req.mutable_token_mint()->set_step(step);
  auto resp = CallDaemon(socket, std::move(req));
  if (!resp) return cli::ReportFailure(resp.error(), kExitCordonFailure, kWho);
  if (resp->has_error()) {
    const auto code = resp->error().code();
    const bool refused = code == api::ERROR_CODE_TASK_FINISHED || code == api::ERROR_CODE_PERMISSION_DENIED ||
                         code == api::ERROR_CODE_NOT_FOUND;
    return cli::ReportFailure(resp->error().message(), {}, refused ? kExitRejected : kExitCordonFailure, kWho);
  }
  std::printf("%s\n", resp->token_mint().token().c_str());
  return 0;
}

}  // namespace

int CmdToken(int argc, char** argv) {
  if (argc < 1 || std::string(argv[0]) == "--help" || std::string(argv[0]) == "-h") {
    std::fputs(kUsage, argc < 1 ? stderr : stdout);
    return argc < 1 ? kExitCordonFailure : 0;
  }
  const std::string sub = argv[0];
  if (sub == "verify") return Verify(argc - 1, argv + 1);
  if (sub == "jwks") return Jwks(argc - 1, argv + 1);
  if (sub == "rotate") return Rotate(argc - 1, argv + 1);
  if (sub == "mint") return Mint(argc - 1, argv + 1);
  return cli::ReportFailure("unknown subcommand '" + sub + "'", "cordon token verify|jwks|rotate|mint; cordon token --help",
                            kExitCordonFailure, kWho);
}

}  // namespace cordon
