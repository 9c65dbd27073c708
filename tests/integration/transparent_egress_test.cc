// Transparent egress from inside real sandboxes (docs/network.md): clients that ignore the proxy
// variables (Node's fetch, curl without them, Python sockets, psql, a TLS client) reach allowed
// destinations through the supervisor's listeners in the task's network namespace, and only those,
// with the proxy's records. Every server runs on this machine's loopback, started by the test.
#include <arpa/inet.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <gtest/gtest.h>
#include <netdb.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "tests/support/host.h"
#include "tests/support/run.h"

namespace cordon::test {
namespace {

// Serves on the host, as a python3 child of the test: `http` answers "hello", `echo` echoes,
// `pg` reads a PostgreSQL startup message and answers with an ErrorResponse naming itself, `tls`
// answers "tls-hello" over TLS with the given certificate. Each connection adds a line to a log.
constexpr const char* kServerPy = R"PY(
import socket, ssl, sys, threading
mode, host, log = sys.argv[1], sys.argv[2], sys.argv[3]
s = socket.socket(); s.bind((host, 0)); s.listen(16)
ctx = None
if mode == 'tls':
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER); ctx.load_cert_chain(sys.argv[4], sys.argv[5])
print(s.getsockname()[1], flush=True)
def recvn(c, n):
    b = b''
    while len(b) < n:
        d = c.recv(n - len(b))
        if not d: raise EOFError
        b += d
    return b
def startup(c):
    h = recvn(c, 8); recvn(c, int.from_bytes(h[:4], 'big') - 8); return int.from_bytes(h[4:], 'big')
def serve(c):
    with open(log, 'a') as f: f.write('conn\n')
    try:
        if mode == 'echo':
            while True:
                d = c.recv(65536)
                if not d: break
                c.sendall(d)
        elif mode == 'http':
            c.recv(65536); c.sendall(b'HTTP/1.0 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello')
        elif mode == 'pg':
            if startup(c) in (80877103, 80877104):
                c.sendall(b'N'); startup(c)
            body = b'SFATAL\0C28000\0Mcordon fake postgres: startup received\0\0'
            c.sendall(b'E' + (len(body) + 4).to_bytes(4, 'big') + body)
        elif mode == 'tls':
            t = ctx.wrap_socket(c, server_side=True); t.recv(65536); t.sendall(b'tls-hello'); t.close()
    except Exception:
        pass
    finally:
        c.close()
while True:
    c, _ = s.accept(); threading.Thread(target=serve, args=(c,), daemon=True).start()
)PY";

class PyServer {
 public:
  explicit PyServer(const std::string& mode, const std::string& host = "127.0.0.1",
                    const std::vector<std::string>& extra = {}) {
    static const std::string script = WriteTempFile("egress_server.py", kServerPy);
    log_ = WriteTempFile("server-" + mode + "-" + std::to_string(++count_) + ".log", "");
    std::vector<std::string> args = {"python3", script, mode, host, log_};
    args.insert(args.end(), extra.begin(), extra.end());
    int out[2];
    if (::pipe2(out, O_CLOEXEC) < 0) return;
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(out[1], 1);
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execvp("python3", argv.data());
      ::_exit(127);
    }
    ::close(out[1]);
    FILE* f = ::fdopen(out[0], "r");
    char line[64] = {};
    if (f && std::fgets(line, sizeof line, f)) port_ = std::atoi(line);
    if (f) std::fclose(f);
  }
  ~PyServer() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  int port() const { return port_; }
  std::string sport() const { return std::to_string(port_); }
  int served() const {
    std::ifstream in(log_);
    std::string l;
    int n = 0;
    while (std::getline(in, l)) ++n;
    return n;
  }

 private:
  static inline int count_ = 0;
  std::string log_;
  pid_t pid_ = -1;
  int port_ = 0;
};

