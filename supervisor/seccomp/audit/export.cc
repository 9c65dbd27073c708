#include "supervisor/seccomp/audit/export.h"

#include <cstdio>
#include <cstring>
#include <map>
#include <set>

#include "supervisor/seccomp/audit/decide.h"
#include "supervisor/seccomp/compiler.h"

namespace cordon::seccomp::audit {
namespace {

std::string ErrnoName(int e) {
  const char* n = strerrorname_np(e);
  return n ? n : std::to_string(e);
}

// Per syscall of the native ABI: does it run for every argument, for none, or for some?
enum class Reach { kAlways, kNever, kSome };
Reach ReachOf(const Profile& p, const Abi& abi, const std::string& name) {
  size_t runs = 0, n = 0;
  for (const Args& a : SamplePoints({&p}, name)) {
    ++n;
    runs += Runs(Decide(p, abi, name, a, false));
  }
  return runs == 0 ? Reach::kNever : runs == n ? Reach::kAlways : Reach::kSome;
}

// systemd's RestrictAddressFamilies= names for the families it knows (address_families[] in systemd).
const std::map<uint64_t, const char*>& FamilyNames() {
  static const std::map<uint64_t, const char*> k = {
      {1, "AF_UNIX"},  {2, "AF_INET"},    {3, "AF_AX25"},  {4, "AF_IPX"},     {5, "AF_APPLETALK"}, {6, "AF_NETROM"},
      {7, "AF_BRIDGE"}, {8, "AF_ATMPVC"}, {9, "AF_X25"},   {10, "AF_INET6"},  {11, "AF_ROSE"},     {12, "AF_DECnet"},
      {13, "AF_NETBEUI"}, {14, "AF_SECURITY"}, {15, "AF_KEY"}, {16, "AF_NETLINK"}, {17, "AF_PACKET"}, {18, "AF_ASH"},
      {19, "AF_ECONET"}, {20, "AF_ATMSVC"}, {21, "AF_RDS"}, {22, "AF_SNA"},   {23, "AF_IRDA"},     {24, "AF_PPPOX"},
      {25, "AF_WANPIPE"}, {26, "AF_LLC"},  {27, "AF_IB"},   {28, "AF_MPLS"},  {29, "AF_CAN"},      {30, "AF_TIPC"},
      {31, "AF_BLUETOOTH"}, {32, "AF_IUCV"}, {33, "AF_RXRPC"}, {34, "AF_ISDN"}, {35, "AF_PHONET"}, {36, "AF_IEEE802154"},
      {37, "AF_CAIF"}, {38, "AF_ALG"},     {39, "AF_NFC"},  {40, "AF_VSOCK"}, {41, "AF_KCM"},      {42, "AF_QIPCRTR"},
      {43, "AF_SMC"},  {44, "AF_XDP"},     {45, "AF_MCTP"}};
  return k;
}

std::string KafelAction(Action a, int errno_ret) {
  switch (a) {
    case Action::kKillThread: return "KILL";
    case Action::kKillProcess: return "KILL_PROCESS";
    case Action::kTrap: return "TRAP(0)";
    case Action::kErrno: return "ERRNO(" + std::to_string(errno_ret) + ")";
    case Action::kTrace: return "TRACE(" + std::to_string(errno_ret) + ")";
    case Action::kAllow: return "ALLOW";
    case Action::kLog: return "LOG";
    case Action::kNotify: return "USER_NOTIF";
  }
  return "KILL";
}

std::string KafelCondition(const ArgCondition& c) {
  return ConditionText(c, "a" + std::to_string(c.index), /*kafel_form=*/true);
}

}  // namespace

Result<std::vector<uint8_t>> ExportBpf(const Profile& p) {
  CORDON_ASSIGN_OR_RETURN(Compiled c, Compile(p, CompileOptions{}));
  return c.bpf;
}

TextExport ExportSystemd(const Profile& p) {
  TextExport out;
  const Abi abi = KnownAbis()[0];
  const bool deny_default = !(p.default_action == Action::kAllow || p.default_action == Action::kLog);
  std::vector<std::string> listed, some;
  std::map<std::string, std::vector<std::string>> other_errno;  // "EPERM" -> names (deny lists need one errno)
  for (const auto& name : NamesOn(abi)) {
    Reach r = ReachOf(p, abi, name);
    if (r == Reach::kSome) {
      some.push_back(name);
      if (deny_default) listed.push_back(name);  // allowlist: keep it callable, the argument rule is lost
      continue;
    }
    if (deny_default && r == Reach::kAlways) listed.push_back(name);
    if (!deny_default && r == Reach::kNever) listed.push_back(name);
    if (r == Reach::kNever) {
      Decision d = Decide(p, abi, name, Args{}, false);
      if (d.action != Action::kErrno) {
        out.lost.push_back(name + ": " + std::string(ActionName(d.action)) + " becomes " +
                           (deny_default ? "the SystemCallErrorNumber= errno" : "SystemCallErrorNumber="));
      } else if (d.errno_ret != p.default_errno || !deny_default) {
        other_errno[ErrnoName(d.errno_ret)].push_back(name);
      }
    }
  }
  std::string t = "# systemd unit lines for seccomp profile " + p.name + " (" + abi.name + "), by cordon seccomp export\n";
  t += "[Service]\nNoNewPrivileges=yes\nSystemCallArchitectures=native\n";
  std::string names;
  for (const auto& n : listed) names += " " + n;
  t += std::string("SystemCallFilter=") + (deny_default ? "" : "~") + names.substr(names.empty() ? 0 : 1) + "\n";
  if (deny_default) {
    t += "SystemCallErrorNumber=" + ErrnoName(p.default_errno) + "\n";
    for (const auto& [e, ns] : other_errno) {
      std::string l;
      for (const auto& n : ns) l += " " + n;
      out.lost.push_back("errno " + e + " for" + l + ": systemd returns SystemCallErrorNumber= for every denied call");
    }
  } else if (!other_errno.empty()) {
    t += "SystemCallErrorNumber=" + other_errno.begin()->first + "\n";
  }
  // Directives that carry the argument rules systemd knows about.
  for (const auto& name : some) {
    if (name == "socket") {
      std::string fams;
      for (const auto& [v, n] : FamilyNames()) {
        if (Runs(Decide(p, abi, "socket", Args{v, 0, 0, 0, 0, 0}, false))) fams += std::string(" ") + n;
      }
      t += "RestrictAddressFamilies=" + (fams.empty() ? std::string("none") : fams.substr(1)) + "\n";
    } else if (name == "clone" || name == "unshare") {
      if (!Runs(Decide(p, abi, name, Args{0x10000000, 0, 0, 0, 0, 0}, false))) {
        if (name == "clone") t += "RestrictNamespaces=yes\n";
      } else {
        out.lost.push_back(name + ": its argument rule (allowed for some flags only)");
      }
    } else if (name == "personality") {
      t += "LockPersonality=yes\n";
      out.lost.push_back("personality: the exact values allowed; LockPersonality= allows only the current one");
    } else {
      std::string rules;
      size_t n = 0;
      for (const auto& r : p.rules) {
        if (r.syscall != name) continue;
        if (++n <= 3) rules += " " + r.path + " (" + ConditionsText(r.conditions) + ")";
      }
      if (n > 3) rules += " and " + std::to_string(n - 3) + " more";
      out.lost.push_back(name + ": " + std::to_string(n) + " argument rule(s)" + rules +
                         (deny_default ? "; the export allows it for every argument"
                                       : "; the export leaves it allowed for every argument"));
    }
  }
  if (p.architectures.size() > 1) out.lost.push_back("architectures: only the native one (SystemCallArchitectures=native)");
  for (const auto& l : out.lost) t += "# lost: " + l + "\n";
  out.text = t;
  return out;
}

Result<TextExport> ExportKafel(const Profile& p) {
  TextExport out;
  // Group the rules by action, in file order; a rule with conditions becomes name(a0..a5) { cond && … }.
  std::vector<std::string> order;
  std::map<std::string, std::vector<std::string>> by_action;
  for (const auto& r : p.rules) {
    if (r.nr < 0) continue;  // not a native syscall: Kafel would refuse the name
    std::string act = KafelAction(r.action, r.errno_ret);
    if (r.action == Action::kNotify) return FailMsg(r.path + ": SCMP_ACT_NOTIFY has no Kafel form");
    if (!by_action.contains(act)) order.push_back(act);
    std::string entry = r.syscall;
    if (!r.conditions.empty()) {
      entry += "(a0, a1, a2, a3, a4, a5) { ";
      for (size_t i = 0; i < r.conditions.size(); ++i) entry += (i ? " && " : "") + KafelCondition(r.conditions[i]);
      entry += " }";
    }
    by_action[act].push_back(entry);
  }
  std::string t = "// Kafel policy for nsjail (--seccomp_policy FILE), from seccomp profile " + p.name +
                  " by cordon seccomp export\nPOLICY cordon {\n";
  for (size_t i = 0; i < order.size(); ++i) {
    t += "  " + order[i] + " {\n";
    const auto& v = by_action[order[i]];
    for (size_t k = 0; k < v.size(); ++k) t += "    " + v[k] + (k + 1 < v.size() ? ",\n" : "\n");
    t += std::string("  }") + (i + 1 < order.size() ? ",\n" : "\n");
  }
  t += "}\nUSE cordon DEFAULT " + KafelAction(p.default_action, p.default_errno) + "\n";
  if (p.architectures.size() > 1) {
    out.lost.push_back("architectures: Kafel policies are compiled for the native architecture only");
    t += "// lost: " + out.lost.back() + "\n";
  }
  out.text = t;
  return out;
}

}  // namespace cordon::seccomp::audit
