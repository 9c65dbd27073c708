// supervisor/cli/run_artifact.cc: the run's "artifact" object (run_artifact.h).
#include "supervisor/cli/run_artifact.h"

#include <optional>

#include <nlohmann/json.hpp>

#include "supervisor/cli/artifact_file.h"
#include "supervisor/evidence/artifact.h"

namespace cordon {

Result<std::string> RunArtifactJson(const std::vector<std::string>& argv, const std::vector<std::string>& env,
                                    const std::string& cwd, const std::vector<OpenBinding>* bindings,
                                    const std::string& declared_file, const std::string& declared_sha256,
                                    const std::string& declared_name) {
  std::optional<evlog::DeclaredArtifact> declared;
  if (!declared_file.empty() || !declared_sha256.empty()) {
    std::optional<std::string> content;
    if (!declared_file.empty()) {
      CORDON_ASSIGN_OR_RETURN(std::string bytes, ReadArtifactFile(declared_file));
      content = std::move(bytes);
    }
    const std::string name = !declared_name.empty() || declared_file.empty()
                                 ? declared_name
                                 : declared_file.substr(declared_file.rfind('/') + 1);
    auto d = evlog::DeclareArtifact(content, declared_sha256, name, "cordon run");
    if (!d) return Wrap(d.error(), "--artifact");
    declared = std::move(*d);
  } else if (!declared_name.empty()) {
    return FailMsg("--artifact-name needs --artifact FILE or --artifact-sha256 HEX");
  }
  evlog::ArtifactQuery q;
  q.argv = argv;
  q.env = env;
  q.cwd = cwd;
  q.bindings = bindings;
  evlog::ArtifactReport r = evlog::HashArtifacts(q, nullptr);
  r.declared = std::move(declared);
  return evlog::ArtifactJson(r).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string WithArtifact(const std::string& evidence_json, const std::string& artifact_json) {
  nlohmann::json ev = nlohmann::json::parse(evidence_json, nullptr, false);
  nlohmann::json a = nlohmann::json::parse(artifact_json, nullptr, false);
  if (ev.is_discarded() || !ev.is_object() || a.is_discarded()) return evidence_json;
  ev["artifact"] = std::move(a);
  return ev.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace cordon