std::string Policy(const std::string& name, const std::string& allow, const std::string& limits = "{}") {
  return WriteTempFile(name + ".json", R"({"name": ")" + name +
                                           R"(", "version": 1, "outbound": {"mode": "allowlist", "allow": [)" + allow +
                                           R"(]}, "limits": )" + limits + "}");
}

std::string Quote(const std::string& s) { return "\"" + s + "\""; }

// Every proxy variable removed: the client cannot take the proxy path.
const std::vector<std::string> kNoProxy = {"env",      "-u",          "HTTP_PROXY", "-u",          "http_proxy",
                                           "-u",       "HTTPS_PROXY", "-u",         "https_proxy", "-u",
                                           "NO_PROXY", "-u",          "no_proxy"};

std::vector<std::string> NoProxy(std::vector<std::string> cmd) {
  std::vector<std::string> v = kNoProxy;
  v.insert(v.end(), cmd.begin(), cmd.end());
  return v;
}

// This host's name when it resolves (on the host) to IPv4 loopback addresses only, and the first
// of them: a name whose destination the policy must name by address too.
struct LoopbackName {
  std::string name, address;
};
LoopbackName HostLoopbackName() {
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) < 0) return {};
  std::string name = host;
  for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (name.empty() || name == "localhost" || name == "cordon" || name.find('.') == 0) return {};
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (::getaddrinfo(name.c_str(), nullptr, &hints, &res) != 0) return {};
  LoopbackName out{name, ""};
  for (addrinfo* a = res; a; a = a->ai_next) {
    if (a->ai_family != AF_INET) {
      out.address.clear();
      break;
    }
    auto* in = reinterpret_cast<sockaddr_in*>(a->ai_addr);
    if ((ntohl(in->sin_addr.s_addr) >> 24) != 127) {
      out.address.clear();
      break;
    }
    if (out.address.empty()) out.address = inet_ntoa(in->sin_addr);
  }
  ::freeaddrinfo(res);
  return out.address.empty() ? LoopbackName{} : out;
}

// The "egress/N/" prefix of the record whose `field` is `value`: records are in the order their
// connections ended, which need not be the order they began.
std::string RecordWith(const std::string& ev, const std::string& field, const std::string& value) {
  for (int i = 0; i < 16; ++i) {
    std::string at = "egress/" + std::to_string(i) + "/";
    if (JsonField(ev, at + field) == value) return at;
  }
  return "egress/none/";
}

TEST(TransparentEgress, NodeFetchIgnoringProxyVariablesReachesAnAllowedServer) {
  REQUIRE_SANDBOX();
  if (::access("/usr/bin/node", X_OK) != 0) GTEST_SKIP() << "nodejs is not installed (scripts/deps.sh installs it)";
  PyServer srv("http");
  ASSERT_NE(srv.port(), 0);
  // Node's built-in fetch ignores HTTP_PROXY: without transparent egress it cannot get out.
  auto r = CordonRun(
      {"node", "-e",
       "fetch('http://127.0.0.1:" + srv.sport() +
           "/x').then(r => r.text()).then(t => console.log('got ' + t), e => console.log('failed ' + e.cause))"},
      {"--policy", Policy("node", Quote("127.0.0.1:" + srv.sport())), "--evidence", "-"});
  std::string ev = EvidenceLine(r);
  EXPECT_EQ(r.out.substr(0, r.out.find('{')), "got hello\n") << r.out << r.err;
  EXPECT_EQ(JsonField(ev, "egress/0/via"), "transparent") << ev;
  EXPECT_EQ(JsonField(ev, "egress/0/decision"), "allow") << ev;
  EXPECT_EQ(JsonField(ev, "egress/0/method"), "GET") << ev;
  EXPECT_EQ(JsonField(ev, "egress/0/payload_class"), "http") << ev;
  EXPECT_EQ(JsonField(ev, "egress/0/host"), "127.0.0.1") << ev;
  EXPECT_EQ(JsonField(ev, "egress/0/port"), srv.sport()) << ev;
  EXPECT_GT(std::stoull("0" + JsonField(ev, "egress/0/bytes_up")), 0u) << ev;
  EXPECT_EQ(JsonField(ev, "egress/0/bytes_down"), "62") << ev;  // the server's whole answer
  const std::string rec = JsonField(ev, "egress/0");
  EXPECT_NE(rec.find("\"via\""), std::string::npos) << rec;
  EXPECT_EQ(rec.find("/x"), std::string::npos) << "the path is payload: " << rec;
  EXPECT_EQ(srv.served(), 1);
}

