// tests/unit/cgroup_parse_test.cc: cgroupfs parsers against fixtures in the kernel's exact format.
// fixtures/cgroupfs/v1 and hybrid_unified were copied from a 6.18 hybrid host; v2 was written by
// hand after Documentation/admin-guide/cgroup-v2.rst.
#include "supervisor/cgroup/parse.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

namespace cordon::cgroup {
namespace {

using ::testing::HasSubstr;

std::string Fixture(const std::string& rel) {
  std::string path = std::string(CORDON_SOURCE_DIR) + "/tests/fixtures/cgroupfs/" + rel;
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << path;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(CgroupParseV2, CpuStatFull) {
  auto s = ParseCpuStat(Fixture("v2/cpu.stat"), "cpu.stat");
  ASSERT_TRUE(s) << s.error().Message();
  EXPECT_EQ(s->usage_usec, 1843217u);
  EXPECT_EQ(s->user_usec, 1402118u);
  EXPECT_EQ(s->system_usec, 441099u);
  EXPECT_EQ(s->nr_periods, 120u);
  EXPECT_EQ(s->nr_throttled, 7u);
  EXPECT_EQ(s->throttled_usec, 83412u);
}

TEST(CgroupParseV2, CpuStatCoreOnly) {
  // Without the cpu controller (hybrid hosts) only the core keys are present.
  auto s = ParseCpuStat(Fixture("hybrid_unified/cpu.stat"), "cpu.stat");
  ASSERT_TRUE(s) << s.error().Message();
  EXPECT_EQ(s->usage_usec, 555861u);
  EXPECT_EQ(s->user_usec, 339238u);
  EXPECT_EQ(s->system_usec, 216622u);
  EXPECT_FALSE(s->nr_periods);
  EXPECT_FALSE(s->throttled_usec);
}

TEST(CgroupParseV2, MaxFiles) {
  auto m = ParseMax(Fixture("v2/memory.max"), "memory.max");
  ASSERT_TRUE(m);
  EXPECT_EQ(*m, 33554432u);
  auto p = ParseMax(Fixture("v2/pids.max"), "pids.max");
  ASSERT_TRUE(p);
  EXPECT_EQ(*p, 8u);
  auto unlimited = ParseMax(Fixture("v2/pids.max.unlimited"), "pids.max");
  ASSERT_TRUE(unlimited);
  EXPECT_FALSE(unlimited->has_value());
  auto swap = ParseMax(Fixture("v2/memory.swap.max"), "memory.swap.max");
  ASSERT_TRUE(swap);
  EXPECT_FALSE(swap->has_value());
}

TEST(CgroupParseV2, SingleValues) {
  EXPECT_EQ(ParseSingleValue(Fixture("v2/memory.peak"), "memory.peak").value(), 33554432u);
  EXPECT_EQ(ParseSingleValue(Fixture("v2/memory.current"), "memory.current").value(), 1298432u);
  EXPECT_EQ(ParseSingleValue(Fixture("v2/pids.peak"), "pids.peak").value(), 8u);
  EXPECT_EQ(ParseSingleValue(Fixture("v2/pids.current"), "pids.current").value(), 3u);
}

TEST(CgroupParseV2, MemoryEvents) {
  auto e = ParseMemoryEvents(Fixture("v2/memory.events"), "memory.events");
  ASSERT_TRUE(e) << e.error().Message();
  EXPECT_EQ(e->low, 0u);
  EXPECT_EQ(e->high, 0u);
  EXPECT_EQ(e->max, 214u);
  EXPECT_EQ(e->oom, 3u);
  EXPECT_EQ(e->oom_kill, 2u);
  EXPECT_EQ(e->oom_group_kill, 0u);
}

TEST(CgroupParseV2, MemoryEventsBefore516HasNoGroupKill) {
  auto e = ParseMemoryEvents("low 0\nhigh 0\nmax 1\noom 1\noom_kill 1\n", "memory.events");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->oom_kill, 1u);
  EXPECT_FALSE(e->oom_group_kill);
}

TEST(CgroupParseV2, MemoryStat) {
  auto s = ParseMemoryStat(Fixture("v2/memory.stat"), "memory.stat");
  ASSERT_TRUE(s) << s.error().Message();
  EXPECT_EQ(s->at("anon"), 31948800u);
  EXPECT_EQ(s->at("file"), 1122304u);
  EXPECT_EQ(s->at("kernel"), 487424u);
  EXPECT_EQ(s->at("shmem"), 0u);
  EXPECT_EQ(s->at("sock"), 0u);
  EXPECT_EQ(s->at("pgfault"), 26911u);
}

TEST(CgroupParseV2, PidsEvents) {
  auto e = ParsePidsEvents(Fixture("v2/pids.events"), "pids.events");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->max, 1u);
}

TEST(CgroupParseV2, IoStat) {
  auto s = ParseIoStat(Fixture("v2/io.stat"), "io.stat");
  ASSERT_TRUE(s) << s.error().Message();
  ASSERT_EQ(s->size(), 2u);
  EXPECT_EQ((*s)[0].major, 8u);
  EXPECT_EQ((*s)[0].minor, 0u);
  EXPECT_EQ((*s)[0].rbytes, 1459200u);
  EXPECT_EQ((*s)[0].wbytes, 314773504u);
  EXPECT_EQ((*s)[0].rios, 192u);
  EXPECT_EQ((*s)[0].wios, 353u);
  EXPECT_EQ((*s)[1].major, 254u);
  EXPECT_EQ((*s)[1].rbytes, 8388608u);
}

TEST(CgroupParseV2, IoStatIgnoresIoCostKeys) {
  auto s = ParseIoStat("8:0 rbytes=1 wbytes=2 rios=3 wios=4 dbytes=0 dios=0 cost.vrate=135.21 cost.usage=9\n", "io.stat");
  ASSERT_TRUE(s) << s.error().Message();
  EXPECT_EQ((*s)[0].wios, 4u);
}

TEST(CgroupParseV2, IoStatEmptyWhenNoIo) {
  auto s = ParseIoStat("", "io.stat");
  ASSERT_TRUE(s);
  EXPECT_TRUE(s->empty());
}

TEST(CgroupParseV2, Pressure) {
  auto p = ParsePressure(Fixture("v2/cpu.pressure"), "cpu.pressure");
  ASSERT_TRUE(p) << p.error().Message();
  ASSERT_TRUE(p->some);
  EXPECT_DOUBLE_EQ(p->some->avg10, 1.52);
  EXPECT_DOUBLE_EQ(p->some->avg60, 0.40);
  EXPECT_DOUBLE_EQ(p->some->avg300, 0.09);
  EXPECT_EQ(p->some->total_usec, 511234u);
  ASSERT_TRUE(p->full);
  EXPECT_EQ(p->full->total_usec, 0u);

  auto real = ParsePressure(Fixture("hybrid_unified/io.pressure"), "io.pressure");
  ASSERT_TRUE(real) << real.error().Message();
  EXPECT_EQ(real->some->total_usec, 5856u);
  EXPECT_EQ(real->full->total_usec, 5837u);
}

TEST(CgroupParseV2, PressureSomeOnly) {
  // Kernels before 5.13 print no "full" line in cpu.pressure.
  auto p = ParsePressure("some avg10=0.00 avg60=0.00 avg300=0.00 total=7\n", "cpu.pressure");
  ASSERT_TRUE(p);
  EXPECT_FALSE(p->full);
}

TEST(CgroupParseV2, CgroupEvents) {
  auto e = ParseCgroupEvents(Fixture("v2/cgroup.events"), "cgroup.events");
  ASSERT_TRUE(e);
  EXPECT_TRUE(e->populated);
  EXPECT_FALSE(e->frozen);
  auto real = ParseCgroupEvents(Fixture("hybrid_unified/cgroup.events"), "cgroup.events");
  ASSERT_TRUE(real);
  EXPECT_FALSE(real->populated);
}

TEST(CgroupParseV2, ControllersAndPids) {
  EXPECT_THAT(ParseControllerList(Fixture("v2/cgroup.controllers")), ::testing::ElementsAre("memory", "pids"));
  EXPECT_TRUE(ParseControllerList("\n").empty());
  auto pids = ParsePidList("12\n345\n", "cgroup.procs");
  ASSERT_TRUE(pids);
  EXPECT_THAT(*pids, ::testing::ElementsAre(12, 345));
  EXPECT_FALSE(ParsePidList("12\n-1\n", "cgroup.procs"));
}

TEST(CgroupParseV1, MemoryFiles) {
  EXPECT_EQ(ParseSingleValue(Fixture("v1/memory/memory.max_usage_in_bytes"), "f").value(), 77570048u);
  EXPECT_EQ(ParseSingleValue(Fixture("v1/memory/memory.usage_in_bytes"), "f").value(), 9437184u);
  EXPECT_EQ(ParseSingleValue(Fixture("v1/memory/memory.failcnt"), "f").value(), 0u);
  // "Unlimited" on v1 is PAGE_COUNTER_MAX * PAGE_SIZE, a plain number.
  EXPECT_EQ(ParseSingleValue(Fixture("v1/memory/memory.limit_in_bytes"), "f").value(), 9223372036854771712u);
}

TEST(CgroupParseV1, OomControl) {
  auto c = ParseOomControl(Fixture("v1/memory/memory.oom_control"), "memory.oom_control");
  ASSERT_TRUE(c) << c.error().Message();
  EXPECT_FALSE(c->oom_kill_disable);
  EXPECT_FALSE(c->under_oom);
  EXPECT_EQ(c->oom_kill, 0u);
  auto old = ParseOomControl("oom_kill_disable 1\nunder_oom 1\n", "memory.oom_control");
  ASSERT_TRUE(old);
  EXPECT_TRUE(old->oom_kill_disable);
  EXPECT_TRUE(old->under_oom);
  EXPECT_FALSE(old->oom_kill);
}

TEST(CgroupParseV1, MemoryStat) {
  auto s = ParseMemoryStat(Fixture("v1/memory/memory.stat"), "memory.stat");
  ASSERT_TRUE(s) << s.error().Message();
  EXPECT_EQ(s->at("cache"), 9035776u);
  EXPECT_EQ(s->at("rss"), 0u);
  EXPECT_EQ(s->at("hierarchical_memory_limit"), 9223372036854771712u);
  EXPECT_EQ(s->at("total_inactive_file"), 8822784u);
}

TEST(CgroupParseV1, Cpuacct) {
  EXPECT_EQ(ParseSingleValue(Fixture("v1/cpuacct/cpuacct.usage"), "f").value(), 555861450u);
  EXPECT_EQ(ParseSingleValue(Fixture("v1/cpuacct/cpuacct.usage_user"), "f").value(), 332000000u);
  EXPECT_EQ(ParseSingleValue(Fixture("v1/cpuacct/cpuacct.usage_sys"), "f").value(), 212000000u);
  auto t = ParseCpuacctStat(Fixture("v1/cpuacct/cpuacct.stat"), "cpuacct.stat", 100);
  ASSERT_TRUE(t) << t.error().Message();
  EXPECT_EQ(t->user_usec, 330000u);    // 33 ticks at 100 Hz
  EXPECT_EQ(t->system_usec, 210000u);  // 21 ticks
  auto t250 = ParseCpuacctStat("user 1\nsystem 3\n", "cpuacct.stat", 250);
  ASSERT_TRUE(t250);
  EXPECT_EQ(t250->user_usec, 4000u);
  EXPECT_EQ(t250->system_usec, 12000u);
  EXPECT_FALSE(ParseCpuacctStat("user 1\nsystem 3\n", "cpuacct.stat", 0));
}

TEST(CgroupParseV1, Pids) {
  auto m = ParseMax(Fixture("v1/pids/pids.max"), "pids.max");
  ASSERT_TRUE(m);
  EXPECT_FALSE(m->has_value());
  EXPECT_EQ(ParseSingleValue(Fixture("v1/pids/pids.current"), "f").value(), 0u);
  EXPECT_EQ(ParseSingleValue(Fixture("v1/pids/pids.peak"), "f").value(), 7u);
  auto e = ParsePidsEvents(Fixture("v1/pids/pids.events"), "pids.events");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->max, 0u);
}

