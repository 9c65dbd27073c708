// TLS interception's pieces (supervisor/egress/tls_ca.h, tls_bridge.h), with real OpenSSL
// sessions on both sides of the bridge in memory: the task's client trusts only the interception
// CA and checks the name; the "real" server has a certificate from another CA, which the bridge
// must verify (chain and name) before a byte of the request reaches it. Also the CA's files.
#include <gtest/gtest.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <memory>

#include "supervisor/egress/tls_bridge.h"
#include "supervisor/egress/tls_ca.h"

namespace cordon::egress {
namespace {

struct SslFree {
  void operator()(SSL* s) const { SSL_free(s); }
};
using Ssl = std::unique_ptr<SSL, SslFree>;

Ssl MemSsl(SSL_CTX* ctx) {
  SSL* s = SSL_new(ctx);
  SSL_set_bio(s, BIO_new(BIO_s_mem()), BIO_new(BIO_s_mem()));
  return Ssl(s);
}
std::string Drain(SSL* s) {
  BIO* w = SSL_get_wbio(s);
  std::string out(BIO_ctrl_pending(w), '\0');
  if (!out.empty()) out.resize(static_cast<size_t>(BIO_read(w, out.data(), static_cast<int>(out.size()))));
  return out;
}
void Feed(SSL* s, const std::string& d) {
  if (!d.empty()) BIO_write(SSL_get_rbio(s), d.data(), static_cast<int>(d.size()));
}
std::string ReadAll(SSL* s) {
  std::string out;
  char buf[4096];
  for (int n; (n = SSL_read(s, buf, sizeof buf)) > 0;) out.append(buf, static_cast<size_t>(n));
  return out;
}

std::string TempDir() {
  const char* t = ::getenv("TMPDIR");
  std::string tmpl = std::string(t && *t ? t : "/tmp") + "/cordon-tls-unit-XXXXXX";
  return ::mkdtemp(tmpl.data());
}

// The task's client: trusts the interception CA alone, verifies `host` (a name or an address).
std::shared_ptr<SSL_CTX> TaskClientContext(const InterceptCa& ca) {
  std::shared_ptr<SSL_CTX> ctx(SSL_CTX_new(TLS_client_method()), SSL_CTX_free);
  BIO* b = BIO_new_mem_buf(ca.cert_pem().data(), static_cast<int>(ca.cert_pem().size()));
  X509* x = PEM_read_bio_X509(b, nullptr, nullptr, nullptr);
  X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx.get()), x);
  X509_free(x);
  BIO_free(b);
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
  return ctx;
}

struct Exchange {
  std::string task_got;     // the response the task read
  std::string server_got;   // the request the server read
  std::string bridge_error;
  bool task_verified = false;
};

// The task sends `request`; the bridge passes it on as the proxy does; the server answers
// `response` once it has the request.
Exchange RunExchange(TlsBridge& bridge, SSL* task, SSL* server, const std::string& request, const std::string& response) {
  Exchange x;
  bool sent = false, answered = false;
  std::string to_server, to_task;
  for (int round = 0; round < 200; ++round) {
    if (!SSL_is_init_finished(task)) SSL_do_handshake(task);
    if (SSL_is_init_finished(task) && !sent) {
      x.task_verified = SSL_get_verify_result(task) == X509_V_OK;
      SSL_write(task, request.data(), static_cast<int>(request.size()));
      sent = true;
    }
    if (SSL_is_init_finished(task)) x.task_got += ReadAll(task);
    bridge.FromClient(Drain(task));
    std::string plain;
    if (auto r = bridge.ReadClient(&plain); !r) {
      x.bridge_error = r.error().Message();
      break;
    }
    to_server += plain;
    if (!to_server.empty()) {
      if (auto r = bridge.WriteUpstream(to_server); !r) {
        x.bridge_error = r.error().Message();
        break;
      }
      to_server.clear();
    }
    Feed(server, bridge.TakeForUpstream());
    if (!SSL_is_init_finished(server)) SSL_do_handshake(server);
    if (SSL_is_init_finished(server)) x.server_got += ReadAll(server);
    if (x.server_got.size() >= request.size() && !answered) {
      SSL_write(server, response.data(), static_cast<int>(response.size()));
      answered = true;
    }
    bridge.FromUpstream(Drain(server));
    std::string back;
    if (auto r = bridge.ReadUpstream(&back); !r) {
      x.bridge_error = r.error().Message();
      break;
    }
    if (!back.empty()) (void)bridge.WriteClient(back);
    Feed(task, bridge.TakeForClient());
    if (x.task_got == response) break;
  }
  return x;
}

class TlsBridgeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto ca = InterceptCa::Generate();
    ASSERT_TRUE(ca) << ca.error().Message();
    intercept_ = *ca;
    auto up = InterceptCa::Generate();  // stands for a public or internal CA of real servers
    ASSERT_TRUE(up);
    upstream_ca_ = *up;
    dir_ = TempDir();
    std::ofstream(dir_ + "/upstream-ca.pem") << upstream_ca_->cert_pem();
    auto ctx = UpstreamContext(dir_ + "/upstream-ca.pem");
    ASSERT_TRUE(ctx) << ctx.error().Message();
    tls_.ca = intercept_;
    tls_.upstream = *ctx;
  }
  void TearDown() override {
    ::unlink((dir_ + "/upstream-ca.pem").c_str());
    ::rmdir(dir_.c_str());
  }
  // The task's session to `host`, checking that name or address.
  Ssl TaskSession(const std::string& host, std::shared_ptr<SSL_CTX>* keep) {
    *keep = TaskClientContext(*intercept_);
    Ssl s = MemSsl(keep->get());
    SSL_set_connect_state(s.get());
    if (host[0] >= '0' && host[0] <= '9') {
      X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(s.get()), host.c_str());
    } else {
      SSL_set_tlsext_host_name(s.get(), host.c_str());
      SSL_set1_host(s.get(), host.c_str());
    }
    return s;
  }
  Ssl ServerSession(InterceptCa& ca, const std::string& cert_name, std::shared_ptr<SSL_CTX>* keep) {
    auto ctx = ca.ServerContext(cert_name);
    EXPECT_TRUE(ctx);
    *keep = *ctx;
    Ssl s = MemSsl(keep->get());
    SSL_set_accept_state(s.get());
    return s;
  }
  std::shared_ptr<InterceptCa> intercept_, upstream_ca_;
  TlsInterception tls_;
  std::string dir_;
};

constexpr const char* kRequest = "GET /v1 HTTP/1.1\r\nHost: api.test\r\nX-Api-Key: the-value\r\n\r\n";
constexpr const char* kResponse = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";

TEST_F(TlsBridgeTest, RelaysARequestOnceTheServerIsVerifiedAndNamesItsCertificate) {
  std::shared_ptr<SSL_CTX> tc, sc;
  Ssl task = TaskSession("api.test", &tc);
  Ssl server = ServerSession(*upstream_ca_, "api.test", &sc);
  auto bridge = TlsBridge::Create(tls_, Destination{"api.test", 443});
  ASSERT_TRUE(bridge) << bridge.error().Message();
  Exchange x = RunExchange(**bridge, task.get(), server.get(), kRequest, kResponse);
  EXPECT_EQ(x.bridge_error, "");
  EXPECT_TRUE(x.task_verified) << "the task's client accepts the interception CA's leaf for api.test";
  EXPECT_EQ(x.server_got, kRequest);
  EXPECT_EQ(x.task_got, kResponse);
  EXPECT_TRUE((*bridge)->upstream_verified());
  EXPECT_EQ((*bridge)->upstream_cert_sha256().size(), 64u);
  EXPECT_EQ((*bridge)->upstream_cert_subject(), "/CN=api.test");
}

