#pragma once
#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "core/result.hpp"

namespace crs {

struct SpawnOptions {
  std::vector<std::string> argv;            // argv[0] is looked up in PATH
  std::vector<std::string> env;             // "NAME=value" pairs added to (or replacing) ours
  std::vector<std::string> unset_env;       // names removed from the inherited environment
  std::string stdout_path;                  // empty: inherit
  std::string stderr_path;                  // empty: inherit; "=stdout": same file as stdout
  std::string cwd;                          // empty: inherit
  bool die_with_parent = true;              // PR_SET_PDEATHSIG: no orphan survives us
};

// A child process we started and own. Destroying a running one terminates it.
class Subprocess {
 public:
  static Result<Subprocess> spawn(const SpawnOptions& options);

  Subprocess(Subprocess&& other) noexcept;
  Subprocess& operator=(Subprocess&& other) noexcept;
  Subprocess(const Subprocess&) = delete;
  Subprocess& operator=(const Subprocess&) = delete;
  ~Subprocess();

  pid_t pid() const { return pid_; }
  bool running() const { return pid_ > 0 && !exit_code_; }

  // Exit code if the process has ended (128+signal when killed by a signal). Never blocks.
  std::optional<int> poll();
  // Blocks until the process ends or `timeout` passes.
  std::optional<int> wait_for(std::chrono::milliseconds timeout);
  bool send_signal(int sig) const;
  // SIGTERM, then SIGKILL after `grace`; returns the exit code.
  int terminate(std::chrono::milliseconds grace = std::chrono::seconds(5));

 private:
  explicit Subprocess(pid_t pid) : pid_(pid) {}
  pid_t pid_ = -1;
  std::optional<int> exit_code_;
};

}  // namespace crs
