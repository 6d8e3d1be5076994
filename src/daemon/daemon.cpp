#include "daemon/daemon.hpp"

#include <fcntl.h>
#include <grp.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <optional>

#include "api/api_server.hpp"
#include "daemon/daemon_api.hpp"
#include "daemon/operations.hpp"
#include "instance/instance_files.hpp"
#include "instance/instance_manager.hpp"
#include "vmm/common/error.hpp"
#include "vmm/common/unique_fd.hpp"

namespace vmm::daemon {
namespace {

namespace fs = std::filesystem;

// Operations run side by side: launches, stops and execs of different instances.
constexpr size_t kWorkers = 16;

void grant_group(const fs::path& socket, const std::string& group) {
  if (group.empty()) return;
  const ::group* entry = ::getgrnam(group.c_str());
  if (entry == nullptr) return;  // no such group: root only
  if (::chown(socket.c_str(), 0, entry->gr_gid) == 0) ::chmod(socket.c_str(), 0660);
}

int serve(const DaemonOptions& options, int ready_fd) {
  const fs::path exe = fs::read_symlink("/proc/self/exe");
  // Termination signals are taken by sigwait below; every thread started from here on
  // inherits the mask, so none of them can be killed by one.
  sigset_t signals;
  sigemptyset(&signals);
  for (const int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT}) sigaddset(&signals, sig);
  ::pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  fs::create_directories(options.state_dir);
  ::chmod(options.state_dir.c_str(), 0711);
  std::optional<instance::BridgeConfig> bridge;
  if (!options.bridge.empty()) {
    bridge = instance::BridgeConfig{.name = options.bridge, .gateway = options.subnet};
  }
  const instance::VmBootConfig vm_boot = vm_boot_config(options);
  if (vm_boot.kernel.empty()) {
    spdlog::info("daemon: no kernel for VM instances (--kernel)");
  } else {
    spdlog::info("daemon: VM instances boot {}", vm_boot.kernel.string());
  }
  instance::InstanceManager manager(options.state_dir, exe, bridge, vm_boot);
  manager.recover();
  std::optional<Operations> operations;
  operations.emplace(kWorkers);
  DaemonApi api(manager, *operations);
  fs::create_directories(options.socket.parent_path());
  api::ApiLimits limits;
  // A file push carries the file (instance_files.hpp), plus room for the request around it.
  limits.max_body_bytes = instance::kMaxFileTransfer + (size_t{1} << 20);
  limits.max_connections = 256;
  api::ApiServer server(
      options.socket,
      [&api](const api::ApiRequest& request, const api::ApiReply& reply) {
        api.handle(request, reply);
      },
      limits);
  grant_group(options.socket, options.group);
  spdlog::info("daemon: serving on {} (state in {})", options.socket.string(),
               options.state_dir.string());
  if (ready_fd >= 0) {
    const char ok = 1;
    (void)!::write(ready_fd, &ok, 1);
    ::close(ready_fd);
  }
  int sig = 0;
  ::sigwait(&signals, &sig);
  spdlog::info("daemon: signal {}, stopping (instances keep running)", sig);
  server.stop();
  operations.reset();  // waits for running operations
  return 0;
}

}  // namespace

instance::VmBootConfig vm_boot_config(const DaemonOptions& options) {
  instance::VmBootConfig boot{.kernel = options.kernel,
                              .initrd = options.initrd,
                              .cmdline_append = options.vm_cmdline_append};
  if (!boot.kernel.empty()) {
    if (!fs::is_regular_file(boot.kernel)) {
      throw ConfigError("--kernel", boot.kernel.string() + " is not a file");
    }
    if (!boot.initrd.empty() && !fs::is_regular_file(boot.initrd)) {
      throw ConfigError("--initrd", boot.initrd.string() + " is not a file");
    }
    return boot;
  }
  if (!boot.initrd.empty()) throw ConfigError("--initrd", "needs --kernel");
  fs::path cache;
  if (const char* dir = std::getenv("VMM_CACHE_DIR"); dir != nullptr && *dir != '\0') {
    cache = dir;
  } else if (const char* home = std::getenv("HOME"); home != nullptr && *home != '\0') {
    cache = fs::path(home) / ".cache/vmm";
  }
  // The stock kernel has virtio and ext4 as modules: it needs the initramfs that loads them.
  if (!cache.empty() && fs::is_regular_file(cache / "kernel/bzImage") &&
      fs::is_regular_file(cache / "rootfs-initramfs.cpio.gz")) {
    boot.kernel = cache / "kernel/bzImage";
    boot.initrd = cache / "rootfs-initramfs.cpio.gz";
  }
  return boot;
}

int run_daemon(const DaemonOptions& options) {
  if (::geteuid() != 0) throw HostResourceError("the daemon must run as root");
  if (options.foreground) return serve(options, -1);
  // Detach: the child serves; the parent returns once it does, or with its failure.
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) throw system_error("pipe", errno);
  UniqueFd read_end(pipe_fds[0]);
  const pid_t pid = ::fork();
  if (pid < 0) throw system_error("fork", errno);
  if (pid == 0) {
    read_end.reset();
    ::setsid();
    int status = 1;
    try {
      status = serve(options, pipe_fds[1]);
    } catch (const std::exception& e) {
      spdlog::error("daemon: {}", e.what());
    }
    ::_exit(status);
  }
  ::close(pipe_fds[1]);
  char ok = 0;
  if (::read(read_end.get(), &ok, 1) != 1) {
    throw Error("the daemon failed to start (see its log above)");
  }
  return 0;
}

}  // namespace vmm::daemon