TEST(CgroupParseV1, Freezer) {
  EXPECT_EQ(ParseFreezerState(Fixture("v1/freezer/freezer.state"), "f").value(), FreezerState::kThawed);
  EXPECT_EQ(ParseFreezerState("FREEZING\n", "f").value(), FreezerState::kFreezing);
  EXPECT_EQ(ParseFreezerState("FROZEN\n", "f").value(), FreezerState::kFrozen);
  auto bad = ParseFreezerState("frozen\n", "freezer.state");
  ASSERT_FALSE(bad);
  EXPECT_THAT(bad.error().context, HasSubstr("freezer.state:1"));
}

TEST(CgroupParseV1, BlkioServiceBytes) {
  auto b = ParseBlkioServiceBytes(Fixture("v1/blkio/blkio.throttle.io_service_bytes"), "f");
  ASSERT_TRUE(b) << b.error().Message();
  EXPECT_EQ(b->read, 8388608u);
  EXPECT_EQ(b->write, 8388608u);
  EXPECT_EQ(b->total, 16777216u);
  EXPECT_EQ(b->devices, 1u);
  auto idle = ParseBlkioServiceBytes(Fixture("v1/blkio/blkio.throttle.io_service_bytes.idle"), "f");
  ASSERT_TRUE(idle);
  EXPECT_EQ(idle->read, 0u);
  EXPECT_EQ(idle->devices, 1u);  // listed, all zero: this cgroup did no I/O
}

