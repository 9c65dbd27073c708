#include "supervisor/seccomp/audit/explain.h"

#include <cstdio>
#include <map>

#include <nlohmann/json.hpp>

namespace cordon::seccomp::audit {
namespace {

using J = nlohmann::ordered_json;

std::string Hex(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}

std::string CallText(const std::string& name, const std::optional<Args>& args) {
  if (!args) return name;
  size_t n = 6;
  while (n > 0 && (*args)[n - 1] == 0) --n;
  std::string s = name + "(";
  for (size_t i = 0; i < n; ++i) s += (i ? ", " : "") + Hex((*args)[i]);
  return s + ")";
}

std::vector<RuleView> RulesFor(const Profile& p, const std::string& name) {
  std::vector<RuleView> v;
  for (const auto& r : p.rules) {
    if (r.syscall != name) continue;
    Decision d{r.action, r.errno_ret, r.path, false};
    v.push_back({r.path, Outcome(d), ConditionsText(r.conditions)});
  }
  return v;
}

J DecisionJson(const Decision& d) {
  return {{"action", ActionName(d.action)}, {"errno", d.errno_ret}, {"outcome", Outcome(d)}, {"rule", d.rule_path}};
}

J RulesJson(const std::vector<RuleView>& rules) {
  J a = J::array();
  for (const auto& r : rules) a.push_back({{"path", r.path}, {"outcome", r.outcome}, {"conditions", r.conditions}});
  return a;
}

}  // namespace

CallExplanation ExplainCall(const Profile& p, const std::string& syscall, const std::optional<Args>& args,
                            const std::vector<Abi>& abis_in) {
  CallExplanation e;
  e.syscall = syscall;
  e.args = args;
  e.rules = RulesFor(p, syscall);
  e.default_outcome = Outcome(Decision{p.default_action, p.default_errno, "defaultAction", false});
  const auto abis = abis_in.empty() ? KnownAbis() : abis_in;
  for (const auto& abi : abis) {
    AbiVerdict v;
    v.abi = abi.name;
    v.exists = NumberOn(abi, syscall).has_value();
    const Args a = args.value_or(Args{});
    v.cordon = Decide(p, abi, syscall, a, false);
    v.runtime = Decide(p, abi, syscall, a, true);
    v.depends_on_args = !args && v.runtime.args_matter;
    e.abis.push_back(v);
  }
  return e;
}

std::string RenderCallText(const CallExplanation& e) {
  std::string out = CallText(e.syscall, e.args) + ":\n";
  for (const auto& v : e.abis) {
    std::string abi = v.abi + ":";
    abi.resize(8, ' ');
    out += "  " + abi;
    if (!v.exists) {
      out += "no such syscall on this ABI\n";
      continue;
    }
    if (v.depends_on_args && v.cordon.rule_path != "architecture") {
      out += "depends on the arguments (rules below)\n";
      continue;
    }
    out += Outcome(v.cordon) + ", decided by " + v.cordon.rule_path;
    if (Outcome(v.runtime) != Outcome(v.cordon) || v.runtime.rule_path != v.cordon.rule_path) {
      out += v.depends_on_args ? "; runc/crun: depends on the arguments"
                               : "; runc/crun: " + Outcome(v.runtime) + ", decided by " + v.runtime.rule_path;
    }
    out += "\n";
  }
  out += "rules for " + e.syscall + (e.rules.empty() ? ": none\n" : " (first match decides):\n");
  for (const auto& r : e.rules)
    out += "  " + r.path + ": " + r.outcome + (r.conditions == "always" ? " always" : " if " + r.conditions) + "\n";
  out += "  otherwise: " + e.default_outcome + " (defaultAction)\n";
  return out;
}

std::string RenderCallJson(const CallExplanation& e) {
  J j;
  j["syscall"] = e.syscall;
  if (e.args) {
    j["args"] = J::array();
    for (uint64_t a : *e.args) j["args"].push_back(a);
  } else {
    j["args"] = nullptr;
  }
  j["abis"] = J::array();
  for (const auto& v : e.abis) {
    J a = {{"abi", v.abi}, {"exists", v.exists}, {"depends_on_args", v.depends_on_args}};
    a["cordon"] = DecisionJson(v.cordon);
    a["runtime"] = DecisionJson(v.runtime);
    j["abis"].push_back(a);
  }
  j["rules"] = RulesJson(e.rules);
  j["default"] = e.default_outcome;
  return j.dump() + "\n";
}

std::vector<TableRow> ExplainTable(const Profile& p, const Abi& abi) {
  std::vector<TableRow> rows;
  for (const auto& name : NamesOn(abi)) {
    TableRow r;
    r.syscall = name;
    r.nr = NumberOn(abi, name).value_or(-1);
    Decision first = Decide(p, abi, name, Args{}, true);
    std::string first_outcome = Outcome(first);
    bool varies = false;
    if (first.args_matter) {
      for (const Args& a : SamplePoints({&p}, name)) varies = varies || Outcome(Decide(p, abi, name, a, true)) != first_outcome;
    }
    r.outcome = first_outcome;
    if (varies) {
      r.kind = "conditional";
      r.rules = RulesFor(p, name);
    } else {
      r.kind = Runs(first) ? "allowed" : "denied";
      r.rule = first.rule_path;
    }
    rows.push_back(std::move(r));
  }
  return rows;
}

std::string RenderTableText(const std::string& source, const Abi& abi, const std::vector<TableRow>& rows) {
  std::map<std::string, int> counts;
  std::string out;
  for (const auto& r : rows) {
    ++counts[r.kind];
    std::string name = r.syscall;
    if (name.size() < 24) name.resize(24, ' ');
    if (r.kind == "conditional") {
      out += name + " conditional:";
      for (const auto& v : r.rules) out += " " + v.outcome + " if " + v.conditions + " (" + v.path + ");";
      out += " otherwise the default\n";
    } else {
      std::string kind = r.kind;
      kind.resize(12, ' ');
      out += name + " " + kind + r.outcome + " (" + r.rule + ")\n";
    }
  }
  out += source + " on " + abi.name + ": " + std::to_string(rows.size()) + " syscalls, " +
         std::to_string(counts["allowed"]) + " allowed, " + std::to_string(counts["denied"]) + " denied, " +
         std::to_string(counts["conditional"]) + " conditional\n";
  return out;
}

std::string RenderTableJson(const std::string& source, const Abi& abi, const std::vector<TableRow>& rows) {
  J j;
  j["source"] = source;
  j["abi"] = abi.name;
  j["syscalls"] = J::array();
  for (const auto& r : rows) {
    J x = {{"syscall", r.syscall}, {"nr", r.nr}, {"kind", r.kind}, {"outcome", r.outcome}, {"rule", r.rule}};
    if (r.kind == "conditional") x["rules"] = RulesJson(r.rules);
    j["syscalls"].push_back(x);
  }
  return j.dump() + "\n";
}

}  // namespace cordon::seccomp::audit
