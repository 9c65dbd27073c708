// The record spool's format (supervisor/daemon/spool.h): what a full state disk keeps for the
// next write attempt or the next cordond must come back byte for byte, and a torn or foreign file
// must be refused, never half-read.
#include <gtest/gtest.h>

#include "supervisor/daemon/spool.h"

namespace cordon::daemon {
namespace {

PendingRecord Sample(const std::string& id) {
  PendingRecord p;
  p.row.id = id;
  p.row.principal = "tester";
  p.row.tenant = "ci";
  p.row.cls = "batch";
  p.row.policy = "default";
  p.row.policy_version = 3;
  p.row.argv = {"/bin/sh", "-c", std::string("caf\xe9 and a \0 byte", 17), ""};
  p.row.state = "finished";
  p.row.shim_pid = 4242;
  p.row.shim_start_time = 123456789;
  p.row.exit_code = -7;
  p.row.failure_class = "exit_nonzero";
  p.row.message = "line";
  p.row.created_unix_ms = 1700000000000;
  p.row.finished_unix_ms = 1700000000500;
  p.row.decision_id = 99;
  p.evidence = R"({"task_id":")" + id + R"("})";
  return p;
}

TEST(DaemonSpool, RoundTripsEveryField) {
  PendingRecord a = Sample("a"), b = Sample("b");
  auto back = DecodeSpool(EncodeSpool({&a, &b}));
  ASSERT_TRUE(back) << back.error().Message();
  ASSERT_EQ(back->size(), 2u);
  const TaskRow& r = (*back)[1].row;
  EXPECT_EQ(r.id, "b");
  EXPECT_EQ(r.argv, b.row.argv);
  EXPECT_EQ(r.exit_code, -7);
  EXPECT_EQ(r.shim_start_time, 123456789u);
  EXPECT_EQ(r.created_unix_ms, 1700000000000);
  EXPECT_EQ(r.finished_unix_ms, 1700000000500);
  EXPECT_EQ(r.decision_id, 99);
  EXPECT_EQ(r.policy_version, 3u);
  EXPECT_EQ(r.failure_class, "exit_nonzero");
  EXPECT_EQ((*back)[1].evidence, b.evidence);
}

TEST(DaemonSpool, EmptyAndNeverWrittenMeanNothingPending) {
  EXPECT_TRUE(DecodeSpool("")->empty());
  EXPECT_TRUE(DecodeSpool(std::string(4096, '\0'))->empty());  // reserved, never written
  EXPECT_TRUE(DecodeSpool(EncodeSpool({}))->empty());
}

TEST(DaemonSpool, TornOrForeignBytesAreRefused) {
  PendingRecord a = Sample("a");
  const std::string good = EncodeSpool({&a});
  EXPECT_FALSE(DecodeSpool("SQLite format 3"));
  EXPECT_FALSE(DecodeSpool(good.substr(0, good.size() - 1)));
  for (size_t at : {good.size() / 2, good.size() - 40}) {
    std::string torn = good;
    torn[at] ^= 1;
    EXPECT_FALSE(DecodeSpool(torn)) << at;
  }
  // A shorter content written over a longer one leaves the old tail: it is ignored.
  EXPECT_TRUE(DecodeSpool(good + "trailing bytes of an older spool"));
}

}  // namespace
}  // namespace cordon::daemon
