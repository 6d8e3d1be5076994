#include "vmm/confine/thread_seccomp.hpp"

#include <fcntl.h>
#include <seccomp.h>
#include <spdlog/spdlog.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <memory>
#include <mutex>
#include <string>

#include "vmm/common/error.hpp"

namespace vmm::confine {
namespace {

using namespace std::string_view_literals;

// What every thread does: memory, locks, time, logging, its own signals and its end. mmap and
// mprotect are further limited to mappings without PROT_EXEC (below): no new code, ever.
constexpr std::string_view kCommon[] = {
    "read"sv,
    "readv"sv,
    "write"sv,
    "writev"sv,
    "close"sv,
    "futex"sv,
    "exit"sv,
    "exit_group"sv,
    "rt_sigreturn"sv,
    "rt_sigprocmask"sv,
    "sigaltstack"sv,
    "madvise"sv,
    "munmap"sv,
    "brk"sv,
    "mremap"sv,
    "clock_gettime"sv,
    "clock_nanosleep"sv,
    "nanosleep"sv,
    "gettimeofday"sv,
    "gettid"sv,
    "getpid"sv,
    "sched_yield"sv,
    "restart_syscall"sv,
    "getrandom"sv,
    "tgkill"sv,
    "fstat"sv,
    "newfstatat"sv,
    "fcntl"sv,
    "poll"sv,
    "ppoll"sv,
    "epoll_wait"sv,
    "epoll_pwait"sv,
    "epoll_pwait2"sv,
    "epoll_ctl"sv,
    "eventfd2"sv,
    "timerfd_settime"sv,
    "timerfd_gettime"sv,
};

// KVM_RUN and the exits it serves; virtio transports configure devices from here (eventfds,
// TAP offloads, vhost-net's rings), so ioctl stays (its requests are not filtered). The first
// device a guest activates may make the event loop's reactor (asio makes it on first use):
// an epoll fd and a timerfd.
constexpr std::string_view kVcpu[] = {"ioctl"sv, "epoll_create1"sv, "timerfd_create"sv};

// Virtqueues, TAP queues (ioctl), io_uring submissions, vhost-net, libslirp's and vsock's
// sockets (socket() itself is limited to AF_UNIX, AF_INET and AF_INET6 below). libslirp
// rereads /etc/resolv.conf when it changes, so openat stays, read-only (below).
constexpr std::string_view kDeviceLoop[] = {
    "ioctl"sv,       "io_uring_enter"sv,   "timerfd_create"sv, "recvfrom"sv,
    "recvmsg"sv,     "sendto"sv,           "sendmsg"sv,        "connect"sv,
    "bind"sv,        "listen"sv,           "accept"sv,         "accept4"sv,
    "shutdown"sv,    "getsockopt"sv,       "setsockopt"sv,     "getsockname"sv,
    "getpeername"sv, "preadv"sv,           "pwritev"sv,        "pread64"sv,
    "pwrite64"sv,    "fdatasync"sv,        "fsync"sv,          "fallocate"sv,
    "socket"sv,      "openat-read-only"sv,
};

// The blocking path of disk I/O (io_uring's completions are the device loop's): positioned
// I/O, flushes, discards (fallocate, BLKDISCARD on a block device), the snapshot overlay
// growing.
constexpr std::string_view kBlockIo[] = {
    "pread64"sv, "pwrite64"sv,  "preadv"sv,    "pwritev"sv,   "preadv2"sv, "pwritev2"sv,
    "fsync"sv,   "fdatasync"sv, "fallocate"sv, "ftruncate"sv, "ioctl"sv,
};

// The API's Unix socket; pause (kicks vCPUs) and the power button (an interrupt line).
constexpr std::string_view kApi[] = {
    "accept"sv,      "accept4"sv,  "recvfrom"sv,       "recvmsg"sv,    "sendto"sv,
    "sendmsg"sv,     "shutdown"sv, "getsockopt"sv,     "setsockopt"sv, "getsockname"sv,
    "getpeername"sv, "ioctl"sv,    "timerfd_create"sv,
};

// The terminal: raw mode and window size are ioctls.
constexpr std::string_view kConsole[] = {"ioctl"sv};

// A file server under one directory: the *at family, relative to descriptors it holds.
constexpr std::string_view kFileServer[] = {
    "openat"sv,    "openat2"sv,    "mkdirat"sv,   "mknodat"sv,      "unlinkat"sv,  "renameat"sv,
    "renameat2"sv, "linkat"sv,     "symlinkat"sv, "readlinkat"sv,   "fchmod"sv,    "fchmodat"sv,
    "fchown"sv,    "fchownat"sv,   "utimensat"sv, "getdents64"sv,   "ftruncate"sv, "fallocate"sv,
    "fsync"sv,     "fdatasync"sv,  "statfs"sv,    "fstatfs"sv,      "statx"sv,     "lseek"sv,
    "pread64"sv,   "pwrite64"sv,   "preadv"sv,    "pwritev"sv,      "faccessat"sv, "faccessat2"sv,
    "fgetxattr"sv, "flistxattr"sv, "fsetxattr"sv, "fremovexattr"sv, "dup"sv,       "flock"sv,
};

}  // namespace

std::span<const std::string_view> allowed_syscalls(ThreadKind kind) {
  switch (kind) {
    case ThreadKind::kVcpu:
      return kVcpu;
    case ThreadKind::kDeviceLoop:
      return kDeviceLoop;
    case ThreadKind::kBlockIo:
      return kBlockIo;
    case ThreadKind::kApi:
      return kApi;
    case ThreadKind::kConsole:
      return kConsole;
    case ThreadKind::kFileServer:
      return kFileServer;
  }
  return {};
}

namespace {

std::atomic<SeccompMode> g_mode{SeccompMode::kOff};
// allow_dropping_to(): set once, before the threads it concerns start.
std::atomic<bool> g_drop_allowed{false};
uint32_t g_drop_uid = 0;
uint32_t g_drop_gid = 0;

// Read by the SIGSYS handler: plain data, filled before any filter is loaded.
constexpr size_t kMaxSyscall = 512;
constexpr size_t kNameBytes = 32;
std::array<std::array<char, kNameBytes>, kMaxSyscall> g_syscall_names{};
thread_local const char* t_kind_name = "unconfined";

void fill_syscall_names() {
  for (size_t nr = 0; nr < kMaxSyscall; ++nr) {
    // libseccomp hands back a malloc'd string.
    const std::unique_ptr<char, decltype(&std::free)> name(
        seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, static_cast<int>(nr)), &std::free);
    if (name) std::strncpy(g_syscall_names[nr].data(), name.get(), kNameBytes - 1);
  }
}

// Async-signal-safe: writes with write(2) from fixed buffers, then ends the process.
void append(char*& at, const char* end, const char* text) {
  while (*text != '\0' && at < end) *at++ = *text++;
}

void on_sigsys(int /*signo*/, siginfo_t* info, void* /*context*/) {
  std::array<char, 256> line{};
  char* at = line.data();
  const char* end = line.data() + line.size() - 1;
  append(at, end, "vmm: error: seccomp: the ");
  append(at, end, t_kind_name);
  append(at, end, " thread made a forbidden system call: ");
  const int nr = info->si_syscall;
  if (nr >= 0 && static_cast<size_t>(nr) < kMaxSyscall && g_syscall_names[nr][0] != '\0') {
    append(at, end, g_syscall_names[nr].data());
  }
  std::array<char, 16> digits{};
  size_t n = 0;
  for (unsigned v = static_cast<unsigned>(nr < 0 ? 0 : nr); n == 0 || v != 0; v /= 10) {
    digits[n++] = static_cast<char>('0' + v % 10);
  }
  append(at, end, " (");
  while (n > 0) {
    const char digit[2] = {digits[--n], '\0'};
    append(at, end, digit);
  }
  append(at, end, "); stopping (--seccomp log finds what a feature needs)\n");
  [[maybe_unused]] const auto written = ::write(STDERR_FILENO, line.data(), at - line.data());
  ::syscall(SYS_exit_group, kSeccompExitStatus);
}

void install_sigsys_handler() {
  struct sigaction action {};
  action.sa_sigaction = on_sigsys;
  action.sa_flags = SA_SIGINFO;
  sigemptyset(&action.sa_mask);
  if (::sigaction(SIGSYS, &action, nullptr) != 0) throw system_error("sigaction(SIGSYS)", errno);
}

struct FilterDeleter {
  void operator()(scmp_filter_ctx ctx) const noexcept { seccomp_release(ctx); }
};

void allow(scmp_filter_ctx ctx, std::string_view name) {
  constexpr std::string_view kReadOnly = "-read-only";
  const bool read_only = name.ends_with(kReadOnly);
  if (read_only) name.remove_suffix(kReadOnly.size());
  const std::string n(name);
  const int nr = seccomp_syscall_resolve_name(n.c_str());
  if (nr == __NR_SCMP_ERROR) return;  // not on this architecture or libseccomp
  int rc = 0;
  if (read_only) {  // openat(dirfd, path, flags): no writing, creating or truncating
    rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 1,
                          SCMP_A2(SCMP_CMP_MASKED_EQ, O_ACCMODE | O_CREAT | O_TRUNC, O_RDONLY));
  } else if (name == "mmap" || name == "mprotect") {
    rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 1, SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
  } else if (name == "socket") {
    for (const scmp_datum_t domain : {AF_UNIX, AF_INET, AF_INET6}) {
      rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 1, SCMP_A0(SCMP_CMP_EQ, domain));
      if (rc != 0) break;
    }
  } else {
    rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
  }
  if (rc != 0) throw Error("cannot allow " + n + ": " + std::strerror(-rc));
}

