// supervisor/daemon/evidence_calls.cc: cordond's evidence calls (docs/evidence.md "Keys"): the
// evidence log's public key and key id, served to any principal so that an auditor can pin it.
#include "supervisor/daemon/daemon_internal.h"

namespace cordon::daemon::internal {

void Daemon::HandleEvidenceKey(Conn& c, uint64_t call_id) {
  if (FindPrincipal(config_->principals, c.peer.uid, c.peer.gid) == nullptr)
    return ReplyError(c, call_id, api::ERROR_CODE_UNAUTHENTICATED,
                      "uid " + std::to_string(c.peer.uid) + " is not a principal in " + config_->principals.source);
  api::Response resp;
  resp.set_call_id(call_id);
  api::EvidenceKeyResponse* k = resp.mutable_evidence_key();
  if (const evlog::LogWriter* w = evlog_->writer()) {
    k->set_enabled(true);
    k->set_key_id(w->public_key().KeyId());
    k->set_public_key_pem(w->public_key().Pem());
    k->set_origin(w->origin());
    k->set_records(w->size());
    k->set_sealed(w->sealed());
  }
  Reply(c, resp);
}

}  // namespace cordon::daemon::internal