// Malformed input: an Error naming the file and the line, never a crash.
struct Malformed {
  const char* fixture;
  std::string (*run)(const std::string& text);
  const char* where;
};

template <class R>
std::string ErrorOf(const R& r) {
  return r ? std::string("(parsed)") : r.error().context;
}

TEST(CgroupParseMalformed, NamesFileAndLine) {
  const Malformed cases[] = {
      {"cpu.stat", [](const std::string& t) { return ErrorOf(ParseCpuStat(t, "x/cpu.stat")); }, "x/cpu.stat:2"},
      {"memory.peak", [](const std::string& t) { return ErrorOf(ParseSingleValue(t, "x/memory.peak")); }, "x/memory.peak:1"},
      {"memory.pressure", [](const std::string& t) { return ErrorOf(ParsePressure(t, "x/memory.pressure")); },
       "x/memory.pressure:1"},
      {"io.stat", [](const std::string& t) { return ErrorOf(ParseIoStat(t, "x/io.stat")); }, "x/io.stat:1"},
      {"memory.current", [](const std::string& t) { return ErrorOf(ParseSingleValue(t, "x/memory.current")); },
       "x/memory.current:1"},
      {"blkio.throttle.io_service_bytes",
       [](const std::string& t) { return ErrorOf(ParseBlkioServiceBytes(t, "x/blkio")); }, "x/blkio:2"},
  };
  for (const Malformed& c : cases) {
    std::string err = c.run(Fixture(std::string("malformed/") + c.fixture));
    EXPECT_THAT(err, HasSubstr(c.where)) << c.fixture;
  }
}

