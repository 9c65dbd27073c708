// tests/support/background.h: a program (usually `cordon run`) left running while the test looks
// at it from the host. The test waits on what the program prints (ReadLine), never on a sleep, and
// ends it by closing its stdin or by a signal. Killed (SIGKILL) and reaped when destroyed.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "common/unique_fd.h"

namespace cordon::test {

class Background {
 public:
  // Starts argv[0] (an absolute path) with its stdin and stdout on pipes of ours; stderr is kept
  // and returned by Wait(). `env` empty: inherit ours.
  explicit Background(const std::vector<std::string>& argv, const std::vector<std::string>& env = {});
  ~Background();
  Background(const Background&) = delete;
  Background& operator=(const Background&) = delete;

  pid_t pid() const { return pid_; }
  bool started() const { return pid_ > 0; }

  // The next line of its stdout without the '\n', or nullopt at EOF or after `limit`.
  std::optional<std::string> ReadLine(std::chrono::milliseconds limit = std::chrono::seconds(30));
  void CloseStdin() { in_.Reset(); }

  struct Ended {
    int exit_code = -1;   // exit status, or 128+signal; -1 if it did not end within the limit
    std::string out;      // what it printed after the lines read by ReadLine
    std::string err;
  };
  // Waits for it to end (killed with SIGKILL after `limit`).
  Ended Wait(std::chrono::milliseconds limit = std::chrono::seconds(60));

 private:
  pid_t pid_ = -1;
  UniqueFd in_, out_, err_;
  std::string buf_, err_text_;
};

}  // namespace cordon::test
