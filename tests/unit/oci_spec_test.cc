// supervisor/oci/spec.h: config.json onto a Cordon sandbox, without running anything.
#include "supervisor/oci/spec.h"

#include <gtest/gtest.h>

#include <functional>
#include <nlohmann/json.hpp>

namespace cordon::oci {
namespace {

nlohmann::json Podmanish() {
  return nlohmann::json::parse(R"({
    "ociVersion": "1.0.2-dev",
    "process": {"user": {"uid": 1000, "gid": 100, "additionalGids": [10]}, "args": ["/bin/sh", "-c", "true"],
                "env": ["PATH=/bin"], "cwd": "/srv",
                "capabilities": {"bounding": ["CAP_CHOWN", "CAP_KILL"]},
                "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 4096, "soft": 1024},
                            {"type": "RLIMIT_NPROC", "hard": 100, "soft": 100}]},
    "root": {"path": "rootfs"},
    "hostname": "pod-a",
    "mounts": [{"destination": "/proc", "type": "proc", "source": "proc"},
               {"destination": "/etc/hosts", "type": "bind", "source": "/var/x/hosts", "options": ["bind"]},
               {"destination": "/data", "type": "bind", "source": "/srv/data", "options": ["rbind", "ro"]}],
    "linux": {"namespaces": [{"type": "pid"}, {"type": "network"}, {"type": "mount"}],
              "resources": {"memory": {"limit": 268435456}, "pids": {"limit": 64}, "cpu": {"quota": 50000}},
              "sysctl": {"net.ipv4.ping_group_range": "0 0"},
              "seccomp": {"defaultAction": "SCMP_ACT_ERRNO", "flags": ["SECCOMP_FILTER_FLAG_LOG"],
                          "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"}]}},
    "annotations": {"org.cordon.policy": "agent"}
  })");
}

TEST(OciSpec, MapsWhatAnEngineWrites) {
  auto s = ParseOciSpec(Podmanish().dump(), "/b");
  ASSERT_TRUE(s) << s.error().Message();
  EXPECT_EQ(s->root_path, "/b/rootfs");
  EXPECT_EQ(s->uid, 1000u);
  EXPECT_EQ(s->gid, 100u);
  EXPECT_EQ(s->cwd, "/srv");
  EXPECT_EQ(s->hostname, "pod-a");
  EXPECT_EQ(s->nofile, 4096u);
  EXPECT_EQ(s->memory_bytes, 268435456u);
  EXPECT_EQ(s->pids, 64u);
  ASSERT_EQ(s->mounts.size(), 1u);  // /proc is the sandbox's own, /etc/hosts is generated
  EXPECT_EQ(s->mounts[0].source, "/srv/data");
  EXPECT_EQ(s->mounts[0].target, "/data");
  EXPECT_EQ(s->capabilities, (std::vector<std::string>{"CAP_CHOWN", "CAP_KILL"}));
  EXPECT_EQ(s->annotations.at(kPolicyAnnotation), "agent");
  ASSERT_TRUE(s->seccomp_json);
  EXPECT_EQ(s->seccomp_json->find("flags"), std::string::npos) << "load flags are Cordon's to decide";
  // Each thing accepted but done Cordon's way is noted for the evidence.
  std::string notes;
  for (const auto& n : s->notes) notes += n + "\n";
  for (const char* n : {"additionalGids", "capabilities not granted", "RLIMIT_NPROC", "net.ipv4.ping_group_range",
                        "/etc/hosts", "linux.resources.cpu", "root.readonly"})
    EXPECT_NE(notes.find(n), std::string::npos) << n << " not noted in:\n" << notes;
}

TEST(OciSpec, RefusalsNameTheField) {
  struct Case {
    std::string field;
    std::function<void(nlohmann::json&)> edit;
  };
  const std::vector<Case> cases = {
      {"linux.namespaces[2].path", [](auto& c) { c["linux"]["namespaces"][2]["path"] = "/proc/1/ns/mnt"; }},
      {"linux.namespaces[0].type", [](auto& c) { c["linux"]["namespaces"][0]["type"] = "pidx"; }},
      {"process.capabilities.bounding", [](auto& c) { c["process"]["capabilities"]["bounding"].push_back("CAP_SYS_PTRACE"); }},
      {"mounts[3]", [](auto& c) { c["mounts"].push_back({{"destination", "/w"}, {"type", "bind"}, {"source", "/"}}); }},
      {"mounts[3]", [](auto& c) { c["mounts"].push_back({{"destination", "/x"}, {"type", "nfs"}, {"source", "h:/"}}); }},
      {"process.user.uid", [](auto& c) { c["process"]["user"]["uid"] = -1; }},
      {"process.cwd", [](auto& c) { c["process"]["cwd"] = "srv"; }},
      {"process.env[0]", [](auto& c) { c["process"]["env"][0] = "NOEQUALS"; }},
      {"root.path", [](auto& c) { c.erase("root"); }},
      {"linux.seccomp", [](auto& c) { c["linux"]["seccomp"] = {{"syscalls", nlohmann::json::array()}}; }},
  };
  for (const auto& k : cases) {
    nlohmann::json c = Podmanish();
    k.edit(c);
    auto s = ParseOciSpec(c.dump(), "/b");
    ASSERT_FALSE(s) << k.field;
    EXPECT_NE(s.error().context.find("config.json " + k.field + ":"), std::string::npos)
        << k.field << ": " << s.error().context;
    EXPECT_FALSE(s.error().hint.empty());
  }
  auto bad = ParseOciSpec("{not json", "/b");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().Message().find("config.json in /b"), std::string::npos) << bad.error().Message();
}

}  // namespace
}  // namespace cordon::oci