// The calls glibc's setgroups(0, NULL), setresgid and setresuid make in every thread (the
// process-wide id change), for the jail's ids only.
void allow_the_drop(scmp_filter_ctx ctx) {
  const auto add = [ctx](const char* name, unsigned count, const scmp_arg_cmp* cmp) {
    const int nr = seccomp_syscall_resolve_name(name);
    if (nr == __NR_SCMP_ERROR) return;
    const int rc = seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, nr, count, cmp);
    if (rc != 0) throw Error(std::string("cannot allow ") + name + ": " + std::strerror(-rc));
  };
  const std::array<scmp_arg_cmp, 3> uid = {SCMP_A0(SCMP_CMP_EQ, g_drop_uid),
                                           SCMP_A1(SCMP_CMP_EQ, g_drop_uid),
                                           SCMP_A2(SCMP_CMP_EQ, g_drop_uid)};
  const std::array<scmp_arg_cmp, 3> gid = {SCMP_A0(SCMP_CMP_EQ, g_drop_gid),
                                           SCMP_A1(SCMP_CMP_EQ, g_drop_gid),
                                           SCMP_A2(SCMP_CMP_EQ, g_drop_gid)};
  const std::array<scmp_arg_cmp, 1> no_groups = {SCMP_A0(SCMP_CMP_EQ, 0)};
  add("setresuid", 3, uid.data());
  add("setresgid", 3, gid.data());
  add("setgroups", 1, no_groups.data());
}

}  // namespace