TEST(TransparentEgress, CurlWithoutProxyVariablesReachesOnlyAllowedPorts) {
  REQUIRE_SANDBOX();
  PyServer allowed("http"), other("http");
  auto r =
      CordonRun(NoProxy({"sh", "-c",
                         "curl -s -m 5 http://127.0.0.1:" + allowed.sport() +
                             "/; echo; curl -s -m 5 http://127.0.0.1:" + other.sport() + "/ || echo \"refused $?\""}),
                {"--policy", Policy("curl", Quote("127.0.0.1:" + allowed.sport())), "--evidence", "-"});
  std::string ev = EvidenceLine(r);
  // curl's exit 7: could not connect (nothing listens on that port of the sandbox's loopback).
  EXPECT_EQ(r.out.substr(0, r.out.find('{')), "hello\nrefused 7\n") << r.out << r.err;
  EXPECT_EQ(JsonField(ev, "egress/0/via"), "transparent") << ev;
  EXPECT_EQ(JsonField(ev, "egress/1/decision"), "") << "only one connection left the sandbox: " << ev;
  EXPECT_EQ(allowed.served(), 1);
  EXPECT_EQ(other.served(), 0);
}

// Raw TCP by name: the name resolves inside the sandbox to a loopback address of its own, the
// supervisor resolves it again on the host and checks every address, as for a CONNECT.
TEST(TransparentEgress, PythonSocketByNameAllowedAndRefusedWithEvidence) {
  REQUIRE_SANDBOX();
  LoopbackName host = HostLoopbackName();
  if (host.name.empty()) GTEST_SKIP() << "this host's name does not resolve to IPv4 loopback addresses only";
  PyServer allowed("echo", host.address), refused("echo", host.address);
  const std::string script =
      "import errno, socket, sys\n"
      "for port in sys.argv[1:]:\n"
      "    try:\n"
      "        s = socket.create_connection(('" +
      host.name +
      "', int(port)), timeout=5)\n"
      "        s.sendall(b'ping'); s.shutdown(socket.SHUT_WR)\n"
      "        d = s.recv(100)\n"
      "        print('reply', d.decode() if d else 'none')\n"
      "    except OSError as e:\n"
      "        print('refused', errno.errorcode.get(e.errno, type(e).__name__))\n";
  // The name is allowed on both ports; only the first port's address is: the second is refused by
  // the address check (the name resolves to loopback), after the client connected inside.
  auto r = CordonRun(
      NoProxy({"python3", "-c", script, allowed.sport(), refused.sport()}),
      {"--policy",
       Policy("pyname", Quote(host.name + ":" + allowed.sport()) + "," + Quote(host.address + ":" + allowed.sport()) +
                            "," + Quote(host.name + ":" + refused.sport())),
       "--evidence", "-"});
  std::string ev = EvidenceLine(r);
  std::string out = r.out.substr(0, r.out.find('{'));
  EXPECT_TRUE(out.starts_with("reply ping\n")) << r.out << r.err;
  // The refusal is a reset: seen by send/recv (ECONNRESET), or by the shutdown when the reset came
  // first (ENOTCONN); an EOF before it is the same refusal, read earlier.
  EXPECT_TRUE(out.ends_with("\nreply none\n") || out.ends_with("\nrefused ECONNRESET\n") ||
              out.ends_with("\nrefused ENOTCONN\n"))
      << out;
  const std::string ok = RecordWith(ev, "port", allowed.sport()), no = RecordWith(ev, "port", refused.sport());
  EXPECT_EQ(JsonField(ev, ok + "host"), host.name) << ev;
  EXPECT_EQ(JsonField(ev, ok + "decision"), "allow") << ev;
  EXPECT_EQ(JsonField(ev, ok + "payload_class"), "opaque") << ev;
  EXPECT_EQ(JsonField(ev, ok + "bytes_up"), "4") << ev;
  EXPECT_EQ(JsonField(ev, ok + "bytes_down"), "4") << ev;
  EXPECT_EQ(JsonField(ev, no + "via"), "transparent") << ev;
  EXPECT_EQ(JsonField(ev, no + "decision"), "deny") << ev;
  EXPECT_NE(JsonField(ev, no + "reason").find("loopback and not in outbound.allow"), std::string::npos) << ev;
  EXPECT_EQ(allowed.served(), 1);
  EXPECT_EQ(refused.served(), 0);
}

