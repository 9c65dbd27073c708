// tests/support/run.h: run the real `cordon` binary (or any program) and capture what it printed.
#pragma once

#include <string>
#include <vector>

#include "tests/support/host.h"  // REQUIRE_SANDBOX(): skip only for a missing host feature

namespace cordon::test {

struct RunResult {
  int exit_code = -1;   // exit status, or 128+signal
  std::string out, err;
  bool timed_out = false;
};

struct RunOptions {
  std::string stdin_data;
  std::vector<std::string> env;  // full environment of the child; empty = inherit ours
  int timeout_ms = 60000;        // killed past this, and timed_out is set (a test never hangs)
};

RunResult RunProgram(const std::vector<std::string>& argv, const RunOptions& opts = {});
// build/bin/cordon SUBCOMMAND ARGS... (cordon seccomp lint ..., cordon policy diff ...).
RunResult CordonCommand(const std::string& subcommand, const std::vector<std::string>& args);

// `s` without its trailing newlines and spaces (a command's one-line answer).
inline std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

// Path of a built file: BuildPath("bin/cordon").
std::string BuildPath(const std::string& rel);
// The pooled.* run of the isolation and security tests (tests/CMakeLists.txt): CORDON_TEST_CLI
// names tests/cordon-pooled, a `cordon` whose run builds the sandbox the warm pool's way, and
// BuildPath("bin/cordon") gives it.
bool PooledRun();
std::string SourcePath(const std::string& rel);

// `cordon run [extra...] -- cmd...`
RunResult CordonRun(const std::vector<std::string>& cmd, const std::vector<std::string>& extra = {},
                    const RunOptions& opts = {});

// Writes `text` to a fresh file under a private temp dir and returns its path.
std::string WriteTempFile(const std::string& name, const std::string& text);
// An empty directory `name`-PID beside the files WriteTempFile writes (emptied if it was there).
std::string FreshTempDir(const std::string& name);

bool IsRoot();

// The last line of a run's stdout: the evidence record of `cordon run --evidence -`.
std::string EvidenceLine(const RunResult& r);

// Our environment plus one "K=V" (for RunOptions::env).
std::vector<std::string> EnvWith(const std::string& kv);

// Parses one JSON evidence line, returning the value at a '/'-separated path as text ("" if absent).
std::string JsonField(const std::string& json_line, const std::string& path);

}  // namespace cordon::test
