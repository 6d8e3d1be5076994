#include "instance/vm_backend.hpp"

#include <spdlog/spdlog.h>

#include <csignal>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include "agent/agent_binary.hpp"
#include "instance/child_process.hpp"
#include "instance/vm_disk.hpp"
#include "vmm/common/error.hpp"

namespace vmm::instance {
namespace {

namespace fs = std::filesystem;

constexpr uint64_t kMiB = uint64_t{1} << 20;
constexpr uint64_t kDefaultMemory = 512 * kMiB;
constexpr auto kPoll = std::chrono::milliseconds(50);
// How long a start waits for the API socket, and a kill for the process to go.
constexpr auto kStartWait = std::chrono::seconds(20);
constexpr auto kKillWait = std::chrono::seconds(10);

fs::path disk_file(const fs::path& dir) { return dir / "root.img"; }
fs::path socket_file(const fs::path& dir) { return dir / "vm.sock"; }
fs::path pid_file(const fs::path& dir) { return dir / "vm.pid"; }
fs::path frozen_mark(const fs::path& dir) { return dir / "vm.frozen"; }
fs::path console_file(const fs::path& dir) { return dir / "console.log"; }

std::string read_text(const fs::path& file) {
  std::ifstream in(file);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string last_line(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) {
    text.pop_back();
  }
  if (const auto nl = text.rfind('\n'); nl != std::string::npos) text = text.substr(nl + 1);
  return text;
}

void write_atomically(const fs::path& file, const std::string& text) {
  const fs::path tmp = file.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << text;
    if (!out.flush()) throw Error("cannot write " + tmp.string());
  }
  fs::rename(tmp, file);
}

void remove_run_files(const fs::path& dir) {
  std::error_code ec;
  for (const fs::path& file : {pid_file(dir), socket_file(dir), frozen_mark(dir)}) {
    fs::remove(file, ec);
  }
}

bool wait_gone(const ProcessIdentity& identity, std::chrono::steady_clock::duration timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (process_alive(identity)) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(kPoll);
  }
  return true;
}

}  // namespace

VmBackend::VmBackend(fs::path vmm_exe, VmBootConfig boot)
    : vmm_exe_(std::move(vmm_exe)), boot_(std::move(boot)) {}

void VmBackend::require_kernel() const {
  if (boot_.kernel.empty()) {
    throw ConfigError("no kernel for VM instances: start the daemon with --kernel");
  }
}

AgentHook VmBackend::prepare(const InstanceRecord& record, const fs::path& dir,
                             const fs::path& image_rootfs) {
  std::optional<fs::path> agent;
  try {
    agent = agent::find_agent_binary();
  } catch (const Error& e) {
    spdlog::info("instance {}: its disk is made without the guest agent: {}", record.name,
                 e.what());
  }
  uint64_t size = root_disk_size(record.config);
  if (size == 0) {
    std::error_code ec;
    const uint64_t agent_bytes = agent ? fs::file_size(*agent, ec) : 0;
    size = default_root_disk_size(tree_bytes(image_rootfs) + (ec ? 0 : agent_bytes));
  }
  const AgentHook hook = make_root_disk(image_rootfs, disk_file(dir), size, agent);
  spdlog::info("instance {}: guest agent hook: {}", record.name, to_string(hook));
  return hook;
}

std::optional<ProcessIdentity> VmBackend::running(const fs::path& dir) const {
  const auto identity = parse_pid_file(read_text(pid_file(dir)));
  if (!identity || !process_alive(*identity)) return std::nullopt;
  return identity;
}

InstanceStatus VmBackend::status(const fs::path& dir) const {
  if (!running(dir)) return InstanceStatus::kStopped;
  return fs::exists(frozen_mark(dir)) ? InstanceStatus::kFrozen : InstanceStatus::kRunning;
}

pid_t VmBackend::pid(const fs::path& dir) const {
  const auto identity = running(dir);
  return identity ? identity->pid : 0;
}

