#include "container/seccomp_filter.hpp"

#include <errno.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <memory>

#include "vmm/common/error.hpp"
#include "vmm/common/unique_fd.hpp"

namespace vmm::container {
namespace {

struct CtxDeleter {
  void operator()(scmp_filter_ctx ctx) const noexcept { seccomp_release(ctx); }
};
using Ctx = std::unique_ptr<void, CtxDeleter>;

uint32_t to_action(const std::string& name, std::optional<uint32_t> errno_ret) {
  if (name == "SCMP_ACT_ALLOW") return SCMP_ACT_ALLOW;
  if (name == "SCMP_ACT_ERRNO") return SCMP_ACT_ERRNO(errno_ret.value_or(EPERM));
  if (name == "SCMP_ACT_KILL" || name == "SCMP_ACT_KILL_THREAD") return SCMP_ACT_KILL;
  if (name == "SCMP_ACT_KILL_PROCESS") return SCMP_ACT_KILL_PROCESS;
  if (name == "SCMP_ACT_TRAP") return SCMP_ACT_TRAP;
  if (name == "SCMP_ACT_LOG") return SCMP_ACT_LOG;
  if (name == "SCMP_ACT_TRACE") return SCMP_ACT_TRACE(errno_ret.value_or(EPERM));
  throw ConfigError("config.json: linux.seccomp: unsupported action '" + name + "'");
}

scmp_compare to_op(const std::string& op) {
  if (op == "SCMP_CMP_NE") return SCMP_CMP_NE;
  if (op == "SCMP_CMP_LT") return SCMP_CMP_LT;
  if (op == "SCMP_CMP_LE") return SCMP_CMP_LE;
  if (op == "SCMP_CMP_EQ") return SCMP_CMP_EQ;
  if (op == "SCMP_CMP_GE") return SCMP_CMP_GE;
  if (op == "SCMP_CMP_GT") return SCMP_CMP_GT;
  if (op == "SCMP_CMP_MASKED_EQ") return SCMP_CMP_MASKED_EQ;
  throw ConfigError("config.json: linux.seccomp: unsupported operator '" + op + "'");
}

uint32_t to_arch(const std::string& name) {
  if (name == "SCMP_ARCH_X86_64") return SCMP_ARCH_X86_64;
  if (name == "SCMP_ARCH_X86") return SCMP_ARCH_X86;
  if (name == "SCMP_ARCH_X32") return SCMP_ARCH_X32;
  if (name == "SCMP_ARCH_AARCH64") return SCMP_ARCH_AARCH64;
  if (name == "SCMP_ARCH_ARM") return SCMP_ARCH_ARM;
  return 0;  // foreign architectures are irrelevant on this host
}

}  // namespace

Seccomp default_seccomp_profile() {
  Seccomp p;
  p.default_action = "SCMP_ACT_ALLOW";
  p.architectures = {"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"};
  SeccompRule deny;
  deny.action = "SCMP_ACT_ERRNO";
  deny.errno_ret = EPERM;
  deny.names = {"acct",
                "add_key",
                "bpf",
                "clock_adjtime",
                "clock_settime",
                "create_module",
                "delete_module",
                "finit_module",
                "fsconfig",
                "fsmount",
                "fsopen",
                "fspick",
                "get_kernel_syms",
                "get_mempolicy",
                "init_module",
                "io_uring_enter",
                "io_uring_register",
                "io_uring_setup",
                "ioperm",
                "iopl",
                "kcmp",
                "kexec_file_load",
                "kexec_load",
                "keyctl",
                "lookup_dcookie",
                "mbind",
                "mount",
                "mount_setattr",
                "move_mount",
                "move_pages",
                "name_to_handle_at",
                "nfsservctl",
                "open_by_handle_at",
                "open_tree",
                "perf_event_open",
                "personality",
                "pivot_root",
                "process_vm_readv",
                "process_vm_writev",
                "ptrace",
                "query_module",
                "quotactl",
                "reboot",
                "request_key",
                "set_mempolicy",
                "setns",
                "settimeofday",
                "stime",
                "swapoff",
                "swapon",
                "syslog",
                "sysfs",
                "_sysctl",
                "umount",
                "umount2",
                "unshare",
                "uselib",
                "userfaultfd",
                "ustat",
                "vm86",
                "vm86old"};
  p.syscalls.push_back(std::move(deny));
  return p;
}

std::vector<sock_filter> compile_seccomp(const Seccomp& profile) {
  Ctx ctx(seccomp_init(to_action(profile.default_action, profile.default_errno_ret)));
  if (!ctx) throw Error("seccomp_init failed");
  // libseccomp would set no_new_privs itself; whether it is set is process.noNewPrivileges's
  // decision alone (without it the filter is loaded while CAP_SYS_ADMIN is held).
  if (const int rc = seccomp_attr_set(ctx.get(), SCMP_FLTATR_CTL_NNP, 0); rc != 0) {
    throw system_error("seccomp_attr_set NNP", -rc);
  }
  for (const auto& a : profile.architectures) {
    const uint32_t arch = to_arch(a);
    if (arch == 0 || arch == seccomp_arch_native()) continue;
    const int rc = seccomp_arch_add(ctx.get(), arch);
    if (rc != 0 && rc != -EEXIST) throw system_error("seccomp_arch_add " + a, -rc);
  }
  for (const auto& rule : profile.syscalls) {
    const uint32_t action = to_action(rule.action, rule.errno_ret);
    std::vector<scmp_arg_cmp> cmps;
    for (const auto& arg : rule.args) {
      cmps.push_back(scmp_arg_cmp{arg.index, to_op(arg.op), arg.value, arg.value_two});
    }
    for (const auto& name : rule.names) {
      const int nr = seccomp_syscall_resolve_name(name.c_str());
      if (nr == __NR_SCMP_ERROR) continue;
      if (action == to_action(profile.default_action, profile.default_errno_ret)) continue;
      const int rc =
          seccomp_rule_add_array(ctx.get(), action, nr, static_cast<unsigned>(cmps.size()),
                                 cmps.empty() ? nullptr : cmps.data());
      // -EACCES/-EINVAL: the syscall does not exist on one of the added ABIs.
      if (rc != 0 && rc != -EACCES && rc != -EINVAL && rc != -EDOM) {
        throw system_error("seccomp rule for " + name, -rc);
      }
    }
  }
  // libseccomp 2.5 exports only to a descriptor.
  UniqueFd out(::memfd_create("vmm-seccomp", MFD_CLOEXEC));
  if (!out) throw system_error("memfd_create", errno);
  if (const int rc = seccomp_export_bpf(ctx.get(), out.get()); rc != 0) {
    throw system_error("cannot export the seccomp filter", -rc);
  }
  const off_t size = ::lseek(out.get(), 0, SEEK_END);
  if (size < 0 || size % static_cast<off_t>(sizeof(sock_filter)) != 0) {
    throw Error("libseccomp exported a malformed filter");
  }
  std::vector<sock_filter> program(static_cast<size_t>(size) / sizeof(sock_filter));
  for (size_t done = 0; done < static_cast<size_t>(size);) {
    const ssize_t n = ::pread(out.get(), reinterpret_cast<char*>(program.data()) + done,
                              static_cast<size_t>(size) - done, static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw system_error("cannot read the exported seccomp filter", errno);
    done += static_cast<size_t>(n);
  }
  return program;
}

void load_seccomp_program(std::span<const sock_filter> program) {
  if (program.empty() || program.size() > BPF_MAXINSNS) throw Error("seccomp program size");
  sock_fprog prog{static_cast<unsigned short>(program.size()),
                  const_cast<sock_filter*>(program.data())};
  if (::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) != 0) {
    throw system_error("cannot load the seccomp filter", errno);
  }
}

}  // namespace vmm::container
