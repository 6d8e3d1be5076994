// vmm-agent: the guest agent. Serves EXEC and file requests from the host over virtio-vsock
// (or a Unix socket, for tests on a host), one forked process per connection. Started as PID 1
// from vmm's initramfs fragment, it forks itself into the background and hands PID 1 to the
// initramfs's own init. Protocol: PROTOCOL.md beside this file.
#include <fcntl.h>
#include <linux/vm_sockets.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "agent/agent_exec.hpp"
#include "agent/agent_files.hpp"
#include "agent/agent_init.hpp"
#include "agent/agent_root.hpp"
#include "agent/frame_io.hpp"
#include "agent/host_exec_init.hpp"
#include "agent/messages.hpp"
#include "vmm/common/unique_fd.hpp"

namespace vmm::agent {
namespace {

constexpr uint32_t kDefaultPort = 1024;
constexpr uint32_t kHostCid = 2;
// A proc mount of the agent's own, inside the initramfs: it stays visible to the agent after
// init's switch_root has moved /proc into the final root.
constexpr const char* kPrivateProc = "/vmm/proc";
// Started from an initramfs that will switch_root: how long a request (and the readiness
// announcement) waits for that, so that it sees the final root. Past it, the initramfs serves
// (a boot that never finds its root can still be looked into).
constexpr std::chrono::seconds kSwitchRootWait{120};

struct Options {
  uint32_t port = kDefaultPort;
  std::string unix_path;                  // set: listen there instead of on vsock
  std::chrono::milliseconds root_wait{};  // nonzero: wait up to this for init's switch_root
};

void log(const std::string& line) { std::fprintf(stderr, "vmm-agent: %s\n", line.c_str()); }

// Moves into init's root, waiting for its switch_root when one is expected.
void enter_init_root(const Options& options) {
  const std::vector<std::filesystem::path> procs = {kPrivateProc, "/proc"};
  try {
    if (options.root_wait.count() > 0) {
      (void)await_init_root(procs, options.root_wait);
    } else {
      (void)follow_init_root(procs);
    }
  } catch (const Error& e) {
    log(e.what());
  }
}

constexpr const char* kUsage =
    "usage: vmm-agent [--port N | --listen unix:PATH | --version]\n"
    "  --port N            listen on vsock port N (default 1024)\n"
    "  --listen unix:PATH  listen on a Unix socket instead (no VM needed)\n"
    "As PID 1 it starts itself in the background and runs /init (else /sbin/init).\n";

[[noreturn]] void usage_error(const std::string& problem) {
  log(problem);
  std::fputs(kUsage, stderr);
  std::exit(2);
}

Options parse_options(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::fputs(kUsage, stdout);
      std::exit(0);
    }
    if (arg == "--version") {
      std::printf("vmm-agent %s (protocol %u)\n", VMM_VERSION, kProtocolVersion);
      std::exit(0);
    }
    if ((arg == "--port" || arg == "--listen") && i + 1 >= argc) {
      usage_error(std::string(arg) + " needs a value");
    }
    if (arg == "--port") {
      const std::string_view value = argv[++i];
      const auto [end, error] =
          std::from_chars(value.data(), value.data() + value.size(), options.port);
      if (error != std::errc() || end != value.data() + value.size()) {
        usage_error("--port: not a port number: " + std::string(value));
      }
    } else if (arg == "--listen") {
      const std::string_view value = argv[++i];
      if (!value.starts_with("unix:") || value.size() == 5) {
        usage_error("--listen: expected unix:PATH, got " + std::string(value));
      }
      options.unix_path = value.substr(5);
    } else {
      usage_error("unknown argument: " + std::string(arg));
    }
  }
  return options;
}

// Bound and listening under a temporary name, then renamed: whoever sees `path` can connect.
UniqueFd listen_unix(const std::string& path) {
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) throw system_error("socket", errno);
  const std::string staging = path + ".new";
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (staging.size() >= sizeof address.sun_path) throw Error(path + ": socket path is too long");
  std::memcpy(address.sun_path, staging.c_str(), staging.size() + 1);
  ::unlink(staging.c_str());
  if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
    throw system_error("bind " + staging, errno);
  }
  if (::listen(fd.get(), 64) != 0) throw system_error("listen " + staging, errno);
  if (::rename(staging.c_str(), path.c_str()) != 0) throw system_error("rename to " + path, errno);
  return fd;
}

// Errors meaning vsock is not there yet: the module or its virtio transport is not loaded
// (udev in the final root may load it later).
bool vsock_missing(int error_number) {
  return error_number == EAFNOSUPPORT || error_number == ENODEV || error_number == EADDRNOTAVAIL ||
         error_number == ENOTSUP;
}

UniqueFd listen_vsock(uint32_t port) {
  bool logged = false;
  for (;;) {
    UniqueFd fd(::socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0));
    int error_number = errno;
    if (fd) {
      sockaddr_vm address{};
      address.svm_family = AF_VSOCK;
      address.svm_cid = VMADDR_CID_ANY;
      address.svm_port = port;
      if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0) {
        if (::listen(fd.get(), 64) != 0) throw system_error("listen on vsock", errno);
        return fd;
      }
      error_number = errno;
    }
    if (!vsock_missing(error_number))
      throw system_error("vsock port " + std::to_string(port), error_number);
    if (!logged) {
      log(std::string("vsock is not available yet (") + std::strerror(error_number) +
          "); retrying every 250 ms");
      logged = true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
}

