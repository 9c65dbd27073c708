// supervisor/cli/token.h: `cordon token` (docs/identity.md): verify a task's identity token offline
// against the published key set or online through cordond, and print cordond's key set.
#pragma once

namespace cordon {

// argv[0] is the first argument after "token". Exit 0: valid (claims printed as JSON); 1: rejected
// (the reason on stderr); 125: could not check (usage, key set, cordond unreachable).
int CmdToken(int argc, char** argv);

}  // namespace cordon