void VmBackend::start(const InstanceRecord& record, const fs::path& dir) const {
  require_kernel();
  if (running(dir)) throw StateError("instance " + record.name + " is already running");
  remove_run_files(dir);
  const uint64_t memory = memory_limit(record.config);
  const auto cpus = record.config.find("limits.cpu");
  std::string cmdline = kVmCmdline;
  if (!boot_.cmdline_append.empty()) cmdline += " " + boot_.cmdline_append;
  // The shell starts vmm in a session of its own and exits: vmm is nobody's child to reap,
  // and it outlives the daemon.
  std::vector<std::string> argv = {
      "sh",
      "-c",
      R"(log=$1; shift; setsid "$@" </dev/null >>"$log" 2>&1 & echo $!)",
      "vmm-vm",
      console_file(dir).string(),
      vmm_exe_.string(),
      "run",
      "--kernel",
      boot_.kernel.string()};
  if (!boot_.initrd.empty()) argv.insert(argv.end(), {"--initrd", boot_.initrd.string()});
  argv.insert(argv.end(),
              {"--cmdline", cmdline, "--disk", disk_file(dir).string(), "--cpus",
               cpus == record.config.end() ? "1" : cpus->second, "--memory",
               std::to_string(((memory == 0 ? kDefaultMemory : memory) + kMiB - 1) / kMiB) + "M",
               "--on-reboot", "restart", "--api-socket", socket_file(dir).string()});
  const CapturedRun launched = run_captured(argv);
  pid_t pid = 0;
  try {
    pid = static_cast<pid_t>(std::stol(launched.output));
  } catch (const std::exception&) {
    throw Error("cannot start " + record.name + ": " + last_line(launched.output));
  }
  const auto identity = identify_process(pid);
  const auto failed = [&] {
    return Error("cannot start " + record.name + ": " + last_line(read_text(console_file(dir))));
  };
  if (!identity) throw failed();
  write_atomically(pid_file(dir), pid_file_text(*identity));
  // Up once its API tells of a VM (it answers 503 before that); a missing /dev/kvm, a bad
  // kernel or disk end the process first.
  const auto deadline = std::chrono::steady_clock::now() + kStartWait;
  for (;;) {
    if (!process_alive(*identity)) {
      remove_run_files(dir);
      throw failed();
    }
    if (fs::exists(socket_file(dir)) && vm_answers(dir)) break;
    if (std::chrono::steady_clock::now() >= deadline) {
      spdlog::warn("instance {}: no VM on its API after {} s", record.name, kStartWait.count());
      break;
    }
    std::this_thread::sleep_for(kPoll);
  }
}

bool VmBackend::vm_answers(const fs::path& dir) const {
  return run_captured({vmm_exe_.string(), "ctl", "--api-socket", socket_file(dir).string(), "info"})
             .status == 0;
}

void VmBackend::control(const fs::path& dir, const std::string& command) const {
  const CapturedRun run =
      run_captured({vmm_exe_.string(), "ctl", "--api-socket", socket_file(dir).string(), command});
  if (run.status != 0) {
    throw Error("the VM's API refused " + command + ": " + last_line(run.output));
  }
}

void VmBackend::stop(const fs::path& dir, std::chrono::milliseconds timeout, bool force) const {
  const auto identity = running(dir);
  if (identity) {
    bool gone = false;
    if (!force) {
      try {
        if (fs::exists(frozen_mark(dir))) control(dir, "resume");
        control(dir, "power-button");
        gone = wait_gone(*identity, timeout);
      } catch (const Error& e) {  // no API: it is killed below
        spdlog::warn("{}: {}", dir.filename().string(), e.what());
      }
    }
    if (!gone) {
      // Not our child: whoever reaps it, it is gone once it is a zombie.
      if (::kill(identity->pid, SIGKILL) != 0 && errno != ESRCH) {
        throw system_error("cannot kill the VM of " + dir.filename().string(), errno);
      }
      if (!wait_gone(*identity, kKillWait)) {
        throw Error("the VM of " + dir.filename().string() + " does not die");
      }
    }
  }
  remove_run_files(dir);
}

void VmBackend::freeze(const fs::path& dir) const {
  control(dir, "pause");
  write_atomically(frozen_mark(dir), "");
}

void VmBackend::unfreeze(const fs::path& dir) const {
  control(dir, "resume");
  std::error_code ec;
  fs::remove(frozen_mark(dir), ec);
}

void VmBackend::snapshot(const fs::path& dir, const fs::path& snapshot_dir) const {
  fs::create_directories(snapshot_dir);
  // Paused, the guest writes nothing while its disk is copied.
  const bool pause = status(dir) == InstanceStatus::kRunning;
  if (pause) freeze(dir);
  try {
    copy_disk(disk_file(dir), disk_file(snapshot_dir));
  } catch (...) {
    if (pause) unfreeze(dir);
    throw;
  }
  if (pause) unfreeze(dir);
}

void VmBackend::restore(const fs::path& dir, const fs::path& snapshot_dir) {
  const fs::path staging = dir / ".restore-root.img";
  std::error_code ec;
  fs::remove(staging, ec);
  copy_disk(disk_file(snapshot_dir), staging);
  fs::rename(staging, disk_file(dir));
}

bool VmBackend::is_snapshot(const fs::path& snapshot_dir) {
  return fs::is_regular_file(disk_file(snapshot_dir));
}

}  // namespace vmm::instance
