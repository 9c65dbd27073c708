// supervisor/oci/record.cc: a container's evidence record, written at `delete` (record.h).
#include "supervisor/oci/record.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "common/unique_fd.h"
#include "supervisor/evidence/log.h"

namespace cordon::oci {

Result<uint64_t> WriteContainerRecord(const std::string& edir, const std::string& id, const std::string& record) {
  // The directory and its parents (e.g. ~/.local/state/cordon/oci-evidence): only the last is private.
  for (size_t at = edir.find('/', 1); at != std::string::npos; at = edir.find('/', at + 1))
    ::mkdir(edir.substr(0, at).c_str(), 0755);
  if (::mkdir(edir.c_str(), 0700) < 0 && errno != EEXIST)
    return Fail(errno, "create the evidence directory " + edir, "set --evidence-dir or CORDON_OCI_EVIDENCE_DIR to a writable directory");
  UniqueFd out(::open((edir + "/" + id + ".jsonl").c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600));
  if (!out) return Fail(errno, "open the evidence file in " + edir, "set CORDON_OCI_EVIDENCE_DIR to a writable directory");
  std::string line = record;
  while (!line.empty() && line.back() == '\n') line.pop_back();
  line += "\n";
  if (::write(out.Get(), line.data(), line.size()) != static_cast<ssize_t>(line.size()) || ::fsync(out.Get()) < 0)
    return Fail(errno, "write the evidence record of container " + id + " to " + edir);

  nlohmann::json data = nlohmann::json::parse(line, nullptr, false);
  if (!data.is_object()) data = {{"unparsed", line}};
  evlog::WriterOptions wo;
  wo.wait_for_lock = true;     // another delete on this node holds it for a moment
  wo.checkpoint_every = 0;     // sealed once, at Close
  wo.checkpoint_ms = 0;
  std::vector<std::string> notices;
  auto w = evlog::LogWriter::Open(edir + "/evidence-log", wo, &notices);
  if (!w) return Wrap(w.error(), "the OCI evidence log in " + edir + "/evidence-log");
  auto seq = (*w)->Append("oci_container", data);
  if (!seq) return Wrap(seq.error(), "append container " + id + "'s record to " + edir + "/evidence-log");
  if (auto c = (*w)->Close(); !c) return Wrap(c.error(), "seal " + edir + "/evidence-log");
  return *seq;
}

}  // namespace cordon::oci
