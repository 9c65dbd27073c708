// tests/unit/cgroup_layout_test.cc: layout detection and base placement from mountinfo/cgroup texts.
// fixtures/cgroupfs/layout/hybrid.* were captured on the hybrid CI host; v2.* is a systemd host
// (unified), v1.* a systemd host in legacy mode with cpu,cpuacct co-mounted.
#include "supervisor/cgroup/layout.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

namespace cordon::cgroup {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::string Fixture(const std::string& name) {
  std::string path = std::string(CORDON_SOURCE_DIR) + "/tests/fixtures/cgroupfs/layout/" + name;
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << path;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

Layout Detect(const std::string& prefix, const std::string& cgroup_file = {}) {
  // A pure v1 host has no cgroup2 root, so no cgroup.controllers to read.
  const std::string controllers = prefix == "v1" ? std::string() : Fixture(prefix + ".controllers");
  auto l = DetectLayout(Fixture(prefix + ".mountinfo"), Fixture((cgroup_file.empty() ? prefix : cgroup_file) + ".cgroup"),
                        controllers);
  EXPECT_TRUE(l) << l.error().Message();
  return l ? *l : Layout{};
}

const V1Hierarchy& V1Of(const Layout& l, Controller c) {
  static const V1Hierarchy kNone;
  const Placement& p = l.Of(c);
  return p.where == Where::kV1 ? l.v1[static_cast<size_t>(p.v1_index)] : kNone;
}

HostFacts Root() {
  HostFacts f;
  f.root = true;
  return f;
}

TEST(CgroupLayout, PureV2SystemdHost) {
  Layout l = Detect("v2");
  EXPECT_EQ(l.mode, Mode::kV2);
  EXPECT_EQ(l.v2_mount, "/sys/fs/cgroup");
  EXPECT_EQ(l.v2_self_path, "/system.slice/cordon.service");
  EXPECT_EQ(l.v2_self_dir, "/sys/fs/cgroup/system.slice/cordon.service");
  EXPECT_TRUE(l.v1.empty());
  for (Controller c : {Controller::kMemory, Controller::kPids, Controller::kCpu, Controller::kCpuacct,
                       Controller::kFreezer, Controller::kIo}) {
    EXPECT_EQ(l.Of(c).where, Where::kV2) << ControllerName(c);
  }

  PlaceBase(l, {}, Root());
  EXPECT_EQ(l.v2_base_dir, "/sys/fs/cgroup/cordon.slice");
  EXPECT_FALSE(l.delegated);
  EXPECT_TRUE(l.UsedV1().empty());
  EXPECT_TRUE(l.no_cgroup_reason.empty());
}

TEST(CgroupLayout, PureV2DelegatedBySystemd) {
  Layout l = Detect("v2");
  HostFacts f = Root();
  f.v2_self_delegated = true;  // Delegate=yes without DelegateSubgroup=
  PlaceBase(l, {}, f);
  EXPECT_EQ(l.v2_base_dir, "/sys/fs/cgroup/system.slice/cordon.service/cordon.slice");
  EXPECT_TRUE(l.delegated);

  // DelegateSubgroup=supervisor: we run in .../cordon.service/supervisor; tasks go next to it.
  auto sub = DetectLayout(Fixture("v2.mountinfo"), "0::/system.slice/cordon.service/supervisor\n",
                          Fixture("v2.controllers"));
  ASSERT_TRUE(sub);
  f.v2_self_delegated = false;
  f.v2_parent_delegated = true;
  PlaceBase(*sub, {}, f);
  EXPECT_EQ(sub->v2_base_dir, "/sys/fs/cgroup/system.slice/cordon.service/cordon.slice");
}

TEST(CgroupLayout, ConfigurableSubtreeAndPlacement) {
  Layout l = Detect("v2");
  BaseOptions o;
  o.subtree = "sandbox";
  o.placement = BaseOptions::Placement::kBelowSelf;
  PlaceBase(l, o, Root());
  EXPECT_EQ(l.v2_base_dir, "/sys/fs/cgroup/system.slice/cordon.service/sandbox");
}

TEST(CgroupLayout, RootlessWithUserDelegation) {
  Layout l = Detect("v2", "v2_rootless");
  HostFacts f;
  f.v2_parent_writable = true;
  PlaceBase(l, {}, f);
  EXPECT_TRUE(l.rootless);
  EXPECT_TRUE(l.delegated);
  EXPECT_EQ(l.v2_base_dir, "/sys/fs/cgroup/user.slice/user-1000.slice/user@1000.service/app.slice/cordon.slice");
  EXPECT_TRUE(l.no_cgroup_reason.empty());
}

// A user unit with Delegate=yes (systemd marks it user.delegate): app.slice above it is writable by
// the user but belongs to the user manager, so the tasks go below our own cgroup, or next to our
// leaf with DelegateSubgroup=.
TEST(CgroupLayout, RootlessDelegatedUnitStaysInsideItsUnit) {
  const std::string unit = "/sys/fs/cgroup/user.slice/user-1000.slice/user@1000.service/app.slice/cordon.service";
  auto l = DetectLayout(Fixture("v2.mountinfo"),
                        "0::/user.slice/user-1000.slice/user@1000.service/app.slice/cordon.service\n",
                        Fixture("v2.controllers"));
  ASSERT_TRUE(l);
  HostFacts f;
  f.v2_parent_writable = true;
  f.v2_self_delegated = true;
  PlaceBase(*l, {}, f);
  EXPECT_EQ(l->v2_base_dir, unit + "/cordon.slice");
  EXPECT_TRUE(l->delegated);

  auto sub = DetectLayout(Fixture("v2.mountinfo"),
                          "0::/user.slice/user-1000.slice/user@1000.service/app.slice/cordon.service/supervisor\n",
                          Fixture("v2.controllers"));
  ASSERT_TRUE(sub);
  f.v2_self_delegated = false;
  f.v2_parent_delegated = true;
  f.v2_parent_writable = true;
  PlaceBase(*sub, {}, f);
  EXPECT_EQ(sub->v2_base_dir, unit + "/cordon.slice");
}

TEST(CgroupLayout, RootlessWithoutDelegation) {
  Layout l = Detect("v2", "v2_rootless");
  PlaceBase(l, {}, HostFacts{});
  EXPECT_TRUE(l.v2_base_dir.empty());
  EXPECT_THAT(l.no_cgroup_reason, HasSubstr("no delegated cgroup"));
}

TEST(CgroupLayout, HybridThisHost) {
  Layout l = Detect("hybrid");
  EXPECT_EQ(l.mode, Mode::kHybrid);
  EXPECT_EQ(l.v2_mount, "/sys/fs/cgroup/unified");
  EXPECT_EQ(l.v2_self_dir, "/sys/fs/cgroup/unified");
  EXPECT_THAT(l.v2_controllers, ElementsAre("hugetlb"));
  // No memory/pids/cpu/io in the unified tree: those come from v1.
  EXPECT_EQ(V1Of(l, Controller::kMemory).mountpoint, "/sys/fs/cgroup/memory");
  EXPECT_EQ(V1Of(l, Controller::kMemory).self_path, "/process_api/931691983bc05082d00cb51d6789a53a");
  EXPECT_EQ(V1Of(l, Controller::kMemory).self_dir,
            "/sys/fs/cgroup/memory/process_api/931691983bc05082d00cb51d6789a53a");
  EXPECT_EQ(V1Of(l, Controller::kPids).mountpoint, "/sys/fs/cgroup/pids");
  EXPECT_EQ(V1Of(l, Controller::kPids).self_dir, "/sys/fs/cgroup/pids");
  EXPECT_EQ(V1Of(l, Controller::kCpu).mountpoint, "/sys/fs/cgroup/cpu");
  EXPECT_EQ(V1Of(l, Controller::kIo).mountpoint, "/sys/fs/cgroup/blkio");
  // cpuacct/freezer equivalents are cgroup2 core files, usable on hybrid.
  EXPECT_EQ(l.Of(Controller::kCpuacct).where, Where::kV2);
  EXPECT_EQ(l.Of(Controller::kFreezer).where, Where::kV2);

  PlaceBase(l, {}, Root());
  EXPECT_EQ(l.v2_base_dir, "/sys/fs/cgroup/unified/cordon.slice");
  std::vector<std::string> bases;
  for (int i : l.UsedV1()) bases.push_back(l.v1[static_cast<size_t>(i)].base_dir);
  EXPECT_THAT(bases, ::testing::UnorderedElementsAre("/sys/fs/cgroup/memory/cordon.slice",
                                                     "/sys/fs/cgroup/pids/cordon.slice",
                                                     "/sys/fs/cgroup/blkio/cordon.slice"));
  EXPECT_EQ(l.v1_freezer_index, -1);

  BaseOptions no_io;
  no_io.v1_io = false;
  PlaceBase(l, no_io, Root());
  EXPECT_EQ(l.UsedV1().size(), 2u);
}

TEST(CgroupLayout, HybridRootlessHasNoCgroup) {
  Layout l = Detect("hybrid");
  PlaceBase(l, {}, HostFacts{});
  EXPECT_FALSE(l.no_cgroup_reason.empty());
}

TEST(CgroupLayout, PureV1SystemdHost) {
  Layout l = Detect("v1");
  EXPECT_EQ(l.mode, Mode::kV1);
  EXPECT_TRUE(l.v2_mount.empty());
  EXPECT_FALSE(l.v2_self_path);
  // cpu and cpuacct share one hierarchy.
  EXPECT_EQ(V1Of(l, Controller::kCpu).mountpoint, "/sys/fs/cgroup/cpu,cpuacct");
  EXPECT_EQ(&V1Of(l, Controller::kCpu), &V1Of(l, Controller::kCpuacct));
  EXPECT_THAT(V1Of(l, Controller::kCpu).controllers, ElementsAre("cpu", "cpuacct"));
  EXPECT_EQ(V1Of(l, Controller::kCpu).self_dir, "/sys/fs/cgroup/cpu,cpuacct/system.slice/cordon.service");
  EXPECT_EQ(V1Of(l, Controller::kMemory).self_dir, "/sys/fs/cgroup/memory/system.slice/cordon.service");
  EXPECT_EQ(V1Of(l, Controller::kFreezer).self_dir, "/sys/fs/cgroup/freezer");
  EXPECT_EQ(V1Of(l, Controller::kIo).mountpoint, "/sys/fs/cgroup/blkio");
  // The named systemd hierarchy is recorded but has no controller.
  bool named = false;
  for (const V1Hierarchy& h : l.v1) named |= h.controllers == std::vector<std::string>{"name=systemd"};
  EXPECT_TRUE(named);

  PlaceBase(l, {}, Root());
  EXPECT_TRUE(l.v2_base_dir.empty());
  std::vector<std::string> bases;
  for (int i : l.UsedV1()) bases.push_back(l.v1[static_cast<size_t>(i)].base_dir);
  EXPECT_THAT(bases, ::testing::UnorderedElementsAre(
                         "/sys/fs/cgroup/memory/cordon.slice", "/sys/fs/cgroup/pids/cordon.slice",
                         "/sys/fs/cgroup/blkio/cordon.slice", "/sys/fs/cgroup/cpu,cpuacct/cordon.slice",
                         "/sys/fs/cgroup/freezer/cordon.slice"));
  ASSERT_GE(l.v1_freezer_index, 0);
  EXPECT_EQ(l.v1[static_cast<size_t>(l.v1_freezer_index)].mountpoint, "/sys/fs/cgroup/freezer");

  PlaceBase(l, {}, HostFacts{});
  EXPECT_THAT(l.no_cgroup_reason, HasSubstr("v1"));
}

TEST(CgroupLayout, ContainerSubtreeMountAndEscapes) {
  // A container without a cgroup namespace sees its own cgroup bind-mounted as the root.
  const std::string mi =
      "100 90 0:30 /docker/abc /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw\n"
      "101 90 0:31 /docker/abc /mnt/with\\040space rw - cgroup2 cgroup2 rw\n";
  auto l = DetectLayout(mi, "0::/docker/abc/inner\n", "memory pids\n");
  ASSERT_TRUE(l) << l.error().Message();
  EXPECT_EQ(l->v2_mount, "/sys/fs/cgroup");
  EXPECT_EQ(l->v2_self_dir, "/sys/fs/cgroup/inner");

  auto outside = DetectLayout(mi, "0::/other\n", "");
  ASSERT_TRUE(outside);
  EXPECT_FALSE(outside->v2_self_dir);

  // A cgroup namespace created above us shows "/.." paths: not visible.
  auto ns = DetectLayout("1 0 0:30 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n", "0::/../sibling\n", "");
  ASSERT_TRUE(ns);
  EXPECT_FALSE(ns->v2_self_dir);

  auto esc = DetectLayout("1 0 0:30 / /mnt/with\\040space rw - cgroup2 cgroup2 rw\n", "0::/\n", "");
  ASSERT_TRUE(esc);
  EXPECT_EQ(esc->v2_mount, "/mnt/with space");
}

TEST(CgroupLayout, V2WithNamedSystemdOnlyIsStillV2) {
  const std::string mi =
      "1 0 0:30 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n"
      "2 0 0:31 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,xattr,name=systemd\n";
  auto l = DetectLayout(mi, "1:name=systemd:/\n0::/\n", "memory pids io\n");
  ASSERT_TRUE(l);
  EXPECT_EQ(l->mode, Mode::kV2);
}

TEST(CgroupLayout, Errors) {
  auto none = DetectLayout("1 0 8:1 / / rw - ext4 /dev/sda1 rw\n", "0::/\n");
  ASSERT_FALSE(none);
  EXPECT_THAT(none.error().context, HasSubstr("no cgroup filesystem"));
  auto bad_mi = DetectLayout("garbage line\n", "0::/\n");
  ASSERT_FALSE(bad_mi);
  EXPECT_THAT(bad_mi.error().context, HasSubstr("/proc/self/mountinfo:1"));
  auto bad_cg = DetectLayout(Fixture("v2.mountinfo"), "0::/ok\nnonsense\n");
  ASSERT_FALSE(bad_cg);
  EXPECT_THAT(bad_cg.error().context, HasSubstr("/proc/self/cgroup:2"));
}

TEST(CgroupLayout, PathHelpers) {
  EXPECT_EQ(fs::Join("/a", "b"), "/a/b");
  EXPECT_EQ(fs::Join("/a/", "b"), "/a/b");
  EXPECT_EQ(fs::Parent("/a/b"), "/a");
  EXPECT_EQ(fs::Parent("/a/b/"), "/a");
  EXPECT_EQ(fs::Parent("/a"), "/");
}

}  // namespace
}  // namespace cordon::cgroup