TEST(CgroupParseMalformed, Assorted) {
  EXPECT_FALSE(ParseMax("maximum\n", "pids.max"));
  EXPECT_FALSE(ParseMax("", "pids.max"));
  EXPECT_FALSE(ParseSingleValue("-1\n", "f"));
  EXPECT_FALSE(ParseSingleValue("18446744073709551616\n", "f"));  // 2^64 overflows
  EXPECT_FALSE(ParseSingleValue("1\n2\n", "f"));
  EXPECT_FALSE(ParseFlatKeyed("a 1\na 2\n", "f"));
  EXPECT_FALSE(ParseFlatKeyed("a 1 2\n", "f"));
  EXPECT_FALSE(ParseFlatKeyed("a\n", "f"));
  auto missing = ParseMemoryEvents("low 0\nhigh 0\n", "memory.events");
  ASSERT_FALSE(missing);
  EXPECT_THAT(missing.error().context, HasSubstr("memory.events: missing key \"max\""));
  EXPECT_FALSE(ParsePressure("full avg10=0.00 avg60=0.00 avg300=0.00 total=1\n", "p"));  // no "some"
  EXPECT_FALSE(ParsePressure("some avg10=x avg60=0.00 avg300=0.00 total=1\n", "p"));
  EXPECT_FALSE(ParsePressure("weird avg10=0 avg60=0 avg300=0 total=1\n", "p"));
  EXPECT_FALSE(ParseIoStat("8-0 rbytes=1\n", "io.stat"));
  EXPECT_FALSE(ParseIoStat("8:0 rbytes=-1\n", "io.stat"));
  EXPECT_FALSE(ParseCgroupEvents("frozen 0\n", "cgroup.events"));
  EXPECT_FALSE(ParseBlkioServiceBytes("Total\n", "b"));
  // Binary junk must not crash.
  std::string junk("\0\xff\n\x01 2 = : \n", 12);
  EXPECT_FALSE(ParseCpuStat(junk, "j"));
  EXPECT_FALSE(ParsePressure(junk, "j"));
  EXPECT_FALSE(ParseIoStat(junk, "j"));
  EXPECT_FALSE(ParseBlkioServiceBytes(junk, "j"));
}

}  // namespace
}  // namespace cordon::cgroup
