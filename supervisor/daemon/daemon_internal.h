// supervisor/daemon/daemon_internal.h: the Daemon class behind RunDaemon(), shared by daemon.cc
// (event loop, connections, task lifecycle, signals) and calls.cc (the API calls). Not a public
// interface: everything here is an implementation detail of cordond.
#pragma once

#include "common/bindings/grant.h"
#include "supervisor/daemon/evidence_log.h"
#include <fcntl.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <cstdio>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <atomic>
#include <set>
#include <unordered_map>
#include <google/protobuf/stubs/logging.h>
#include "common/scm_rights.h"
#include "common/syscalls.h"
#include "proto/cordon.pb.h"
#include "supervisor/cgroup/layout.h"
#include "supervisor/daemon/admission.h"
#include "supervisor/daemon/budget_gate.h"
#include "supervisor/daemon/config.h"
#include "supervisor/daemon/frame.h"
#include "supervisor/daemon/journal.h"
#include "supervisor/daemon/metrics.h"
#include "common/procfs.h"
#include "supervisor/daemon/recovery.h"
#include "supervisor/daemon/sandbox_builder.h"
#include "supervisor/daemon/spool.h"
#include "supervisor/daemon/store.h"
#include "supervisor/daemon/sync_worker.h"
#include "supervisor/daemon/systemd.h"
#include "supervisor/governance/approval.h"
#include "supervisor/governance/breaker.h"
#include "supervisor/governance/control_db.h"
#include "supervisor/governance/freeze.h"

#include "supervisor/daemon/daemon.h"
#include "supervisor/task/task.h"
#include "supervisor/egress/tls_ca.h"
#include "supervisor/token/signing_key.h"
#include "supervisor/work_queue.h"

