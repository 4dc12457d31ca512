#include "core/subprocess.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

extern char** environ;

namespace crs {
namespace {

int decode_status(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

std::vector<std::string> child_environment(const SpawnOptions& o) {
  std::vector<std::string> env;
  auto name_of = [](const std::string& kv) { return kv.substr(0, kv.find('=')); };
  auto overridden = [&](const std::string& name) {
    for (const auto& kv : o.env)
      if (name_of(kv) == name) return true;
    for (const auto& n : o.unset_env)
      if (n == name) return true;
    return false;
  };
  for (char** e = environ; e && *e; ++e) {
    std::string kv(*e);
    if (!overridden(name_of(kv))) env.push_back(std::move(kv));
  }
  env.insert(env.end(), o.env.begin(), o.env.end());
  return env;
}

}  // namespace

Result<Subprocess> Subprocess::spawn(const SpawnOptions& o) {
  if (o.argv.empty()) return Error{"spawn: empty argv"};
  // Everything the child needs is prepared before fork: after fork only async-signal-safe calls.
  std::vector<std::string> env = child_environment(o);
  std::vector<char*> argv, envp;
  for (const auto& a : o.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  for (auto& kv : env) envp.push_back(kv.data());
  envp.push_back(nullptr);

  int report[2];  // the child writes errno here if exec fails; CLOEXEC closes it on success
  if (pipe2(report, O_CLOEXEC) != 0) return Error{std::string("pipe: ") + std::strerror(errno)};
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) {
    int err = errno;
    close(report[0]);
    close(report[1]);
    return Error{std::string("fork: ") + std::strerror(err)};
  }
  if (pid == 0) {
    close(report[0]);
    if (o.die_with_parent) {
      prctl(PR_SET_PDEATHSIG, SIGTERM);
      if (getppid() != parent) _exit(127);
    }
    setpgid(0, 0);  // a Ctrl-C on our terminal reaches us, and we decide how the child stops
    auto fail = [&](int err) {
      ssize_t ignored = write(report[1], &err, sizeof err);
      (void)ignored;
      _exit(127);
    };
    if (!o.cwd.empty() && chdir(o.cwd.c_str()) != 0) fail(errno);
    if (!o.stdout_path.empty()) {
      int fd = open(o.stdout_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
      if (fd < 0) fail(errno);
      dup2(fd, STDOUT_FILENO);
      if (o.stderr_path == "=stdout") dup2(fd, STDERR_FILENO);
      close(fd);
    }
    if (!o.stderr_path.empty() && o.stderr_path != "=stdout") {
      int fd = open(o.stderr_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
      if (fd < 0) fail(errno);
      dup2(fd, STDERR_FILENO);
      close(fd);
    }
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) dup2(devnull, STDIN_FILENO);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    execvpe(argv[0], argv.data(), envp.data());
    fail(errno);
  }
  close(report[1]);
  int child_errno = 0;
  ssize_t n;
  do {
    n = read(report[0], &child_errno, sizeof child_errno);
  } while (n < 0 && errno == EINTR);
  close(report[0]);
  if (n == sizeof child_errno) {
    int status;
    waitpid(pid, &status, 0);
    return Error{"cannot start '" + o.argv[0] + "': " + std::strerror(child_errno)};
  }
  return Subprocess(pid);
}

Subprocess::Subprocess(Subprocess&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)), exit_code_(other.exit_code_) {}

Subprocess& Subprocess::operator=(Subprocess&& other) noexcept {
  if (this != &other) {
    if (running()) terminate(std::chrono::seconds(2));
    pid_ = std::exchange(other.pid_, -1);
    exit_code_ = other.exit_code_;
  }
  return *this;
}

Subprocess::~Subprocess() {
  if (running()) terminate(std::chrono::seconds(2));
}

std::optional<int> Subprocess::poll() {
  if (pid_ <= 0 || exit_code_) return exit_code_;
  int status = 0;
  pid_t r = waitpid(pid_, &status, WNOHANG);
  if (r == pid_) exit_code_ = decode_status(status);
  return exit_code_;
}

std::optional<int> Subprocess::wait_for(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!poll()) {
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return exit_code_;
}

bool Subprocess::send_signal(int sig) const { return pid_ > 0 && !exit_code_ && ::kill(pid_, sig) == 0; }

int Subprocess::terminate(std::chrono::milliseconds grace) {
  if (!running()) return exit_code_.value_or(-1);
  send_signal(SIGTERM);
  if (auto code = wait_for(grace)) return *code;
  send_signal(SIGKILL);
  return wait_for(std::chrono::seconds(10)).value_or(-1);
}

}  // namespace crs
