// TLS interception through a real cordond and real sandboxes (docs/network.md "TLS
// interception"): a secret's placeholder and an attached token reach an HTTPS server on the host's
// loopback as the real values, from curl (through the proxy and, with the proxy variables removed,
// through transparent egress), Python's urllib and Node's fetch inside the sandbox. The server's
// certificate comes from a test CA that cordond is told to trust (daemon.json); a server whose
// certificate does not verify never gets the request. Cold and warm-pooled sandboxes alike.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

#include "tests/support/background.h"
#include "tests/support/daemon_process.h"
#include "tests/support/host.h"
#include "tests/support/run.h"

namespace cordon::test {
namespace {

constexpr const char* kSecret = "tls-s3cr3t-that-stays-outside";

std::string TempDir() {
  const char* t = ::getenv("TMPDIR");
  std::string tmpl = std::string(t && *t ? t : "/tmp") + "/cordon-tls-test-XXXXXX";
  std::string d = ::mkdtemp(tmpl.data());
  ::chmod(d.c_str(), 0755);
  return d;
}

std::string ReadFile(const std::string& path) {
  std::ifstream f(path);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

// A CA for the test's upstream servers, a server certificate it signed for 127.0.0.1, and a
// self-signed one that nothing trusts. openssl(1), as an operator would make them.
void MakeCertificates(const std::string& dir) {
  const std::string script = "set -e; cd '" + dir + "'; "
      "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.pem -days 2 "
      "-subj /CN=cordon-test-upstream-ca -addext basicConstraints=critical,CA:TRUE "
      "-addext keyUsage=critical,keyCertSign 2>/dev/null; "
      "openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout srv.key -out srv.csr "
      "-subj /CN=127.0.0.1 2>/dev/null; "
      "printf 'subjectAltName=IP:127.0.0.1\\nextendedKeyUsage=serverAuth\\n' > srv.ext; "
      "openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out srv.pem -days 2 "
      "-extfile srv.ext 2>/dev/null; "
      "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout rogue.key -out rogue.pem "
      "-days 2 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 2>/dev/null; "
      "chmod 644 *.pem *.key";
  auto r = RunProgram({"/bin/sh", "-c", script});
  ASSERT_EQ(r.exit_code, 0) << r.err;
}

// The SHA-256 of a PEM certificate's DER, lower-case hex, as the egress record has it.
std::string CertSha256(const std::string& pem) {
  auto r = RunProgram({"/bin/sh", "-c", "openssl x509 -in '" + pem + "' -noout -fingerprint -sha256"});
  std::string fp = r.out.substr(r.out.find('=') + 1);
  std::string hex;
  for (char ch : fp)
    if (std::isxdigit(static_cast<unsigned char>(ch))) hex += static_cast<char>(std::tolower(ch));
  return hex;
}

struct HttpsServer {
  HttpsServer(const std::string& dir, const std::string& name)
      : log(dir + "/" + name + ".log"),
        proc({"/usr/bin/python3", SourcePath("tests/integration/data/https_echo.py"), dir + "/" + name + ".pem",
              dir + "/" + name + ".key", log}) {
    auto line = proc.ReadLine();
    port = line ? std::atoi(line->c_str()) : 0;
  }
  std::vector<std::string> Requests() const {
    std::vector<std::string> out;
    std::istringstream s(ReadFile(log));
    for (std::string l; std::getline(s, l);) out.push_back(l);
    return out;
  }
  std::string log;
  Background proc;
  int port = 0;
};

// One run of the check task, cold (`pool` false) or in a warm-pooled sandbox.
void CheckInterception(bool pool) {
  REQUIRE_SANDBOX();
  const std::string dir = TempDir();
  MakeCertificates(dir);
  HttpsServer good(dir, "srv"), rogue(dir, "rogue");
  ASSERT_GT(good.port, 0);
  ASSERT_GT(rogue.port, 0);
  const std::string g = "127.0.0.1:" + std::to_string(good.port), r = "127.0.0.1:" + std::to_string(rogue.port);
  const std::string secret_file = dir + "/api-key";
  std::ofstream(secret_file) << kSecret << "\n";
  ::chmod(secret_file.c_str(), 0600);

  std::vector<std::string> extra = {"--pool-size", pool ? "1" : "0"};
  if (pool) extra.insert(extra.end(), {"--pool-policies", "ident"});
  DaemonProcess d(R"({"version": 1, "roles": {"runner": {"policies": ["ident"], "classes": ["batch"]}},
      "principals": [{"name": "tester", "tenant": "ci", "uids": [)" + std::to_string(::geteuid()) +
                      R"(], "roles": ["runner"]}]})",
                  extra);
  ::mkdir((d.conf() + "/policies").c_str(), 0755);
  std::ofstream(d.conf() + "/daemon.json")
      << R"({"version": 1, "tls_interception": {"upstream_ca_file": ")" + dir + R"(/ca.pem"}})";
  std::ofstream(d.conf() + "/policies/ident.json") << R"({"name": "ident", "version": 1,
    "outbound": {"mode": "allowlist", "allow": [")" + g + R"(", ")" + r + R"("]},
    "identity": {"tokens": [{"audience": "svc-tls", "attach": [")" + g + R"("]}],
                 "secrets": [{"name": "API_KEY", "source": ")" + secret_file + R"(", "destinations": [")" + g +
                                                   R"(", ")" + r + R"("]}]}})";
  ASSERT_EQ(d.Reload().find("reload failed"), std::string::npos) << d.Log();

  const std::string hdr = "-H \"X-Api-Key: $API_KEY\" ";
  const std::string script =
      "curl -sS -m 20 " + hdr + "https://" + g + "/curl-proxy; echo; "
      "env -u HTTPS_PROXY -u https_proxy curl -sS -m 20 " + hdr + "https://" + g + "/curl-transparent; echo; "
      // HTTP/2-capable clients: ALPN offers h2 and http/1.1, the interceptor picks http/1.1.
      "curl -sS -m 20 --http2 -w ' %{http_version}' " + hdr + "https://" + g + "/curl-h2; echo; "
      "env -u HTTPS_PROXY -u https_proxy curl -sS -m 20 --http2 -w ' %{http_version}' " + hdr + "https://" + g +
      "/curl-h2-transparent; echo; "
      "python3 -c 'import os, urllib.request as u; print(u.urlopen(u.Request(\"https://" + g +
      "/python\", headers={\"X-Api-Key\": os.environ[\"API_KEY\"]}), timeout=20).read().decode())'; "
      "node -e 'fetch(\"https://" + g + "/node\", {headers: {\"X-Api-Key\": process.env.API_KEY}})"
      ".then(r => r.text()).then(console.log, e => console.log(\"node: \" + e.cause))'; "
      "curl -s -m 20 -o /dev/null -w '%{http_code}\\n' " + hdr + "https://" + r + "/rogue; "
      "env | grep -c " + kSecret + "; exit 0";

  RunResult run;
  std::string ev, task;
  // Pooled: the first submits may find the pool still filling; the run that counts is a pooled one.
  for (int attempt = 0; attempt < (pool ? 20 : 1); ++attempt) {
    run = d.Cli({"submit", "--policy", "ident", "--class", "batch", "--", "/bin/sh", "-c", script});
    ASSERT_EQ(run.exit_code, 0) << run.err << d.Log();
    task = JsonField(d.Cli({"ps", "--all", "--json", "--limit", "1"}).out, "0/task_id");
    ev = d.Cli({"evidence", task}).out;
    if (!pool || JsonField(ev, "sandbox/pooled") == "true") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
  }
  if (pool) {
    ASSERT_EQ(JsonField(ev, "sandbox/pooled"), "true") << "no run found the warm pool ready: " << d.Log();
  }
  // Every client trusted the interception CA, the server got the real value; 502 from the rogue.
  EXPECT_EQ(run.out,
            "ok-/curl-proxy\nok-/curl-transparent\nok-/curl-h2 1.1\nok-/curl-h2-transparent 1.1\nok-/python\nok-/node\n"
            "502\n0\n")
      << run.err << d.Log();
  EXPECT_EQ(run.out.find(kSecret), std::string::npos);

  // The good server saw the secret's value and the token, never the placeholder.
  auto reqs = good.Requests();
  ASSERT_GE(reqs.size(), 6u) << ReadFile(good.log);
  std::vector<std::string> paths;
  for (const auto& l : reqs) {
    EXPECT_EQ(JsonField(l, "headers/X-Api-Key"), kSecret) << l;
    EXPECT_TRUE(JsonField(l, "headers/Authorization").starts_with("Bearer ey")) << l;
    EXPECT_EQ(l.find("cordon-secret-"), std::string::npos) << l;
    paths.push_back(JsonField(l, "path"));
  }
  for (const char* p : {"/curl-proxy", "/curl-transparent", "/curl-h2", "/curl-h2-transparent", "/python", "/node"})
    EXPECT_NE(std::find(paths.begin(), paths.end(), p), paths.end()) << p << " never arrived: " << ReadFile(good.log);
  // The rogue server's certificate did not verify: the request never left the proxy.
  EXPECT_EQ(rogue.Requests().size(), 0u) << ReadFile(rogue.log);

  // Evidence: each intercepted request is recorded with its method and status, the credentials
  // put in, the verified server certificate; the rogue one with the reason. Never the values.
  const std::string good_sha = CertSha256(dir + "/srv.pem");
  int intercepted = 0, refused = 0;
  for (int i = 0; i < 16; ++i) {
    const std::string e = "egress/" + std::to_string(i) + "/";
    if (JsonField(ev, e + "port").empty()) break;
    EXPECT_EQ(JsonField(ev, e + "tls"), "intercepted") << ev;
    if (JsonField(ev, e + "port") == std::to_string(good.port)) {
      ++intercepted;
      EXPECT_EQ(JsonField(ev, e + "method"), "GET") << ev;
      EXPECT_EQ(JsonField(ev, e + "status"), "200") << ev;
      EXPECT_EQ(JsonField(ev, e + "tls_server_sha256"), good_sha) << ev;
      EXPECT_EQ(JsonField(ev, e + "credentials/0"), "secret:API_KEY") << ev;
      EXPECT_EQ(JsonField(ev, e + "credentials/1"), "token:svc-tls") << ev;
    } else {
      ++refused;
      EXPECT_EQ(JsonField(ev, e + "status"), "502") << ev;
      EXPECT_NE(JsonField(ev, e + "error").find("certificate of 127.0.0.1 is not trusted"), std::string::npos) << ev;
      EXPECT_EQ(JsonField(ev, e + "credentials"), "") << ev;
    }
  }
  EXPECT_EQ(intercepted, 6) << ev;
  EXPECT_EQ(refused, 1) << ev;
  EXPECT_EQ(ev.find(kSecret), std::string::npos);
  RunProgram({"/bin/rm", "-rf", dir});
}

TEST(IdentityTls, SecretAndTokenReachAnHttpsServerFromCurlPythonAndNode) { CheckInterception(false); }

TEST(IdentityTls, SecretAndTokenReachAnHttpsServerFromAWarmPooledSandbox) { CheckInterception(true); }

// What TLS interception never touches: an allowed https destination no credential is bound to
// stays an end-to-end tunnel (the task sees the real server's certificate, which it does not
// trust here), and cordond refuses a bad daemon.json naming the field.
TEST(IdentityTls, UnboundDestinationsStayEndToEndAndBadSettingsAreRefused) {
  REQUIRE_SANDBOX();
  const std::string dir = TempDir();
  MakeCertificates(dir);
  HttpsServer good(dir, "srv");
  ASSERT_GT(good.port, 0);
  const std::string g = "127.0.0.1:" + std::to_string(good.port);
  const std::string secret_file = dir + "/api-key";
  std::ofstream(secret_file) << kSecret << "\n";
  ::chmod(secret_file.c_str(), 0600);
  DaemonProcess d(R"({"version": 1, "roles": {"runner": {"policies": ["ident"], "classes": ["batch"]}},
      "principals": [{"name": "tester", "tenant": "ci", "uids": [)" + std::to_string(::geteuid()) +
                  R"(], "roles": ["runner"]}]})",
                  {"--pool-size", "0"});
  ::mkdir((d.conf() + "/policies").c_str(), 0755);
  std::ofstream(d.conf() + "/daemon.json")
      << R"({"version": 1, "tls_interception": {"upstream_ca_file": ")" + dir + R"(/ca.pem"}})";
  std::ofstream(d.conf() + "/policies/ident.json") << R"({"name": "ident", "version": 1,
    "outbound": {"mode": "allowlist", "allow": [")" + g + R"("]},
    "identity": {"secrets": [{"name": "API_KEY", "source": ")" + secret_file + R"(", "destinations": ["bound.example:443"]}]}})";
  ASSERT_EQ(d.Reload().find("reload failed"), std::string::npos) << d.Log();
  // The test CA is not the sandbox's: a tunnel shows the real server's certificate, which curl
  // refuses (exit 60: it was not replaced by one of the interception CA's).
  auto run = d.Cli({"submit", "--policy", "ident", "--class", "batch", "--", "/bin/sh", "-c",
                    "curl -s -m 20 https://" + g + "/x; echo \"exit $?\"; "
                    "ls /etc/cordon/tls; exit 0"});
  ASSERT_EQ(run.exit_code, 0) << run.err << d.Log();
  EXPECT_EQ(run.out, "exit 60\nca-bundle.pem\negress-ca.pem\n") << run.err;
  const std::string task = JsonField(d.Cli({"ps", "--all", "--json", "--limit", "1"}).out, "0/task_id");
  const std::string ev = d.Cli({"evidence", task}).out;
  EXPECT_EQ(JsonField(ev, "egress/0/method"), "CONNECT") << ev;
  EXPECT_EQ(JsonField(ev, "egress/0/tls"), "") << "not intercepted: " << ev;
  EXPECT_EQ(JsonField(ev, "egress/0/payload_class"), "tls") << ev;

  std::ofstream(d.conf() + "/daemon.json") << R"({"version": 1, "tls_interception": {"upstream_ca_file": "ca.pem"}})";
  const std::string log = d.Reload();
  EXPECT_NE(log.find("tls_interception.upstream_ca_file"), std::string::npos) << log;
  EXPECT_NE(log.find("absolute path"), std::string::npos) << log;
  RunProgram({"/bin/rm", "-rf", dir});
}

}  // namespace
}  // namespace cordon::test
