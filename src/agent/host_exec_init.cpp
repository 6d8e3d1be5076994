#include "agent/host_exec_init.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/io.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "vmm/common/host_exec_layout.hpp"

namespace vmm::agent {
namespace {

constexpr const char* kLower = "/vmm/lower";
constexpr const char* kScratch = "/vmm/rw";
constexpr const char* kRoot = "/vmm/root";
// 9P message size: the largest vmm's server takes.
constexpr const char* kNinePOptions = "trans=virtio,version=9p2000.L,msize=524288";
// Devices appear as their modules load; how long to wait for one.
constexpr auto kDeviceWait = std::chrono::seconds(10);
constexpr unsigned kModuleCompressedFile = 4;  // MODULE_INIT_COMPRESSED_FILE (Linux 5.17)

std::string read_file(std::string_view path) {
  std::ifstream in{std::string(path), std::ios::binary};
  return {std::istreambuf_iterator<char>(in), {}};
}

// Messages go to stderr (ttyS0 once open): vmm passes them on to its own stderr.
void say(const std::string& line) {
  const std::string text = "vmm-init: " + line + "\n";
  (void)!::write(STDERR_FILENO, text.data(), text.size());
}

std::string errno_text() { return std::strerror(errno); }

[[noreturn]] void report_and_power_off(uint32_t status) {
  ::tcdrain(STDOUT_FILENO);
  ::tcdrain(STDERR_FILENO);
  ::sync();
  if (::ioperm(host_exec::kStatusPort, 4, 1) == 0) ::outl(status, host_exec::kStatusPort);
  // Only reached when the port did not end the VM (not vmm): power off instead.
  ::reboot(RB_POWER_OFF);
  for (;;) ::pause();
}

[[noreturn]] void fail(const std::string& what) {
  say(what);
  report_and_power_off(host_exec::kInitFailed);
}

void mount_or_fail(const char* source, const char* target, const char* type, unsigned long flags,
                   const char* data) {
  ::mkdir(target, 0755);
  if (::mount(source, target, type, flags, data) != 0) {
    fail(std::string("mount ") + type + " on " + target + ": " + errno_text());
  }
}

void load_modules() {
  std::istringstream order(read_file(host_exec::kModuleOrderFile));
  for (std::string name; std::getline(order, name);) {
    if (name.empty()) continue;
    const std::string path = std::string(host_exec::kModulesDir) + "/" + name;
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      say("open " + path + ": " + errno_text());
      continue;
    }
    const unsigned flags = name.ends_with(".ko") ? 0 : kModuleCompressedFile;
    if (::syscall(SYS_finit_module, fd, "", flags) != 0 && errno != EEXIST) {
      say("loading " + name + ": " + errno_text());
    }
    ::close(fd);
  }
}

// Opens a device node as `target_fd`, waiting for it to appear; raw, so bytes pass unchanged.
bool open_channel(const char* device, int target_fd, int flags) {
  const auto deadline = std::chrono::steady_clock::now() + kDeviceWait;
  int fd = -1;
  while ((fd = ::open(device, flags | O_NOCTTY)) < 0 &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (fd < 0) return false;
  termios mode{};
  if (::tcgetattr(fd, &mode) == 0) {
    ::cfmakeraw(&mode);
    (void)::tcsetattr(fd, TCSANOW, &mode);
  }
  if (fd != target_fd) {
    ::dup2(fd, target_fd);
    ::close(fd);
  }
  return true;
}

void mount_root_share() {
  ::mkdir(kLower, 0755);
  const std::string tag(host_exec::kRootTag);
  const auto deadline = std::chrono::steady_clock::now() + kDeviceWait;
  while (::mount(tag.c_str(), kLower, "9p", MS_RDONLY, kNinePOptions) != 0) {
    // ENOENT: the virtio-9p channel is not registered yet.
    if (errno != ENOENT || std::chrono::steady_clock::now() >= deadline) {
      fail("mount the share tagged " + tag + " (9p): " + errno_text() +
           (errno == ENODEV ? " (the kernel has no 9p file system)" : ""));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

// The overlay root with the guest's own /proc, /sys, /dev and /run, made the root. /tmp stays
// the host's (under the overlay, so writes stay in the guest): vmm may be running in it.
void enter_overlay_root() {
  mount_or_fail("tmpfs", kScratch, "tmpfs", 0, "mode=0755");
  const std::string upper = std::string(kScratch) + "/upper";
  const std::string work = std::string(kScratch) + "/work";
  ::mkdir(upper.c_str(), 0755);
  ::mkdir(work.c_str(), 0755);
  mount_or_fail("overlay", kRoot, "overlay", 0, overlay_options(kLower, upper, work).c_str());
  for (const char* dir : {"proc", "sys", "dev"}) {
    const std::string target = std::string(kRoot) + "/" + dir;
    ::mkdir(target.c_str(), 0755);
    if (::mount((std::string("/") + dir).c_str(), target.c_str(), nullptr, MS_MOVE, nullptr) != 0) {
      fail("move /" + std::string(dir) + " into the root: " + errno_text());
    }
  }
  const std::string root(kRoot);
  mount_or_fail("tmpfs", (root + "/run").c_str(), "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755");
  mount_or_fail("devpts", (root + "/dev/pts").c_str(), "devpts", MS_NOSUID | MS_NOEXEC,
                "mode=0620,ptmxmode=0666");
  mount_or_fail("tmpfs", (root + "/dev/shm").c_str(), "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777");
  // switch_root's way out of the initramfs (rootfs cannot be pivoted away from).
  if (::chdir(kRoot) != 0 || ::mount(".", "/", nullptr, MS_MOVE, nullptr) != 0 ||
      ::chroot(".") != 0 || ::chdir("/") != 0) {
    fail("enter the root: " + errno_text());
  }
}

bool write_all(int fd, const char* data, size_t size) {
  while (size > 0) {
    const ssize_t n = ::write(fd, data, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

// Moves what `from` holds now to `to`, at most kReadsPerTurn reads of 64 KiB, so that a
// process that never stops writing cannot keep the relay from noticing the command's end.
// False at end of file (or an error: nothing more comes).
constexpr size_t kReadsPerTurn = 16;
bool relay_available(int from, int to) {
  std::array<char, size_t{64} * 1024> buffer{};
  for (size_t reads = 0; reads < kReadsPerTurn; ++reads) {
    const ssize_t n = ::read(from, buffer.data(), buffer.size());
    if (n > 0) {
      (void)write_all(to, buffer.data(), static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    return n < 0 && errno == EAGAIN;
  }
  return true;
}

// Relays the command's stdout and stderr pipes to fds 1 and 2 until the command ends, reaping
// every orphan on the way; then what the pipes still hold. A background process that keeps
// a pipe open does not hold up the end. Returns the command's shell status.
int relay_until_exit(pid_t child, int out, int err) {
  for (const int fd : {out, err}) ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  // Readable when the command ends; without it (Linux before 5.3) poll wakes up every 50 ms.
  const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, child, 0));
  std::array<pollfd, 3> fds{{{out, POLLIN, 0}, {err, POLLIN, 0}, {pidfd, POLLIN, 0}}};
  for (;;) {
    (void)::poll(fds.data(), fds.size(), pidfd >= 0 ? -1 : 50);
    for (size_t i = 0; i < 2; ++i) {
      if (fds[i].fd >= 0 && fds[i].revents != 0 &&
          !relay_available(fds[i].fd, static_cast<int>(i) + 1)) {
        fds[i].fd = -1;  // end of file: poll ignores it from now on
      }
    }
    int status = 0;
    pid_t pid = 0;
    while ((pid = ::waitpid(-1, &status, WNOHANG)) > 0) {
      if (pid != child) continue;
      (void)relay_available(out, STDOUT_FILENO);
      (void)relay_available(err, STDERR_FILENO);
      return shell_status(status);
    }
    if (pid < 0 && errno == ECHILD) fail("lost the command's process");
  }
}

}  // namespace

bool is_host_exec_initramfs() {
  return ::access(std::string(host_exec::kCommandFile).c_str(), F_OK) == 0;
}

int shell_status(int wait_status) noexcept {
  if (WIFSIGNALED(wait_status)) return 128 + WTERMSIG(wait_status);
  return WEXITSTATUS(wait_status);
}

std::string overlay_options(std::string_view lower, std::string_view upper, std::string_view work) {
  return "lowerdir=" + std::string(lower) + ",upperdir=" + std::string(upper) +
         ",workdir=" + std::string(work);
}

void run_host_exec_init() {
  // Read before the initramfs leaves view.
  const std::string command = read_file(host_exec::kCommandFile);
  const std::string cwd = read_file(host_exec::kCwdFile);
  ::mkdir("/dev", 0755);
  (void)::mount("devtmpfs", "/dev", "devtmpfs", MS_NOSUID, "mode=0755");
  (void)::mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr);
  (void)::mount("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr);
  if (!open_channel("/dev/null", STDIN_FILENO, O_RDONLY)) {
    report_and_power_off(host_exec::kInitFailed);
  }
  // ttyS0 is built into every kernel vmm boots; hvc0 may come with virtio_console's module.
  (void)open_channel("/dev/ttyS0", STDERR_FILENO, O_WRONLY);
  load_modules();
  if (!open_channel("/dev/hvc0", STDOUT_FILENO, O_WRONLY)) {
    fail("no /dev/hvc0 (the kernel needs virtio-console and virtio-pci)");
  }
  mount_root_share();
  enter_overlay_root();
  if (::chdir(cwd.c_str()) != 0) {
    say("cannot enter " + cwd + " in the guest (" + errno_text() + "); running in /");
    (void)::chdir("/");
  }
  // The command writes into pipes that PID 1 relays to hvc0 and ttyS0 in large writes: on a
  // tty most programs would write (and cost a round trip to the host) line by line.
  std::array<int, 2> out{-1, -1};
  std::array<int, 2> err{-1, -1};
  if (::pipe2(out.data(), O_CLOEXEC) != 0 || ::pipe2(err.data(), O_CLOEXEC) != 0) {
    fail("pipe: " + errno_text());
  }
  const pid_t child = ::fork();
  if (child < 0) fail("fork: " + errno_text());
  if (child == 0) {
    ::setsid();
    ::dup2(out[1], STDOUT_FILENO);
    ::dup2(err[1], STDERR_FILENO);
    const char* env[] = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                         "HOME=/root",
                         "USER=root",
                         "LOGNAME=root",
                         "SHELL=/bin/sh",
                         nullptr};
    const char* argv[] = {"sh", "-c", command.c_str(), nullptr};
    ::execve("/bin/sh", const_cast<char* const*>(argv), const_cast<char* const*>(env));
    say("cannot run /bin/sh in the shared root: " + errno_text());
    _exit(127);
  }
  ::close(out[1]);
  ::close(err[1]);
  report_and_power_off(static_cast<uint32_t>(relay_until_exit(child, out[0], err[0])));
}

}  // namespace vmm::agent
