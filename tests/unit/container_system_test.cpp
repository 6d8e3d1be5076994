// A system container's additions to the runtime's defaults, and the console socket's message.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "container/console_socket.hpp"
#include "container/system_container.hpp"

namespace vmm::container {
namespace {

namespace fs = std::filesystem;

TEST(SystemContainer, RecognizesInits) {
  EXPECT_TRUE(is_init_command({"/sbin/init"}));
  EXPECT_TRUE(is_init_command({"init"}));
  EXPECT_TRUE(is_init_command({"/lib/systemd/systemd", "--system"}));
  EXPECT_TRUE(is_init_command({"/usr/lib/systemd/systemd"}));
  EXPECT_FALSE(is_init_command({"/bin/sh", "-c", "/sbin/init"}));
  EXPECT_FALSE(is_init_command({"/usr/bin/systemd-run"}));
  EXPECT_FALSE(is_init_command({}));
}

TEST(SystemContainer, MountsRunRunLockAndTmpAsTmpfs) {
  std::vector<std::string> where;
  for (const auto& m : system_container_mounts()) {
    EXPECT_EQ(m.type, "tmpfs") << m.destination;
    where.push_back(m.destination);
  }
  EXPECT_EQ(where, (std::vector<std::string>{"/run", "/run/lock", "/tmp"}));
}

TEST(SystemContainer, CapabilitiesStopShortOfTheHost) {
  const auto caps = system_container_capabilities();
  for (const int host_only :
       {CAP_SYS_MODULE, CAP_SYS_RAWIO, CAP_SYS_TIME, CAP_MAC_ADMIN, CAP_MAC_OVERRIDE}) {
    EXPECT_EQ(std::count(caps.begin(), caps.end(), host_only), 0) << host_only;
  }
  // Only what this process may hand on: a subset of its bounding set.
  for (const int cap : caps) EXPECT_EQ(::prctl(PR_CAPBSET_READ, cap, 0, 0, 0), 1) << cap;
  if (::prctl(PR_CAPBSET_READ, CAP_SYS_ADMIN, 0, 0, 0) == 1) {
    EXPECT_EQ(std::count(caps.begin(), caps.end(), CAP_SYS_ADMIN), 1);
  }
}

TEST(SystemContainer, FilterDeniesKernelLoadingButNotMounts) {
  const Seccomp filter = system_container_seccomp();
  EXPECT_EQ(filter.default_action, "SCMP_ACT_ALLOW");
  std::vector<std::string> denied;
  for (const auto& rule : filter.syscalls) {
    EXPECT_EQ(rule.action, "SCMP_ACT_ERRNO");
    denied.insert(denied.end(), rule.names.begin(), rule.names.end());
  }
  for (const char* name : {"kexec_load", "init_module", "finit_module", "open_by_handle_at"}) {
    EXPECT_EQ(std::count(denied.begin(), denied.end(), name), 1) << name;
  }
  for (const char* name : {"mount", "umount2", "unshare", "setns", "pivot_root", "reboot"}) {
    EXPECT_EQ(std::count(denied.begin(), denied.end(), name), 0) << name;
  }
}

TEST(SystemContainer, HaltSignalFollowsTheInit) {
  const fs::path root = fs::temp_directory_path() / ("halt-" + std::to_string(::getpid()));
  fs::create_directories(root / "sbin");
  fs::create_directories(root / "lib/systemd");
  EXPECT_EQ(halt_signal(root), SIGTERM);  // no init at all
  fs::create_symlink("/bin/busybox", root / "sbin/init");
  EXPECT_EQ(halt_signal(root), SIGTERM);
  fs::remove(root / "sbin/init");
  fs::create_symlink("/lib/systemd/systemd", root / "sbin/init");
  EXPECT_EQ(halt_signal(root), SIGRTMIN + 3);
  fs::remove_all(root);
}

TEST(ConsoleSocket, ReceivesTheTerminalAndNoticesAPeerWithout) {
  // The runtime sends to a path: a listening socket in a temporary directory.
  const fs::path dir = fs::temp_directory_path() / ("console-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const fs::path path = dir / "s";
  const UniqueFd listener(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  ASSERT_EQ(::bind(listener.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(::listen(listener.get(), 2), 0);

  const UniqueFd file(::open("/dev/null", O_RDWR | O_CLOEXEC));
  send_console(path.string(), file.get());
  const UniqueFd accepted(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
  const UniqueFd received = receive_console(accepted.get());
  ASSERT_TRUE(received);
  struct stat a {};
  struct stat b {};
  ASSERT_EQ(::fstat(file.get(), &a), 0);
  ASSERT_EQ(::fstat(received.get(), &b), 0);
  EXPECT_EQ(a.st_rdev, b.st_rdev);

  // A peer that connects and closes without a terminal: an empty fd, not an error.
  {
    const UniqueFd empty(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    ASSERT_EQ(::connect(empty.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  }
  const UniqueFd second(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
  EXPECT_FALSE(receive_console(second.get()));
  fs::remove_all(dir);
}

}  // namespace
}  // namespace vmm::container
