#include "instance/vm_backend.hpp"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <fstream>
#include <sstream>
#include <thread>
#include <tuple>
#include <vector>

#include "agent/agent_binary.hpp"
#include "agent/agent_client.hpp"
#include "container/cgroup.hpp"
#include "instance/child_process.hpp"
#include "instance/names.hpp"
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
// How long one connection to the agent may take to answer its hello.
constexpr auto kAgentHello = std::chrono::seconds(10);

// The VM's cgroup, relative to the hierarchy roots: "vmm.vms-HASH/NAME", the hash of the state
// directory keeping two managers' VMs of one name apart.
std::string vm_cgroup(const fs::path& dir) {
  return "vmm.vms-" + short_hash(fs::weakly_canonical(dir.parent_path()).string()) + "/" +
         dir.filename().string();
}

// Moves the VM's process into a cgroup of its own: its memory and CPU are accounted apart from
// the daemon's and other instances', and what it leaves is found by the cgroup. Best effort:
// a host without cgroups still runs the VM.
void join_vm_cgroup(const fs::path& dir, pid_t pid) {
  try {
    const container::CgroupLayout layout = container::detect_cgroup_layout();
    container::Cgroup cgroup =
        container::Cgroup::create(layout, vm_cgroup(dir), container::Resources{});
    cgroup.add_process(pid);
    cgroup.release();  // it lives as long as the VM, past this daemon
  } catch (const Error& e) {
    spdlog::warn("{}: the VM runs without a cgroup of its own: {}", dir.filename().string(),
                 e.what());
  }
}

// Removes the stopped VM's cgroup, and the manager's parent when no VM is left in it.
void remove_vm_cgroup(const fs::path& dir) {
  try {
    const container::CgroupLayout layout = container::detect_cgroup_layout();
    const std::string relative = vm_cgroup(dir);
    const auto leaf_dirs = container::cgroup_directories(layout, relative);
    if (std::none_of(leaf_dirs.begin(), leaf_dirs.end(),
                     [](const auto& entry) { return fs::exists(entry.second); })) {
      return;
    }
    container::Cgroup::attach(layout, relative).destroy();
    for (const auto& [controller, leaf] : leaf_dirs) {
      ::rmdir(fs::path(leaf).parent_path().c_str());  // fails while other VMs are in it
    }
  } catch (const Error& e) {
    spdlog::warn("{}: cannot remove the VM's cgroup: {}", dir.filename().string(), e.what());
  }
}

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
  for (const fs::path& file :
       {pid_file(dir), socket_file(dir), frozen_mark(dir), VmBackend::vsock_socket(dir)}) {
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

void VmBackend::start(const InstanceRecord& record, const fs::path& dir,
                      const std::optional<VmNic>& nic) const {
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
  // Confined by default where the manager can confine it (src/jail): root makes the jail.
  if (::geteuid() == 0) argv.emplace_back("--jail");
  if (nic) {
    argv.insert(argv.end(),
                {"--net", "tap=" + nic->tap + ",bridge=" + nic->bridge + ",mac=" + nic->mac});
  }
  if (record.vsock_cid != 0) {
    argv.insert(argv.end(), {"--vsock", "cid=" + std::to_string(record.vsock_cid) +
                                            ",socket=" + vsock_socket(dir).string()});
    // An image whose init starts no agent gets one from the initramfs at every boot.
    if (record.agent_hook == "initramfs" && !boot_.initrd.empty()) argv.emplace_back("--agent");
  }
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
  join_vm_cgroup(dir, pid);
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
  remove_vm_cgroup(dir);
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

fs::path VmBackend::vsock_socket(const fs::path& dir) { return dir / "vsock.sock"; }

namespace {

// A connection to the running guest's agent; vmm::StateError when there is none.
agent::AgentConnection connect_agent(const std::string& name, const fs::path& dir) {
  try {
    return agent::AgentConnection::open(
        agent::connect_through_vsock(VmBackend::vsock_socket(dir), agent::kAgentPort, kAgentHello),
        kAgentHello);
  } catch (const Error& e) {
    throw StateError("the guest agent of " + name + " does not answer: " + e.what());
  }
}

// "UID[:GID]" as ExecOptions carries it.
std::pair<uint32_t, uint32_t> parse_user(const std::string& user) {
  if (user.empty()) return {0, 0};
  try {
    const auto colon = user.find(':');
    const auto uid = static_cast<uint32_t>(std::stoul(user.substr(0, colon)));
    const auto gid = colon == std::string::npos
                         ? uid
                         : static_cast<uint32_t>(std::stoul(user.substr(colon + 1)));
    return {uid, gid};
  } catch (const std::exception&) {
    throw ConfigError("user", "\"" + user + "\" is not UID[:GID]");
  }
}

}  // namespace

void VmBackend::wait_agent(const std::string& name, const fs::path& dir,
                           std::chrono::milliseconds timeout) const {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (!running(dir)) throw StateError("instance " + name + " stopped before its agent answered");
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      std::string what = "the guest agent of " + name + " did not answer within ";
      what += std::to_string(std::chrono::duration_cast<std::chrono::seconds>(timeout).count());
      what += " s (see `vmm console " + name + " --show-log`)";
      throw Error(what);
    }
    if (fs::exists(vsock_socket(dir)) &&
        agent::wait_for_agent(vsock_socket(dir), std::min(left, std::chrono::milliseconds(1000)))) {
      return;
    }
  }
}

