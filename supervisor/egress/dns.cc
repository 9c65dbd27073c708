// supervisor/egress/dns.cc: RFC 1035 queries read and answered, for the sandbox's DNS door.
#include "supervisor/egress/dns.h"

#include <cctype>

namespace cordon::egress {
namespace {

constexpr size_t kHeader = 12;
constexpr uint16_t kTypeA = 1, kTypeAny = 255, kClassIn = 1;
constexpr uint8_t kNoError = 0, kFormErr = 1, kNxDomain = 3, kNotImp = 4;
constexpr uint32_t kTtl = 60;

uint16_t U16(std::string_view b, size_t at) {
  return static_cast<uint16_t>(static_cast<uint8_t>(b[at]) << 8 | static_cast<uint8_t>(b[at + 1]));
}
void Put16(std::string* out, uint16_t v) {
  out->push_back(static_cast<char>(v >> 8));
  out->push_back(static_cast<char>(v & 255));
}
void Put32(std::string* out, uint32_t v) {
  Put16(out, static_cast<uint16_t>(v >> 16));
  Put16(out, static_cast<uint16_t>(v & 0xffff));
}

// The reply's header: the query's id and RD bit, QR, AA and RA set, `rcode`; one question when
// `question` is not empty, `answers` answer records.
std::string Header(std::string_view q, uint8_t rcode, bool question, uint16_t answers) {
  std::string h;
  h.append(q.substr(0, 2));                                          // id
  const uint8_t rd = static_cast<uint8_t>(q[2]) & 0x01;
  h.push_back(static_cast<char>(0x80 | 0x04 | rd));                  // QR, opcode 0, AA, RD
  h.push_back(static_cast<char>(0x80 | rcode));                      // RA, rcode
  Put16(&h, question ? 1 : 0);
  Put16(&h, answers);
  Put16(&h, 0);
  Put16(&h, 0);
  return h;
}

}  // namespace

DnsAnswer AnswerDns(std::string_view q, const std::map<std::string, uint32_t>& names) {
  DnsAnswer a;
  if (q.size() < kHeader || (static_cast<uint8_t>(q[2]) & 0x80) != 0) return a;  // not a query: drop
  const uint8_t opcode = (static_cast<uint8_t>(q[2]) >> 3) & 0x0f;
  if (opcode != 0) {
    a.reply = Header(q, kNotImp, false, 0);
    return a;
  }
  auto formerr = [&]() {
    a.reply = Header(q, kFormErr, false, 0);
    return a;
  };
  if (U16(q, 4) != 1) return formerr();
  // The question: labels (no compression in a query), then type and class.
  size_t at = kHeader;
  std::string name;
  for (;;) {
    if (at >= q.size()) return formerr();
    const uint8_t len = static_cast<uint8_t>(q[at++]);
    if (len == 0) break;
    if (len > 63 || at + len > q.size() || name.size() + len + 1 > 255) return formerr();
    if (!name.empty()) name += '.';
    for (size_t i = 0; i < len; ++i) name += static_cast<char>(std::tolower(static_cast<unsigned char>(q[at + i])));
    at += len;
  }
  if (at + 4 > q.size()) return formerr();
  a.qtype = U16(q, at);
  const uint16_t qclass = U16(q, at + 2);
  const std::string_view question = q.substr(kHeader, at + 4 - kHeader);
  a.name = name;
  auto it = names.find(name);
  a.known = it != names.end();
  const bool answer = a.known && qclass == kClassIn && (a.qtype == kTypeA || a.qtype == kTypeAny);
  a.reply = Header(q, a.known ? kNoError : kNxDomain, true, answer ? 1 : 0);
  a.reply.append(question);
  if (answer) {
    Put16(&a.reply, 0xc000 | kHeader);  // the name: a pointer to the question's
    Put16(&a.reply, kTypeA);
    Put16(&a.reply, kClassIn);
    Put32(&a.reply, kTtl);
    Put16(&a.reply, 4);
    Put32(&a.reply, it->second);
  }
  return a;
}

}  // namespace cordon::egress