TEST_F(TlsBridgeTest, AnAddressGetsALeafForThatAddress) {
  std::shared_ptr<SSL_CTX> tc, sc;
  Ssl task = TaskSession("127.0.0.1", &tc);
  Ssl server = ServerSession(*upstream_ca_, "127.0.0.1", &sc);
  auto bridge = TlsBridge::Create(tls_, Destination{"127.0.0.1", 8443});
  ASSERT_TRUE(bridge);
  Exchange x = RunExchange(**bridge, task.get(), server.get(), kRequest, kResponse);
  EXPECT_EQ(x.bridge_error, "");
  EXPECT_TRUE(x.task_verified);
  EXPECT_EQ(x.task_got, kResponse);
}

TEST_F(TlsBridgeTest, AServerCertificateForAnotherNameIsRefusedBeforeTheRequestLeaves) {
  std::shared_ptr<SSL_CTX> tc, sc;
  Ssl task = TaskSession("api.test", &tc);
  Ssl server = ServerSession(*upstream_ca_, "impostor.test", &sc);
  auto bridge = TlsBridge::Create(tls_, Destination{"api.test", 443});
  ASSERT_TRUE(bridge);
  Exchange x = RunExchange(**bridge, task.get(), server.get(), kRequest, kResponse);
  EXPECT_NE(x.bridge_error.find("the certificate of api.test is not trusted"), std::string::npos) << x.bridge_error;
  EXPECT_NE(x.bridge_error.find("mismatch"), std::string::npos) << x.bridge_error;
  EXPECT_EQ(x.server_got, "") << "nothing of the request reached the server";
}

TEST_F(TlsBridgeTest, AServerFromACaTheHostDoesNotTrustIsRefused) {
  auto other = InterceptCa::Generate();
  ASSERT_TRUE(other);
  std::shared_ptr<SSL_CTX> tc, sc;
  Ssl task = TaskSession("api.test", &tc);
  Ssl server = ServerSession(**other, "api.test", &sc);
  auto bridge = TlsBridge::Create(tls_, Destination{"api.test", 443});
  ASSERT_TRUE(bridge);
  Exchange x = RunExchange(**bridge, task.get(), server.get(), kRequest, kResponse);
  EXPECT_NE(x.bridge_error.find("unable to get local issuer certificate"), std::string::npos) << x.bridge_error;
  EXPECT_EQ(x.server_got, "");
}

TEST(InterceptCaFiles, CreatedOnceWithTheKeyPrivateAndATrustBundle) {
  const std::string dir = TempDir();
  std::ofstream(dir + "/host-bundle.pem") << "-----BEGIN CERTIFICATE-----\nhost\n-----END CERTIFICATE-----\n";
  std::vector<std::string> notes;
  auto a = InterceptCa::LoadOrCreate(dir + "/tls", dir + "/host-bundle.pem", &notes);
  ASSERT_TRUE(a) << a.error().Message();
  EXPECT_EQ(notes.size(), 1u);
  struct stat st{};
  ASSERT_EQ(::stat((dir + "/tls/ca-key.pem").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat((dir + "/tls/trust/ca-bundle.pem").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0644u);
  std::ifstream bf(dir + "/tls/trust/ca-bundle.pem");
  std::string bundle((std::istreambuf_iterator<char>(bf)), {});
  EXPECT_TRUE(bundle.starts_with("-----BEGIN CERTIFICATE-----\nhost\n")) << "the host's bundle first";
  EXPECT_TRUE(bundle.ends_with((*a)->cert_pem())) << "then the CA";
  // A second start loads the same CA.
  auto b = InterceptCa::LoadOrCreate(dir + "/tls", dir + "/host-bundle.pem", &notes);
  ASSERT_TRUE(b);
  EXPECT_EQ((*b)->cert_pem(), (*a)->cert_pem());
  // A key others may read is refused, naming the file and the fix.
  ::chmod((dir + "/tls/ca-key.pem").c_str(), 0644);
  auto c = InterceptCa::LoadOrCreate(dir + "/tls", dir + "/host-bundle.pem", &notes);
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().Message().find("ca-key.pem is readable by others"), std::string::npos) << c.error().Message();
  [[maybe_unused]] int rc = std::system(("rm -rf '" + dir + "'").c_str());
}

}  // namespace
}  // namespace cordon::egress