// The first IPv4 address of an interface that is up and not loopback, or "": a host address the
// test's servers listen on, which a sandbox reaches only as an allowed literal.
std::string HostNonLoopbackAddress() {
  ifaddrs* all = nullptr;
  if (::getifaddrs(&all) < 0) return "";
  std::string out;
  for (ifaddrs* i = all; i && out.empty(); i = i->ifa_next) {
    if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET || !(i->ifa_flags & IFF_UP) || (i->ifa_flags & IFF_LOOPBACK))
      continue;
    out = inet_ntoa(reinterpret_cast<sockaddr_in*>(i->ifa_addr)->sin_addr);
  }
  ::freeifaddrs(all);
  return out;
}

// A client that connects to an allowed non-loopback IP literal (no name, no proxy variables): the
// shim puts the address on the sandbox's lo, the door there relays it with the proxy's checks and
// record. Another port of that address, and another address, never leave the sandbox.
TEST(TransparentEgress, RawTcpToAnAllowedNonLoopbackAddressLiteral) {
  REQUIRE_SANDBOX();
  const std::string ip = HostNonLoopbackAddress();
  if (ip.empty()) GTEST_SKIP() << "this host has no IPv4 address on an interface other than loopback";
  PyServer allowed("echo", ip), other("echo", ip);
  const std::string script =
      "import errno, socket, sys\n"
      "for host, port in ((sys.argv[1], sys.argv[2]), (sys.argv[1], sys.argv[3]), ('198.51.100.7', sys.argv[2])):\n"
      "    try:\n"
      "        s = socket.create_connection((host, int(port)), timeout=5)\n"
      "        s.sendall(b'ping'); s.shutdown(socket.SHUT_WR)\n"
      "        d = s.recv(100)\n"
      "        print('reply', d.decode() if d else 'none')\n"
      "    except OSError as e:\n"
      "        print('refused', errno.errorcode.get(e.errno, type(e).__name__))\n";
  auto r = CordonRun(NoProxy({"python3", "-c", script, ip, allowed.sport(), other.sport()}),
                     {"--policy", Policy("literal", Quote(ip + ":" + allowed.sport())), "--evidence", "-"});
  std::string ev = EvidenceLine(r);
  // The allowed pair is relayed; another port of the same address has no listener (the address is
  // the sandbox's own now); an address the policy does not name has no route inside.
  EXPECT_EQ(r.out.substr(0, r.out.find('{')), "reply ping\nrefused ECONNREFUSED\nrefused ENETUNREACH\n")
      << r.out << r.err;
  EXPECT_EQ(JsonField(ev, "egress/0/host"), ip) << ev;
  EXPECT_EQ(JsonField(ev, "egress/0/port"), allowed.sport()) << ev;
  EXPECT_EQ(JsonField(ev, "egress/0/via"), "transparent") << ev;
  EXPECT_EQ(JsonField(ev, "egress/0/decision"), "allow") << ev;
  EXPECT_EQ(JsonField(ev, "egress/0/bytes_up"), "4") << ev;
  EXPECT_EQ(JsonField(ev, "egress/1/decision"), "") << "only one connection left the sandbox: " << ev;
  EXPECT_EQ(allowed.served(), 1);
  EXPECT_EQ(other.served(), 0);
}

