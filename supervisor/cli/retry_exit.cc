#include "supervisor/cli/retry_exit.h"

#include "supervisor/governance/retry.h"

namespace cordon::cli {

namespace api = ::cordon::api::v1;

int RetryExitCode(api::RetryVerdict v) {
  switch (v) {
    case api::RETRY_VERDICT_NEVER: return governance::kExitNeverRetry;
    case api::RETRY_VERDICT_LATER: return governance::kExitRetryLater;
    case api::RETRY_VERDICT_ONCE_AFTER_REPAIR: return governance::kExitRepairThenRetry;
    default: return 0;
  }
}

const char* RetryVerdictName(api::RetryVerdict v) {
  switch (v) {
    case api::RETRY_VERDICT_NEVER: return "never";
    case api::RETRY_VERDICT_LATER: return "later";
    case api::RETRY_VERDICT_ONCE_AFTER_REPAIR: return "once_after_repair";
    default: return "none";
  }
}

}  // namespace cordon::cli