// Tells whoever watches that the agent serves, once requests see the final root: a kernel log
// line, and a HELLO to the host's port (vmm may listen there; nobody needs to). Both
// best-effort, in a child so that neither delays serving.
void announce_ready(const Options& options) {
  if (::fork() != 0) return;
  enter_init_root(options);
  const std::string line = "vmm-agent: ready on vsock port " + std::to_string(options.port) + "\n";
  if (UniqueFd kmsg(::open("/dev/kmsg", O_WRONLY | O_CLOEXEC)); kmsg) {
    [[maybe_unused]] const ssize_t n = ::write(kmsg.get(), line.data(), line.size());
  }
  UniqueFd fd(::socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_vm address{};
  address.svm_family = AF_VSOCK;
  address.svm_cid = kHostCid;
  address.svm_port = kDefaultPort;
  if (fd && ::connect(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0) {
    try {
      send_frame(fd.get(), FrameType::kHello, encode_hello({kProtocolVersion, VMM_VERSION}));
    } catch (const std::exception&) {
      // Nobody listening is fine.
    }
  }
  _exit(0);
}

void report_error(int socket, const std::string& message) {
  try {
    send_frame(socket, FrameType::kError, encode_error({message, 0}));
  } catch (const std::exception&) {
    // The host is gone; nobody to tell.
  }
}

// One connection, in its own process: HELLO (once in init's root), then one request.
void serve_connection(int socket, const Options& options) {
  enter_init_root(options);
  try {
    send_frame(socket, FrameType::kHello, encode_hello({kProtocolVersion, VMM_VERSION}));
    FrameDecoder decoder;
    const auto request = read_frame(socket, decoder);
    if (!request) return;
    switch (request->type) {
      case FrameType::kExec:
        serve_exec(socket, decoder, parse_exec(*request));
        break;
      case FrameType::kFilePush:
        serve_file_push(socket, decoder, parse_file_push(*request));
        break;
      case FrameType::kFilePull:
        serve_file_pull(socket, parse_path(*request));
        break;
      case FrameType::kFileDelete:
        serve_file_delete(socket, parse_path(*request));
        break;
      default:
        throw ProtocolError("expected a request, got " + frame_type_name(request->type));
    }
  } catch (const std::exception& e) {
    report_error(socket, e.what());
  }
}

[[noreturn]] void serve(const Options& options) {
  std::signal(SIGPIPE, SIG_IGN);
  // Connection processes are reaped by the kernel; each reaps its own command.
  std::signal(SIGCHLD, SIG_IGN);
  UniqueFd listener;
  try {
    listener =
        options.unix_path.empty() ? listen_vsock(options.port) : listen_unix(options.unix_path);
  } catch (const Error& e) {
    log(e.what());
    std::exit(1);
  }
  if (options.unix_path.empty()) announce_ready(options);
  for (;;) {
    UniqueFd connection(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!connection) {
      if (errno == EMFILE || errno == ENFILE || errno == ENOMEM || errno == ENOBUFS) {
        log(std::string("accept: ") + std::strerror(errno));
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
      continue;
    }
    const pid_t pid = ::fork();
    if (pid < 0) {
      log(std::string("fork: ") + std::strerror(errno));
      continue;
    }
    if (pid == 0) {
      listener.reset();
      std::signal(SIGCHLD, SIG_DFL);
      serve_connection(connection.get(), options);
      _exit(0);
    }
  }
}

// PID 1 from the initramfs fragment (rdinit=/vmm/vmm-agent): the agent goes to the
// background, and PID 1 becomes the initramfs's own init with the kernel's arguments.
[[noreturn]] void run_as_init_wrapper(int argc, char** argv) {
  start_in_background([argv] {
    // systemd spares initrd processes whose argv[0] starts with '@' when it switches root
    // (its "root storage daemons" convention); the copy PID 1 hands to /init is untouched.
    if (argv[0] != nullptr && argv[0][0] != '\0') argv[0][0] = '@';
    ::mkdir(kPrivateProc, 0555);
    if (::mount("proc", kPrivateProc, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) != 0) {
      log(std::string("mount proc on ") + kPrivateProc + ": " + std::strerror(errno) +
          " (the agent will not follow init's root)");
    }
    Options options;
    std::ifstream cmdline(std::string(kPrivateProc) + "/cmdline");
    const std::string line{std::istreambuf_iterator<char>(cmdline), {}};
    if (kernel_names_a_root(line)) options.root_wait = kSwitchRootWait;
    serve(options);
  });
  hand_over_to_init(std::vector<std::string>(argv, argv + argc), kInitCandidates);
}

}  // namespace
}  // namespace vmm::agent

int main(int argc, char** argv) {
  if (::getpid() == 1 && vmm::agent::is_host_exec_initramfs()) vmm::agent::run_host_exec_init();
  if (::getpid() == 1) vmm::agent::run_as_init_wrapper(argc, argv);
  vmm::agent::serve(vmm::agent::parse_options(argc, argv));
}