// A client that sends DNS queries itself (Node's dns.resolve*, c-ares, ignoring /etc/hosts) asks
// the sandbox's own DNS server: an allowed name gets its 127.77.0.x, its AAAA is empty, and any
// other name does not exist, recorded as a refused destination. No query leaves the sandbox.
TEST(TransparentEgress, DnsQueriesInsideTheSandboxAnswerOnlyAllowedNames) {
  REQUIRE_SANDBOX();
  const std::string script =
      "const dns = require('dns').promises;\n"
      "(async () => {\n"
      "  for (const [fn, name] of [['resolve4', 'svc.cordon-test'], ['resolve6', 'svc.cordon-test'],\n"
      "                            ['resolve4', 'other.cordon-test'], ['resolve4', 'db.cordon-test']]) {\n"
      "    try { console.log(fn, name, (await dns[fn](name)).join(',')); }\n"
      "    catch (e) { console.log(fn, name, e.code); }\n"
      "  }\n"
      "})();\n";
  auto r = CordonRun(NoProxy({"node", "-e", script}),
                     {"--policy", Policy("dns", Quote("svc.cordon-test:80") + "," + Quote("db.cordon-test:5432")),
                      "--evidence", "-"});
  std::string ev = EvidenceLine(r);
  EXPECT_EQ(r.out.substr(0, r.out.find('{')),
            "resolve4 svc.cordon-test 127.77.0.1\nresolve6 svc.cordon-test ENODATA\n"
            "resolve4 other.cordon-test ENOTFOUND\nresolve4 db.cordon-test 127.77.0.2\n")
      << r.out << r.err;
  const std::string rec = RecordWith(ev, "via", "dns");
  EXPECT_EQ(JsonField(ev, rec + "host"), "other.cordon-test") << ev;
  EXPECT_EQ(JsonField(ev, rec + "decision"), "deny") << ev;
  EXPECT_EQ(JsonField(ev, rec + "port"), "53") << ev;
  EXPECT_EQ(JsonField(ev, "egress/1/host"), "") << "one record: the refused name, once: " << ev;
}

// psql (which has no proxy support at all) against a server speaking enough of the protocol.
TEST(TransparentEgress, PsqlReachesAnAllowedDatabasePort) {
  REQUIRE_SANDBOX();
  if (::access("/usr/lib/postgresql/15/bin/psql", X_OK) != 0)
    GTEST_SKIP() << "psql (postgresql-client-15) is not installed";
  PyServer pg("pg");
  auto r = CordonRun({"/usr/lib/postgresql/15/bin/psql",
                      "host=127.0.0.1 port=" + pg.sport() +
                          " user=app dbname=app sslmode=disable gssencmode=disable connect_timeout=5",
                      "-c", "select 1"},
                     {"--policy", Policy("psql", Quote("127.0.0.1:" + pg.sport())), "--evidence", "-"});
  std::string ev = EvidenceLine(r);
  EXPECT_NE(r.err.find("cordon fake postgres: startup received"), std::string::npos) << r.out << r.err;
  EXPECT_EQ(JsonField(ev, "egress/0/payload_class"), "postgres") << ev;
  EXPECT_EQ(JsonField(ev, "egress/0/decision"), "allow") << ev;
  EXPECT_EQ(pg.served(), 1);
}