int VmBackend::exec(const std::string& name, const fs::path& dir,
                    const ExecOptions& options) const {
  agent::AgentConnection connection = connect_agent(name, dir);
  agent::ExecRequest request;
  request.argv = options.command;
  request.environment = options.environment;
  request.cwd = options.cwd;
  std::tie(request.uid, request.gid) = parse_user(options.user);
  return connection.exec(request, agent::ExecIo{-1, options.out_fd, options.err_fd});
}

FileEntry VmBackend::read_file(const std::string& name, const fs::path& dir,
                               const std::string& path) const {
  agent::AgentConnection connection = connect_agent(name, dir);
  std::vector<uint8_t> content;
  const agent::FileInfo info = connection.pull_file(path, content, kMaxFileTransfer);
  FileEntry entry;
  switch (info.type) {
    case agent::FileType::kFile:
      entry.type = FileType::kFile;
      break;
    case agent::FileType::kDirectory:
      entry.type = FileType::kDirectory;
      break;
    case agent::FileType::kSymlink:
      throw ConfigError("path", path + " is a symbolic link (to " + info.target + ")");
  }
  entry.uid = info.uid;
  entry.gid = info.gid;
  entry.mode = info.mode & 07777;
  entry.content.assign(content.begin(), content.end());
  entry.entries = info.entries;
  std::sort(entry.entries.begin(), entry.entries.end());
  return entry;
}

void VmBackend::write_file(const std::string& name, const fs::path& dir, const std::string& path,
                           const FileWrite& write) const {
  if (write.append)
    throw ConfigError("X-LXD-write", "append is not supported for virtual machines");
  agent::AgentConnection connection = connect_agent(name, dir);
  agent::FileInfo info;
  const bool directory = write.type == FileType::kDirectory;
  info.type = directory ? agent::FileType::kDirectory : agent::FileType::kFile;
  info.mode = write.mode.value_or(directory ? 0755 : 0644);
  info.uid = write.uid.value_or(0);
  info.gid = write.gid.value_or(0);
  const auto* bytes = reinterpret_cast<const uint8_t*>(write.content.data());
  connection.push_file(path, info, std::span(bytes, directory ? 0 : write.content.size()));
}

void VmBackend::delete_file(const std::string& name, const fs::path& dir,
                            const std::string& path) const {
  connect_agent(name, dir).delete_file(path);
}

}  // namespace vmm::instance