std::string_view to_string(ThreadKind kind) noexcept {
  switch (kind) {
    case ThreadKind::kVcpu:
      return "vcpu";
    case ThreadKind::kDeviceLoop:
      return "device-loop";
    case ThreadKind::kBlockIo:
      return "block-io";
    case ThreadKind::kApi:
      return "api";
    case ThreadKind::kConsole:
      return "console";
    case ThreadKind::kFileServer:
      return "file-server";
  }
  return "unknown";
}

std::string_view to_string(SeccompMode mode) noexcept {
  switch (mode) {
    case SeccompMode::kKill:
      return "kill";
    case SeccompMode::kLog:
      return "log";
    case SeccompMode::kOff:
      return "off";
  }
  return "unknown";
}

std::optional<SeccompMode> parse_seccomp_mode(std::string_view text) noexcept {
  for (const SeccompMode m : {SeccompMode::kKill, SeccompMode::kLog, SeccompMode::kOff}) {
    if (text == to_string(m)) return m;
  }
  return std::nullopt;
}

void set_seccomp_mode(SeccompMode mode) {
  static std::once_flag prepared;
  if (mode != SeccompMode::kOff) {
    std::call_once(prepared, [] {
      fill_syscall_names();
      install_sigsys_handler();
      // glibc reads /etc/localtime on the first local-time conversion; do it here, not in a
      // confined thread (which may not open files).
      ::tzset();
    });
  }
  g_mode.store(mode);
}

SeccompMode seccomp_mode() noexcept { return g_mode.load(); }

void allow_dropping_to(uint32_t uid, uint32_t gid) noexcept {
  g_drop_uid = uid;
  g_drop_gid = gid;
  g_drop_allowed.store(true);
}

void dropping_done() noexcept { g_drop_allowed.store(false); }

void confine_this_thread(ThreadKind kind) noexcept {
  // Named for ps, top and the kernel's seccomp log (vCPU and API threads have names already).
  if (kind != ThreadKind::kVcpu && kind != ThreadKind::kApi) {
    const std::string name = "vmm-" + std::string(to_string(kind));
    ::prctl(PR_SET_NAME, name.c_str(), 0, 0, 0);
  }
  const SeccompMode mode = g_mode.load();
  if (mode == SeccompMode::kOff) return;
  try {
    const uint32_t deny = mode == SeccompMode::kKill ? SCMP_ACT_TRAP : SCMP_ACT_LOG;
    const std::unique_ptr<void, FilterDeleter> ctx(seccomp_init(deny));
    if (!ctx) throw Error("cannot make a filter");
    for (const std::string_view name : kCommon) allow(ctx.get(), name);
    allow(ctx.get(), "mmap");
    allow(ctx.get(), "mprotect");
    for (const std::string_view name : allowed_syscalls(kind)) allow(ctx.get(), name);
    if (g_drop_allowed.load()) allow_the_drop(ctx.get());
    // Also sets no_new_privs for this thread (libseccomp's default), so nothing it could
    // exec would gain privileges either.
    t_kind_name = to_string(kind).data();
    const int rc = seccomp_load(ctx.get());
    if (rc != 0) throw Error(std::string("the kernel refused it: ") + std::strerror(-rc));
  } catch (const std::exception& e) {
    spdlog::critical("seccomp: cannot confine the {} thread: {} (--seccomp off runs unconfined)",
                     to_string(kind), e.what());
    std::_Exit(1);
  }
}

}  // namespace vmm::confine