// TLS passes through: the client verifies the real server's certificate, and sees exactly it.
TEST(TransparentEgress, TlsPassesThroughWithTheServersOwnCertificate) {
  REQUIRE_SANDBOX();
  const std::string key = WriteTempFile("tls.key", ""), cert = WriteTempFile("tls.crt", "");
  auto gen = RunProgram({"/usr/bin/openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out",
                         cert, "-days", "1", "-subj", "/CN=cordon-test", "-addext", "subjectAltName=IP:127.0.0.1"});
  ASSERT_EQ(gen.exit_code, 0) << gen.err;
  std::stringstream pem;
  pem << std::ifstream(cert).rdbuf();
  auto fp = RunProgram({"/usr/bin/openssl", "x509", "-in", cert, "-noout", "-fingerprint", "-sha256"});
  std::string want = fp.out.substr(fp.out.find('=') + 1);
  want.erase(std::remove(want.begin(), want.end(), ':'), want.end());
  want.erase(want.find_last_not_of("\n") + 1);
  for (char& c : want) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));

  PyServer tls("tls", "127.0.0.1", {cert, key});
  const std::string script =
      "import socket, ssl, sys, hashlib\n"
      "ctx = ssl.create_default_context(cadata=sys.argv[1])\n"
      "with ctx.wrap_socket(socket.create_connection(('127.0.0.1', int(sys.argv[2])), timeout=5),"
      " server_hostname='127.0.0.1') as t:\n"
      "    print(hashlib.sha256(t.getpeercert(binary_form=True)).hexdigest())\n"
      "    t.sendall(b'hi'); print(t.recv(100).decode())\n";
  auto r = CordonRun(NoProxy({"python3", "-c", script, pem.str(), tls.sport()}),
                     {"--policy", Policy("tls", Quote("127.0.0.1:" + tls.sport())), "--evidence", "-"});
  std::string ev = EvidenceLine(r);
  EXPECT_EQ(r.out.substr(0, r.out.find('{')), want + "\ntls-hello\n") << r.out << r.err;
  EXPECT_EQ(JsonField(ev, "egress/0/payload_class"), "tls") << ev;
  EXPECT_EQ(JsonField(ev, "egress/0/method"), "") << ev;
  EXPECT_EQ(tls.served(), 1);
}

// The proxy's limits hold on the transparent path: the second connection is past max_calls, reset,
// and recorded.
TEST(TransparentEgress, MaxCallsRefusesARawConnectionWithARecord) {
  REQUIRE_SANDBOX();
  PyServer srv("echo");
  const std::string script =
      "import socket, sys\n"
      "for i in range(2):\n"
      "    try:\n"
      "        s = socket.create_connection(('127.0.0.1', int(sys.argv[1])), timeout=5)\n"
      "        s.sendall(b'ping'); s.shutdown(socket.SHUT_WR); d = s.recv(100)\n"
      "        print('reply', d.decode() if d else 'none')\n"
      "    except OSError as e:\n"
      "        print('refused', type(e).__name__)\n";
  auto r = CordonRun(
      {"python3", "-c", script, srv.sport()},
      {"--policy", Policy("calls", Quote("127.0.0.1:" + srv.sport()), R"({"max_calls": 1})"), "--evidence", "-"});
  std::string ev = EvidenceLine(r);
  std::string out = r.out.substr(0, r.out.find('{'));
  // How the reset shows depends on when it lands: an empty read, or an OSError from sendall,
  // shutdown (ENOTCONN) or recv (ConnectionResetError). Any of them, never a reply.
  EXPECT_TRUE(out == "reply ping\nreply none\n" || out.starts_with("reply ping\nrefused ")) << r.out << r.err;
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 2) << out;
  const std::string denied = RecordWith(ev, "decision", "deny");
  EXPECT_EQ(JsonField(ev, denied + "via"), "transparent") << ev;
  EXPECT_NE(JsonField(ev, denied + "reason").find("max_calls"), std::string::npos) << ev;
  EXPECT_EQ(srv.served(), 1);
}

}  // namespace
}  // namespace cordon::test
