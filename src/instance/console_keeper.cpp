#include "instance/console_keeper.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <fstream>
#include <string>

#include "container/console_socket.hpp"
#include "vmm/common/error.hpp"
#include "vmm/common/unique_fd.hpp"

namespace vmm::instance {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr auto kStartLimit = std::chrono::minutes(1);
constexpr int kPollMs = 100;
// A console that grows past this starts over: the log is for reading, not for keeping.
constexpr off_t kLogLimit = off_t{16} * 1024 * 1024;

// The init's pid once the runtime wrote it; 0 before.
pid_t read_pid(const fs::path& pid_file) {
  std::ifstream in(pid_file);
  long pid = 0;
  if (!(in >> pid) || pid <= 1) return 0;
  return static_cast<pid_t>(pid);
}

// Appends console output to the log, with the terminal's CR LF line ends as LF.
void append(int log_fd, const char* data, size_t size) {
  std::array<char, 4096> out{};
  size_t used = 0;
  for (size_t i = 0; i < size; ++i) {
    if (data[i] == '\r' && i + 1 < size && data[i + 1] == '\n') continue;
    out[used++] = data[i];
  }
  struct stat st {};
  if (::fstat(log_fd, &st) == 0 && st.st_size > kLogLimit) (void)!::ftruncate(log_fd, 0);
  (void)!::write(log_fd, out.data(), used);
}

// Reads what the terminal has; false once it has nothing more to give.
bool drain(int master, int log_fd) {
  std::array<char, 4096> buffer{};
  const ssize_t n = ::read(master, buffer.data(), buffer.size());
  if (n <= 0) return n < 0 && (errno == EAGAIN || errno == EINTR);
  append(log_fd, buffer.data(), static_cast<size_t>(n));
  return true;
}

int keep(int listen_fd, const fs::path& log, const fs::path& pid_file) {
  const auto deadline = Clock::now() + kStartLimit;
  pollfd waiting{listen_fd, POLLIN, 0};
  if (::poll(&waiting, 1, static_cast<int>(std::chrono::milliseconds(kStartLimit).count())) <= 0) {
    return 1;
  }
  const UniqueFd connection(::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC));
  if (!connection) return 1;
  const UniqueFd master = container::receive_console(connection.get());
  if (!master) return 0;  // the start failed before the container had a console
  ::close(listen_fd);
  // The other end, held so that the console stays up while nothing else has it open.
  const UniqueFd peer(::ioctl(master.get(), TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC));
  const UniqueFd log_fd(::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640));
  if (!log_fd) return 1;
  ::fcntl(master.get(), F_SETFL, ::fcntl(master.get(), F_GETFL) | O_NONBLOCK);

  UniqueFd init;
  while (true) {
    if (!init) {
      if (const pid_t pid = read_pid(pid_file); pid != 0) {
        init.reset(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
        if (!init) return 0;  // it already ended
      } else if (Clock::now() > deadline) {
        return 1;
      }
    }
    std::array<pollfd, 2> fds{pollfd{master.get(), POLLIN, 0}, pollfd{init.get(), POLLIN, 0}};
    const int ready = ::poll(fds.data(), init ? 2 : 1, kPollMs);
    if (ready < 0 && errno != EINTR) return 1;
    if ((fds[0].revents & POLLIN) != 0 && !drain(master.get(), log_fd.get())) return 0;
    if (init && (fds[1].revents & POLLIN) != 0) {
      // The init ended: what it wrote last is still in the terminal.
      std::array<char, 4096> buffer{};
      ssize_t n = 0;
      while ((n = ::read(master.get(), buffer.data(), buffer.size())) > 0) {
        append(log_fd.get(), buffer.data(), static_cast<size_t>(n));
      }
      return 0;
    }
  }
}

}  // namespace

int console_keeper_main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: vmm console-keeper LOG PID_FILE (stdin: a listening socket)\n");
    return 2;
  }
  // The starter waits for this process; the keeping goes on in a child of a new session.
  const pid_t child = ::fork();
  if (child < 0) return 1;
  if (child > 0) return 0;
  ::setsid();
  const int status = keep(STDIN_FILENO, argv[1], argv[2]);
  ::_exit(status);
}

}  // namespace vmm::instance
