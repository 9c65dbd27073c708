// supervisor/cli/approvals.h: `cordon approvals` and the submit side of approvals
// (docs/governance.md "Approvals").
#pragma once

#include <optional>

#include "supervisor/daemon/client.h"

namespace cordon::cli {

// `cordon approvals list|approve|deny|wait`; argv[0] is the first argument after "approvals".
int RunApprovalsCommand(int argc, char** argv);

// A Submit answered TASK_STATE_PENDING: tells the user, waits on `conn` for the decision, and on
// approval sets `submit`'s approval_id so that sending it again runs it. An exit code when it was
// not approved (denied 77, expired 75) or the wait failed; nullopt when `submit` is ready to send.
std::optional<int> AwaitApproval(daemon::ClientConnection& conn, const ::cordon::api::v1::TaskInfo& pending,
                                 ::cordon::api::v1::Request* submit);

}  // namespace cordon::cli