namespace cordon::daemon::internal {
namespace api = ::cordon::api::v1;

// epoll tokens: (serial << 20) | fd. Serials 1 and 2 are the listening socket and the signalfd;
// connections and tasks get fresh serials, so an event for a closed connection whose fd number was
// reused in the same epoll batch finds no owner instead of the wrong one.
inline constexpr uint64_t kListenSerial = 1, kSignalSerial = 2, kSyncSerial = 3, kBuildSerial = 4;
inline constexpr uint64_t kEvlogSerial = 5;  // the evidence log's sealer is done (evidence_log.h)
inline constexpr int kFdBits = 20;
inline constexpr size_t kMaxFdBindings = 64;       // caller binding fds one Submit may carry
inline constexpr size_t kMaxPendingFds = 3 + kMaxFdBindings;  // fds received but not yet claimed by a Submit frame
// Replies queued for peers (docs/daemon.md "Limits per uid"). A connection with more than
// kPauseOutBytes queued is not read (its frames wait in its socket: backpressure); nor is one with
// anything queued while its uid has kUidOutBytes queued, or all peers together kTotalOutBytes.
// Past kMaxOutBytes (Wait answers still arrive for a peer that reads nothing) it is dropped.
inline constexpr size_t kPauseOutBytes = 64u << 10;
inline constexpr size_t kUidOutBytes = 4u << 20;
inline constexpr size_t kTotalOutBytes = 64u << 20;
inline constexpr size_t kMaxOutBytes = 8u << 20;
inline constexpr size_t kFramesPerTurn = 32;    // frames of one connection handled before others get a turn
inline constexpr size_t kFramesPerLoop = 16;    // frames of all connections per loop turn (then tasks' events)
inline constexpr size_t kAcceptsPerTurn = 64;   // likewise, connections accepted
inline constexpr size_t kSubmitsPerUidPerTurn = 1;  // Submits of one peer uid per loop turn
inline constexpr size_t kMaxWaitsPerConn = 1024;
inline constexpr size_t kMaxHeldPerConn = 32;   // replies waiting for their decision's sync; then not read
inline constexpr size_t kRecvChunk = 65536;
inline constexpr uint64_t kRefillQuietNs = 50'000'000ull;  // see Daemon::refill_not_before_ns_
inline constexpr uint64_t kShutdownGiveUpNs = 15'000'000'000ull;  // after the kill, before exiting anyway
inline constexpr uint64_t kSpoolBytes = 4u << 20;  // reserved for records the database cannot take
inline constexpr uint64_t kPendingRetryNs = 1'000'000'000ull;  // pending records: next write attempt

inline uint64_t Token(uint64_t serial, int fd) { return (serial << kFdBits) | static_cast<uint64_t>(fd); }

inline int64_t NowUnixMs() {
  timespec ts{};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

inline void Log(const std::string& msg) { LogLine(msg); }  // journal or stderr (journal.h)

inline std::string ClassName(api::TaskClass c) {
  switch (c) {
    case api::TASK_CLASS_INTERACTIVE: return "interactive";
    case api::TASK_CLASS_PRIVILEGED: return "privileged";
    case api::TASK_CLASS_BATCH:
    case api::TASK_CLASS_UNSPECIFIED: return "batch";
    default: return "unknown(" + std::to_string(static_cast<int>(c)) + ")";
  }
}

inline api::TaskClass ClassEnum(const std::string& s) {
  if (s == "interactive") return api::TASK_CLASS_INTERACTIVE;
  if (s == "privileged") return api::TASK_CLASS_PRIVILEGED;
  return api::TASK_CLASS_BATCH;
}

inline api::TaskState StateEnum(const std::string& s) {
  if (s == "admitted") return api::TASK_STATE_ADMITTED;
  if (s == "running") return api::TASK_STATE_RUNNING;
  return api::TASK_STATE_FINISHED;
}

inline void FillInfo(const TaskRow& r, api::TaskInfo* t) {
  t->set_task_id(r.id);
  t->set_principal(r.principal);
  t->set_tenant(r.tenant);
  t->set_app_id(r.app_id);
  t->set_class_(ClassEnum(r.cls));
  t->set_policy(r.policy);
  t->set_policy_version(r.policy_version);
  t->set_state(StateEnum(r.state));
  for (const auto& a : r.argv) t->add_argv(a);
  t->set_request_id(r.request_id);
  t->set_exit_code(r.exit_code);
  t->set_failure_class(r.failure_class);
  t->set_message(r.message);
  t->set_created_unix_ms(r.created_unix_ms);
  t->set_finished_unix_ms(r.finished_unix_ms);
  if (r.state != "finished") t->set_shim_pid(r.shim_pid);
  t->set_record_pending(r.record_pending);
  FillRetry(r, t);  // docs/governance.md "Retry semantics"
}

inline api::ErrorCode CodeOf(Verdict v) {
  switch (v) {
    case Verdict::kAllow: return api::ERROR_CODE_OK;
    case Verdict::kUnauthenticated: return api::ERROR_CODE_UNAUTHENTICATED;
    case Verdict::kPermissionDenied: return api::ERROR_CODE_PERMISSION_DENIED;
    case Verdict::kInvalidArgument: return api::ERROR_CODE_INVALID_ARGUMENT;
  }
  return api::ERROR_CODE_INTERNAL;
}

struct Waiter {
  uint64_t conn = 0;
  uint64_t call_id = 0;
  uint64_t deadline_ns = 0;  // 0: none
};

// What one peer uid holds: its connections and the bytes queued for them.
struct UidUsage {
  size_t conns = 0;
  size_t queued = 0;
};

struct Conn {
  uint64_t serial = 0;
  UniqueFd fd;
  PeerCred peer;
  bool principal = false;     // the uid was a principal when it connected (limits per uid)
  size_t accounted = 0;       // bytes of `out` counted in its UidUsage and the total
  uint64_t last_active_ns = 0;  // last byte read or written: the idle deadline counts from it
  size_t attached = 0;        // live tasks attached to this connection (stdio), killed if it goes
  size_t held = 0;            // replies waiting for the sync of their decision (HeldReply)
  FrameDecoder decoder;
  std::deque<UniqueFd> fds;   // received with SCM_RIGHTS, not yet claimed by a Submit
  std::string out;
  size_t out_off = 0;
  uint64_t deadline_ns = 0;   // a started frame must complete (or an error reply drain) by then
  bool read_closed = false;   // EOF, or an error was sent: nothing more is read
  bool close_after_flush = false;
  uint32_t events = 0;        // as registered with epoll
  size_t waits = 0;           // Wait calls of this connection still pending
};

struct Live {
  uint64_t serial = 0;
  std::string session;  // the Submit's session, "" for none (the kill-switch's session scope)
  std::unique_ptr<Task> task;
  TaskRow row;
  std::set<int> watched;
  UniqueFd stdio[3];  // the caller's fds, kept only while the Task pumps output into them
  bool recorded = false;
  std::vector<Waiter> waiters;
  // The connection that submitted the task with its stdio (cordon submit without --detach), or 0.
  // If that connection goes before the task ends, the task is killed (failure_class client_gone).
  uint64_t attached_conn = 0;
  // A cold start with the sync worker: its sandbox is built on demand the warm pool's way
  // (Task::Prepare with this request's shape); once ready it gets the task (Launch, held before
  // its exec) and the decision goes to the sync worker, so that the sync overlaps the build. Until
  // then the request (its caller fds are in `stdio`) and the Submit's reply wait here.
  bool on_demand = false;      // built on demand, not taken from the pool (evidence: not pooled)
  bool awaiting_launch = false;
  TaskRequest launch_req;
  uint64_t received_ns = 0;
  uint64_t reply_conn = 0;
  api::Response reply;
  // Such a cold start's `state` bindings are measured (state_bytes_before, max_bytes) on the state
  // walker's thread while its sandbox is built; it is launched only once the sizes are in.
  std::shared_ptr<StateWalker::Walk> state_walk;  // its event_fd is watched under this serial
  std::shared_ptr<const Policy> policy;           // for the quota check
  std::string refusal;  // a binding over its quota: the task is withdrawn, the Submit refused with this
  // identity (tokens.cc): token bindings' pipes (read ends go to the sandbox, cordond writes the
  // token into the write end once the task has its id) and the egress credentials being built.
  std::vector<std::pair<std::string, UniqueFd>> token_reads, token_writes;
  std::shared_ptr<egress::Credentials> credentials;
  // Per-step tokens (TokenMint): the policy the task runs under, and the Unix second its wall-clock
  // limit ends counted from its start (0: no limit); set by IssueIdentity.
  std::shared_ptr<const Policy> identity_policy;
  int64_t token_deadline_s = 0;
  // evidence (wip/evlog): the declared artifact, and the evidence record's "artifact" object,
  // hashed right before the task was handed its sandbox (docs/evidence.md "Artifact hash").
  std::optional<evlog::DeclaredArtifact> declared_artifact;
  std::string artifact;  // JSON text; "" until hashed
};

// A sandbox of the warm pool: built for one policy, waiting for its task (docs/daemon.md).
struct Pooled {
  uint64_t serial = 0;     // its epoll serial; the Live that takes it over keeps it
  std::string policy;      // the policy's name in the config it was built from
  LoadedPolicy built_for;  // the exact policy and filter: a reload that changes either discards it
  std::unique_ptr<Task> task;
  std::set<int> watched;
  uint64_t memory_bytes = 0;  // charged against --pool-memory-max (measured once ready)
};

// Why a policy cannot be pooled, or "" when it can: its sandbox must not depend on the request.
std::string WhyNotPoolable(const Policy& policy);

// The host directory a task of `policy` gets at /etc/cordon/tls (TaskRequest::trust_dir): the
// egress interception CA's trust files, for a policy with an identity section; "" otherwise (tokens.cc).
std::string IdentityTrustDir(const DaemonOptions& opts, const Policy& policy);

// A Submit call in progress (submit.cc): the request and the fds its frame carried.
struct SubmitCall {
  Submission s;
  std::vector<UniqueFd> stdio;  // stdin, stdout, stderr when s.stdio
  std::vector<UniqueFd> bound;  // the caller bindings' fds, in s.fd_bindings order
  uint64_t received_ns = 0;
  int64_t now_ms = 0;
};

// A circuit breaker's admission of one Submit (breaker_calls.cc): which breaker, and whether it
// holds one of its half-open trial slots. Carried with the Submit (SubmitVerdict, ColdBuild) to its
// task, or released when the Submit ends without one.
struct BreakerTicket {
  std::string name;
  bool trial = false;
};

// What a Submit gets: admission's decision, then the daemon's own refusals, or a replay.
struct SubmitVerdict {
  Decision admission;
  std::string fingerprint;
  api::ErrorCode code = api::ERROR_CODE_OK;
  std::string reason;
  std::optional<IdempotencyKey> replay;  // the request_id's earlier task
  int64_t retry_after_ms = 0;  // a governance refusal: when the budget refills (Error.retry_after_ms)
  std::string budget;          // and which budget ran out (Error.budget)
  std::string approval_pending;  // approvals (wip/govc): held for this approval request instead of running
  std::string approval_used;     // approvals: admitted under this approved request
  std::vector<BreakerTicket> breakers;  // the breakers that admitted it (its app's, its domains')
};

// An admitted Submit whose sandbox is being built on the builder's thread (submit.cc BuildCold):
// what its task needs once the build is back. The Submit is answered then.
struct ColdBuild {
  uint64_t conn = 0;  // the connection that submitted it (it may be gone by then)
  uint64_t call_id = 0;
  SubmitCall call;    // its fds stay open here: the build reads the caller bindings' fds
  std::shared_ptr<const Config> cfg;  // the config the verdict's pointers point into
  SubmitVerdict v;
  int64_t decision_id = 0;
  TaskRequest tr;  // its stdio fds are call.stdio's
  std::unique_ptr<Live> prepared;  // what was made ready before the build (token bindings' pipes)
};

// A warm-pool sandbox being built on the builder's thread (pool.cc PrepareOne).
struct PoolBuild {
  std::string policy;
  LoadedPolicy built_for;
};

class Daemon {
 public:
  explicit Daemon(const DaemonOptions& o) : opts_(o) {}
  Result<void> Init();
  void Run();

 private:
  Result<void> Listen();
  void Accept();
  void OnSignals();
  void Reload();
  void BeginStop(bool now);

  void OnConn(Conn& c, uint32_t events);
  void HandleFrame(Conn& c, const std::string& payload);
  void HandleSubmit(Conn& c, uint64_t call_id, const api::SubmitRequest& req);
  // Its steps (submit.cc).
  void ClaimSubmitFds(Conn& c, SubmitCall* call);
  SubmitVerdict JudgeSubmit(const Conn& c, const Config& cfg, const SubmitCall& call);
  void ReplyReplay(Conn& c, uint64_t call_id, int64_t decision_id, const IdempotencyKey& key);
  void StartSubmitted(Conn& c, uint64_t call_id, SubmitCall call, const SubmitVerdict& v, int64_t decision_id);
  // A ready pooled sandbox gets the task into `l`, held before its exec: the sync ticket that
  // releases it (0 without the worker: released already), or 0 with `l` empty when there is no
  // pooled sandbox. Fails only when the decision could not be synced (the task is withdrawn).
  Result<uint64_t> StartPooled(const std::string& name, const LoadedPolicy& lp, const TaskRequest& tr,
                               uint64_t received_ns, Live* l);
  // Opens the bindings and starts (or, with the worker, prepares) a sandbox into `l`; false once
  // it has answered the Submit with why not.
  bool StartCold(Conn& c, uint64_t call_id, const Decision& d, const SubmitCall& call, TaskRequest& tr, Live* l);
  // With the sandbox builder: posts the cold start's build; OnColdBuilt() goes on from there.
  void BuildCold(Conn& c, uint64_t call_id, SubmitCall call, const SubmitVerdict& v, int64_t decision_id,
                 TaskRequest tr, std::unique_ptr<Live> prepared);
  void OnBuilt();  // the builder's eventfd: builds are back
  void OnColdBuilt(ColdBuild cb, BuiltSandbox b);
  void OnPoolBuilt(const PoolBuild& pb, BuiltSandbox b);
  // A started task (pooled, or its sandbox built) becomes live: its row recorded, the Submit's
  // reply sent or held. `c` is nullptr when the submitting connection is gone.
  void AdoptStarted(Conn* c, uint64_t call_id, std::unique_ptr<Live> l, SubmitCall& call, const SubmitVerdict& v,
                    int64_t decision_id, uint64_t release_ticket);
  void RegisterLive(Conn* c, std::unique_ptr<Live> l, api::Response resp, uint64_t release_ticket,
                    std::shared_ptr<const Policy> policy);
  void HandleTaskCall(Conn& c, const api::Request& req);
  void HandleList(Conn& c, uint64_t call_id, const api::ListRequest& req);
  void HandleSessionCall(Conn& c, const api::Request& req);  // budget_gate.cc
  // Governance, operator side (wip/govb, operator_calls.cc; docs/incident-response.md).
  Result<void> InitGovernance();
  void HandleGovernance(Conn& c, const api::Request& req);
  // Admission's governance step: a refusal (code and one line) for a Submit that a freeze holds.
  // Freezes, suspensions, breakers; the breakers' tickets go to v->breakers.
  std::optional<std::pair<api::ErrorCode, std::string>> GovernanceRefusal(const Submission& s, SubmitVerdict* v);
  void GovernedStart(const Live& l, const SubmitVerdict& v);  // a task admitted by GovernanceRefusal starts
  void GovernedAbandon(const SubmitVerdict& v);  // an admitted Submit ends without a task: its tickets go back
  void PruneEnvelopes(int64_t now_ms);  // retention per app/tenant envelope (app_retention.cc)
  void GovernedFinish(const Live& l, const std::string& evidence);  // a task ended: what governance keeps about it
  void BreakerMoved(const governance::BreakerTransition& t);  // evidence, log, database
  // Circuit breakers (breaker_calls.cc).
  std::optional<std::pair<api::ErrorCode, std::string>> BreakerRefusal(const Decision& d, const Submission& s,
                                                                       std::vector<BreakerTicket>* tickets);
  void ReleaseTickets(const std::vector<BreakerTicket>& tickets);
  void BreakerOutcome(const Live& l);
  void HandleBreakers(Conn& c, uint64_t call_id);
  void HandleBreakerMode(Conn& c, uint64_t call_id, const Principal& p, const api::BreakerModeRequest& req);
  void MarkGoverned(api::TaskInfo* t) const;  // TASK_STATE_FROZEN for a frozen task
  // Approvals for side effects (wip/govc, approval_calls.cc; docs/governance.md "Approvals").
  Result<void> InitApprovals();
  // Admission's approval step: false when it decided the Submit (held pending, or refused).
  bool ApprovalGate(const Submission& s, SubmitVerdict* v);
  std::string PendingReason(const SubmitVerdict& v) const;
  void ReplyPending(Conn& c, uint64_t call_id, int64_t decision_id, const Submission& s, const SubmitVerdict& v);
  void ApprovalUsed(const SubmitVerdict& v, int64_t decision_id);
  void HandleApprovalCall(Conn& c, const api::Request& req);
  uint64_t ApprovalNextNs(uint64_t now_ns) const;  // the loop's next approval deadline, 0 = none
  void ApprovalTick(uint64_t now_ns);              // expiries and waiters' timeouts
  // Auto-suspend (wip/govc, suspend_calls.cc; docs/incident-response.md "Auto-suspend").
  Result<void> InitSuspend();
  std::optional<std::pair<api::ErrorCode, std::string>> SuspendRefusal(const Decision& d, const Submission& s);
  void CountViolation(const std::string& app, const std::string& principal, const governance::Violation& v);
  void SuspendOnFinish(const Live& l, const std::string& evidence);
  void SuspendOnRefusal(const Submission& s, const SubmitVerdict& v);
  void HandleSuspendCall(Conn& c, const api::Request& req);
  // ---- identity (tokens.cc, docs/identity.md) ----
  Result<void> InitTokens();
  // Before the sandbox: secrets' placeholders into the request's env, token bindings' pipes. A
  // secret with "source": "caller" is read from the --fd of its name, which `call` then no longer
  // holds (it is never a binding of the task).
  Result<void> PrepareIdentity(const Decision& d, SubmitCall* call, TaskRequest* tr, Live* l);
  // Once the task has its id: mints its tokens, fills the bindings, hands the proxy its credentials.
  void IssueIdentity(Live& l, const Decision& d);
  void HandleTokenVerify(Conn& c, uint64_t call_id, const api::TokenVerifyRequest& req);
  void HandleTokenKeys(Conn& c, uint64_t call_id);
  void HandleTokenMint(Conn& c, uint64_t call_id, const api::TokenMintRequest& req);
  void HandleEvidenceKey(Conn& c, uint64_t call_id);  // evidence (wip/evlog): evidence_calls.cc
  std::optional<token::SigningKey> token_key_;
  // TLS interception (egress/tls_ca.h): the CA, and the verifying context for the file it was
  // built from (daemon.json tls_interception.upstream_ca_file; rebuilt when that changes).
  std::shared_ptr<egress::InterceptCa> tls_ca_;
  std::shared_ptr<const egress::TlsInterception> tls_;
  std::string tls_ca_file_;
  Result<std::shared_ptr<const egress::TlsInterception>> CurrentTls();
  void Reply(Conn& c, const api::Response& resp);
  void ReplyError(Conn& c, uint64_t call_id, api::ErrorCode code, const std::string& msg);
  void FailAndClose(Conn& c, api::ErrorCode code, const std::string& msg);
  void Flush(Conn& c);
  void UpdateEvents(Conn& c);
  void MaybeClose(Conn& c);
  void CloseConn(uint64_t serial);
  // Reading and frame handling (conn.cc): whether `c` may be read now, its frames handled until it
  // may not, and the accounting of its queued replies.
  bool MayRead(const Conn& c) const;
  void HandleFrames(Conn& c);
  void Account(Conn& c);
  bool Idle(const Conn& c) const;
  void ResumeConns();  // handles buffered frames of connections no longer paused
  // Connection limits at accept: "" to admit, else why not (sent to the peer before the close).
  std::string ConnLimit(const PeerCred& peer, bool principal) const;
  void KillAttached(uint64_t conn_serial);
  void KillForGoneClient(Live& l);  // its attached client went: killed, client_gone
  // A reply that must wait until the decision just recorded is on disk: sent by OnSynced() once
  // the sync worker has synced it, or at once when there is no worker (the commit synced it).
  void ReplyWhenDurable(Conn& c, api::Response resp);
  void OnSynced();

  // A cold start's sandbox, built the pool's way (see Live::on_demand); LaunchOnDemand() hands it
  // its task once ready, or answers the Submit if the sandbox ended first.
  Result<std::unique_ptr<Task>> PrepareSandbox(const LoadedPolicy& lp, const TaskRequest& shape);
  void LaunchOnDemand(Live& l);
  // The state walk before such a start (state_before.cc).
  void MeasureStateBefore(Live& l, std::shared_ptr<const Policy> policy);
  void OnStateBefore(Live& l);
  void EndStateWalk(Live& l);
  Result<std::unique_ptr<Task>> StartSandbox(const LoadedPolicy& lp, const TaskRequest& req, uint64_t received_ns);

  // Warm pool (pool.cc).
  // Which policies are pooled (pool_plan_), logged with why a policy named by --pool-policies is
  // not. At start and after each reload.
  void PlanPool();
  void RefillPool();
  uint64_t BackOff(const std::string& policy);  // after a failed build: the pause, in ms
  // Discards pooled sandboxes past --pool-max-age (their mounts and bindings are as old as they
  // are); returns when the next one comes of age, 0 if none.
  uint64_t RetireOldPooled(uint64_t now);
  // Builds (on the builder's thread) or posts one sandbox for the pool; false when it failed at
  // once (backing off).
  bool PrepareOne(const std::string& name, const LoadedPolicy& lp);
  void OnPooled(Pooled& p, int fd);
  void DropPooled(uint64_t serial, const std::string& why);
  // Lets go of a task that is not live (a discarded or withdrawn sandbox): its destructor, which
  // kills what is left and waits for its cgroup to empty, runs on chores_. Unwatch it first.
  void DiscardTask(std::unique_ptr<Task> task);
  // A ready sandbox built for exactly `lp`, removed from the pool; nullptr when there is none.
  std::unique_ptr<Pooled> TakePooled(const std::string& name, const LoadedPolicy& lp);
  // Discards pooled sandboxes whose policy or filter is no longer the config's (or all of them).
  void DiscardStalePool(bool all, const std::string& why);
  uint64_t PoolMemory() const;
  void SyncWatchSet(uint64_t serial, const Task& task, std::set<int>* watched);
  void Unwatch(const std::set<int>& watched);  // takes a task's fds out of the epoll set
  void OnTask(Live& l, int fd);
  void SyncWatches(Live& l);
  void AfterTask(uint64_t serial);
  void RecordFinish(Live& l);
  // Records the database could not take (records.cc, docs/daemon.md "State disk full"): kept in
  // pending_ and the spool, retried every kPendingRetryNs; while any is pending, Submit is refused.
  Result<void> LoadSpool();     // at start: the previous daemon's pending records, written if possible
  void KeepPending(TaskRow row, std::string evidence, const Error& why);
  void FlushPending();          // writes what it can; the rest stays pending
  void SaveSpool();
  const PendingRecord* FindPending(const std::string& id) const;
  // Task `id`'s row wherever it is: running (`*live` set), finished with its record waiting for
  // the database (`*pending` set), or in the store; nullopt when there is none.
  Result<std::optional<TaskRow>> FindTaskRow(const std::string& id, Live** live, const PendingRecord** pending);
  // FindTaskRow for a call of principal `p`: the row when `p` may manage that task; otherwise
  // replies to `call_id` on `c` (internal error, or "not visible", the same answer for a task
  // that does not exist and one that belongs to someone else) and returns nullopt.
  std::optional<TaskRow> FindVisibleTaskRow(Conn& c, uint64_t call_id, const std::string& id, const Principal& p,
                                            Live** live, const PendingRecord** pending);
  // Leftovers of killed supervisors (sweep.cc): dead owners' task cgroups, unheld lease files.
  void SweepLeftovers(bool at_start);
  // The retention in force: a flag's value, else daemon.json's (of the current config), else
  // the default. `why` says where each came from, for the log.
  struct Retention {
    uint64_t days = 0;
    uint64_t tasks = 0;
    std::string why;
  };
  Retention CurrentRetention() const;
  std::string PendingRefusal() const;  // the reason a Submit gets while records are pending
  void AnswerWaiter(const Waiter& w, const TaskRow& row, bool timed_out);
  void RunDeadlines(uint64_t now);
  int NextTimeoutMs(uint64_t now) const;
  // systemd (service_notify.cc): READY/STATUS/WATCHDOG from the loop, each turn.
  void NotifyService(uint64_t now);
  std::string ServiceStatus() const;
  // Metrics (metrics_call.cc, docs/metrics.md): the endpoint, the gauges each turn, the API call.
  Result<void> StartMetrics();
  void UpdateMetricsGauges();
  void NoteMetricsReload();  // metrics_call.cc: a changed metrics.listen needs a restart
  void HandleMetrics(Conn& c, uint64_t call_id);
  Metrics metrics_;
  std::string metrics_listen_;  // the endpoint bound at start ("" = none)

  const DaemonOptions& opts_;
  UniqueFd epoll_, listen_, sigfd_, state_lock_;
  ino_t socket_ino_ = 0;
  systemd::Environment sd_env_;  // LISTEN_FDS, NOTIFY_SOCKET, WATCHDOG_USEC as taken at start
  systemd::Notifier sd_;
  bool sd_ready_ = false;        // READY=1 sent
  std::unique_ptr<Store> store_;
  std::unique_ptr<EvidenceLog> evlog_;  // STATE/evidence-log (docs/evidence.md)
  std::unique_ptr<BudgetGate> budgets_;  // sessions and envelopes (docs/governance.md)
  std::shared_ptr<const Config> config_;
  std::optional<cgroup::Layout> cgroups_;
  uint64_t next_serial_ = 16;
  std::unordered_map<uint64_t, std::unique_ptr<Conn>> conns_;
  std::unordered_map<uint32_t, UidUsage> uid_usage_;
  size_t queued_total_ = 0;        // bytes of replies queued for all peers
  size_t unknown_conns_ = 0;       // connections of uids that are not principals
  std::set<uint64_t> backlog_;     // connections with complete frames buffered, not handled yet
  size_t frame_budget_ = 0;        // frames this loop turn may still handle (kFramesPerLoop)
  // Submits handled this loop turn, by peer uid: past kSubmitsPerUidPerTurn a uid's frames wait
  // for the next turn, so that one uid's burst of cold starts (each some ms of the loop) is taken
  // in turns with the other uids' calls instead of ahead of them.
  std::unordered_map<uint32_t, size_t> submits_this_turn_;
  // Decisions that start no task (refusals, replays) are synced by this worker, off the loop, and
  // answered when it is done (docs/daemon.md "The loop never waits"). nullptr with
  // --decision-sync os, or if it could not start (those syncs then happen at their commit).
  std::unique_ptr<SyncWorker> syncer_;
  struct HeldReply {
    uint64_t ticket = 0;
    uint64_t conn = 0;
    api::Response resp;
  };
  std::deque<HeldReply> held_replies_;  // in ticket order
  // Tasks (pooled, or cold ones built on demand) held before their exec until the worker synced
  // their decision: (ticket, serial).
  std::deque<std::pair<uint64_t, uint64_t>> held_releases_;  // in ticket order
  size_t refused_conns_ = 0;       // connections refused at accept since the last log line
  uint64_t refused_log_ns_ = 0;    // no log line about refused connections before this
  // Measures the state directories of tasks that end (their `state` bindings), off the loop.
  // Declared before live_: the tasks go first.
  StateWalker state_walker_;
  std::unordered_map<uint64_t, std::unique_ptr<Live>> live_;
  std::unordered_map<std::string, uint64_t> live_by_id_;
  std::unordered_map<uint64_t, std::unique_ptr<Pooled>> pool_;
  std::vector<std::string> pool_plan_;  // the pooled policies of the current config
  struct Backoff {
    uint64_t until_ns = 0;
    uint64_t delay_ns = 0;
  };
  std::map<std::string, Backoff> pool_backoff_;  // by policy: a failed build waits before the next
  uint64_t pool_estimate_bytes_ = 1u << 20;      // charge of a sandbox still being built: the last measured
  // Building a sandbox takes a few ms of CPU. It waits until the task started last has ended, or
  // kRefillQuietNs after the first start since the last build, so that the pool does not slow
  // the very task it just served (on a 2-core host python3's start-up lost ~5 ms to it).
  uint64_t refill_not_before_ns_ = 0;
  uint64_t pool_next_retire_ns_ = 0;  // when the oldest pooled sandbox reaches --pool-max-age
  uint64_t last_started_serial_ = 0;
  int64_t last_purge_ms_ = 0;
  std::map<std::string, PendingRecord> pending_;  // by task id
  std::optional<RecordSpool> spool_;
  std::string pending_reason_;                    // the last write failure
  uint64_t pending_retry_ns_ = 0;
  uint64_t next_sweep_ns_ = 0;  // 0: no periodic sweep
  std::shared_ptr<std::atomic<bool>> sweeping_ = std::make_shared<std::atomic<bool>>(false);  // on chores_
  bool stopping_ = false, killed_all_ = false;
  uint64_t stop_kill_at_ = 0, stop_give_up_at_ = 0;
  // Sandboxes being built off the loop, by the serial the loop will know them by (OnBuilt), and
  // the builder (nullptr if it could not start: then they are built on the loop). The builder is
  // declared after what its jobs read, so that it stops first.
  std::unordered_map<uint64_t, ColdBuild> cold_builds_;
  std::unordered_map<uint64_t, PoolBuild> pool_builds_;
  std::unique_ptr<SandboxBuilder> builder_;
  // The slow end of sandboxes the loop lets go of: a discarded pooled sandbox's Task (its
  // destructor kills the cgroup and waits up to 2 s for it to empty) and the periodic sweep of
  // dead supervisors' cgroups. Last: it finishes its jobs first when the daemon goes.
  WorkQueue chores_;
  // Governance (wip/govb): STATE/governance.db, the kill-switch's freezes, running tasks frozen.
  std::unique_ptr<governance::ControlDb> govdb_;
  governance::FreezeTable freezes_;
  std::set<std::string> frozen_tasks_;
  governance::BreakerBoard breakers_;
  // The breakers that admitted each running task, by task id (its Submit's SubmitVerdict.breakers).
  std::unordered_map<std::string, std::vector<BreakerTicket>> task_breaker_;
  // Approvals (wip/govc): the requests, and the ApprovalWait calls waiting on them.
  governance::ApprovalTable approvals_;
  struct ApprovalWaiter {
    uint64_t conn = 0, call_id = 0, deadline_ns = 0;  // deadline 0: none
    std::string id;
  };
  std::vector<ApprovalWaiter> approval_waiters_;
  governance::SuspendBoard suspends_;  // auto-suspend (wip/govc)
};

}  // namespace cordon::daemon::internal
