// The sandbox's DNS server's answers (supervisor/egress/dns.h, docs/network.md "DNS inside the
// sandbox"): an allowed name's A record, an empty answer for its other types, NXDOMAIN for every
// other name, and malformed packets answered FORMERR or dropped, never read past their end.
#include <gtest/gtest.h>

#include "supervisor/egress/dns.h"

namespace cordon::egress {
namespace {

// A query as a stub resolver sends it: id 0x1234, RD, one question.
std::string Query(const std::string& name, uint16_t qtype, uint16_t qdcount = 1) {
  std::string q = {0x12, 0x34, 0x01, 0x00, 0x00, static_cast<char>(qdcount), 0, 0, 0, 0, 0, 0};
  size_t start = 0;
  while (start <= name.size()) {
    size_t dot = name.find('.', start);
    if (dot == std::string::npos) dot = name.size();
    q.push_back(static_cast<char>(dot - start));
    q += name.substr(start, dot - start);
    start = dot + 1;
  }
  q.push_back(0);
  q.push_back(static_cast<char>(qtype >> 8));
  q.push_back(static_cast<char>(qtype & 255));
  q += std::string("\x00\x01", 2);  // class IN
  return q;
}

int Rcode(const std::string& r) { return r.size() >= 4 ? static_cast<uint8_t>(r[3]) & 0x0f : -1; }
int Answers(const std::string& r) { return r.size() >= 8 ? static_cast<uint8_t>(r[6]) << 8 | static_cast<uint8_t>(r[7]) : -1; }

const std::map<std::string, uint32_t> kNames = {{"db.internal", 0x7f4d0001}};

TEST(Dns, AnAllowedNameGetsItsLoopbackAddress) {
  const std::string q = Query("DB.Internal", 1);
  DnsAnswer a = AnswerDns(q, kNames);
  EXPECT_TRUE(a.known);
  EXPECT_EQ(a.name, "db.internal");
  ASSERT_EQ(a.reply.size(), q.size() + 16);
  EXPECT_EQ(a.reply.substr(0, 2), "\x12\x34");
  EXPECT_EQ(static_cast<uint8_t>(a.reply[2]), 0x85);  // QR, AA, RD
  EXPECT_EQ(Rcode(a.reply), 0);
  EXPECT_EQ(Answers(a.reply), 1);
  EXPECT_EQ(a.reply.substr(12, q.size() - 12), q.substr(12)) << "the question is echoed";
  EXPECT_EQ(a.reply.substr(a.reply.size() - 4), std::string("\x7f\x4d\x00\x01", 4));
}

TEST(Dns, OtherTypesOfAnAllowedNameAreEmptyAndOtherNamesDoNotExist) {
  DnsAnswer aaaa = AnswerDns(Query("db.internal", 28), kNames);
  EXPECT_EQ(Rcode(aaaa.reply), 0);
  EXPECT_EQ(Answers(aaaa.reply), 0);
  DnsAnswer other = AnswerDns(Query("evil.example", 1), kNames);
  EXPECT_FALSE(other.known);
  EXPECT_EQ(other.name, "evil.example");
  EXPECT_EQ(Rcode(other.reply), 3);
  EXPECT_EQ(Answers(other.reply), 0);
  // A name under an allowed one is another name.
  EXPECT_EQ(Rcode(AnswerDns(Query("x.db.internal", 1), kNames).reply), 3);
}

TEST(Dns, MalformedPacketsAreRefusedOrDropped) {
  EXPECT_TRUE(AnswerDns("\x12\x34", kNames).reply.empty()) << "shorter than a header: dropped";
  std::string response = Query("db.internal", 1);
  response[2] = static_cast<char>(0x81);
  EXPECT_TRUE(AnswerDns(response, kNames).reply.empty()) << "a response is not answered";
  EXPECT_EQ(Rcode(AnswerDns(Query("db.internal", 1, 2), kNames).reply), 1) << "two questions";
  const std::string q = Query("db.internal", 1);
  for (size_t cut = 12; cut < q.size(); ++cut)
    EXPECT_EQ(Rcode(AnswerDns(q.substr(0, cut), kNames).reply), 1) << "cut at " << cut;
  std::string pointer = q.substr(0, 12) + std::string("\xc0\x0c\x00\x01\x00\x01", 6);
  EXPECT_EQ(Rcode(AnswerDns(pointer, kNames).reply), 1) << "a compression pointer in a query";
  std::string opcode = q;
  opcode[2] = static_cast<char>(0x10);  // opcode 2 (status)
  EXPECT_EQ(Rcode(AnswerDns(opcode, kNames).reply), 4);
}

}  // namespace
}  // namespace cordon::egress
