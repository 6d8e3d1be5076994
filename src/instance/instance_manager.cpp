#include "instance/instance_manager.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdio>

#include "instance/child_process.hpp"
#include "instance/names.hpp"
#include "instance/timestamps.hpp"
#include "vmm/common/error.hpp"

namespace vmm::instance {
namespace {

namespace fs = std::filesystem;

constexpr auto kRecoveryStopTimeout = std::chrono::seconds(10);
// vsock context IDs 0-2 are the hypervisor's and the host's.
constexpr uint32_t kFirstGuestCid = 3;

fs::path record_file(const fs::path& dir) { return dir / "instance.json"; }

}  // namespace

InstanceManager::InstanceManager(fs::path state_dir, fs::path vmm_exe,
                                 std::optional<BridgeConfig> bridge, VmBootConfig vm_boot)
    : state_dir_(std::move(state_dir)),
      instances_dir_(state_dir_ / "instances"),
      images_(state_dir_ / "images"),
      containers_(vmm_exe, state_dir_ / "containers"),
      vms_(std::move(vmm_exe), std::move(vm_boot)) {
  fs::create_directories(instances_dir_);
  if (bridge) {
    bridge_ = std::make_unique<BridgeNetwork>(std::move(*bridge), state_dir_);
    publish_hosts();
  }
}

std::string InstanceManager::host_interface(const std::string& name) const {
  // Unique per state directory and instance, and within IFNAMSIZ: a container's veth end, or
  // a VM's TAP.
  return "vmm" + short_hash(instances_dir_.string() + "/" + name);
}

void InstanceManager::publish_hosts() {
  if (!bridge_) return;
  std::string hosts;
  std::string dhcp_hosts;
  for (const auto& view : list()) {
    if (view.record.ipv4.empty()) continue;
    hosts += view.record.ipv4 + " " + view.record.name + "\n";
    // A VM asks by DHCP: its MAC gets the address the manager gave the instance.
    if (!view.record.mac.empty()) dhcp_hosts += view.record.mac + "," + view.record.ipv4 + "\n";
  }
  bridge_->publish_hosts(hosts, dhcp_hosts);
}

void InstanceManager::attach_network(const InstanceRecord& record) {
  if (record.network != "bridge") return;
  if (!bridge_) {
    throw StateError("instance " + record.name + " is on a bridge, and the manager has none");
  }
  bridge_->attach_container(containers_.init_pid(record.name), host_interface(record.name),
                            record.mac, record.ipv4);
}

fs::path InstanceManager::instance_dir(const std::string& name) const {
  return instances_dir_ / name;
}

std::shared_ptr<std::mutex> InstanceManager::lock_for(const std::string& name) const {
  std::lock_guard lock(locks_mutex_);
  auto& entry = locks_[name];
  if (!entry) entry = std::make_shared<std::mutex>();
  return entry;
}

bool InstanceManager::exists(const std::string& name) const {
  return fs::exists(record_file(instance_dir(name)));
}

InstanceRecord InstanceManager::load_existing(const std::string& name) const {
  validate_instance_name(name);
  if (!exists(name)) throw NotFoundError("instance \"" + name + "\" not found");
  return load_record(record_file(instance_dir(name)));
}

InstanceStatus InstanceManager::status_of(const InstanceRecord& record) const {
  if (record.type == InstanceType::kVirtualMachine) return vms_.status(instance_dir(record.name));
  return containers_.status(record.name);
}

void InstanceManager::freeze_backend(const InstanceRecord& record) {
  if (record.type == InstanceType::kVirtualMachine) {
    vms_.freeze(instance_dir(record.name));
  } else {
    containers_.freeze(record.name);
  }
}

void InstanceManager::unfreeze_backend(const InstanceRecord& record) {
  if (record.type == InstanceType::kVirtualMachine) {
    vms_.unfreeze(instance_dir(record.name));
  } else {
    containers_.unfreeze(record.name);
  }
}

InstanceView InstanceManager::view_of(const InstanceRecord& record) const {
  InstanceView view;
  view.record = record;
  if (record.type == InstanceType::kVirtualMachine && !record.creating) {
    view.status = vms_.status(instance_dir(record.name));
    view.pid = view.status == InstanceStatus::kStopped ? 0 : vms_.pid(instance_dir(record.name));
    if (record.vsock_cid != 0) {
      view.vsock_socket = VmBackend::vsock_socket(instance_dir(record.name)).string();
    }
    if (view.status != InstanceStatus::kStopped && record.network == "bridge" && bridge_) {
      view.host_interface = host_interface(record.name);
      view.ipv4 = bridge_->leased_address(record.mac);
    }
  } else if (record.type == InstanceType::kContainer && !record.creating) {
    view.status = containers_.status(record.name);
    view.pid = view.status == InstanceStatus::kStopped ? 0 : containers_.init_pid(record.name);
    if (view.status != InstanceStatus::kStopped) {
      view.runtime_root = containers_.runtime_root().string();
    }
    if (view.status != InstanceStatus::kStopped && record.network == "bridge") {
      view.host_interface = host_interface(record.name);
      view.ipv4 = record.ipv4;
    }
  }
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(instance_dir(record.name) / "snapshots", ec)) {
    view.snapshots.push_back(entry.path().filename().string());
  }
  std::sort(view.snapshots.begin(), view.snapshots.end());
  return view;
}

void InstanceManager::validate_request(const CreateRequest& request) const {
  validate_config(request.config);
  if (request.type == InstanceType::kVirtualMachine) {
    vms_.require_kernel();
  } else if (request.config.contains("root.size")) {
    throw ConfigError("root.size", "only virtual machines have a root disk");
  }
}

InstanceView InstanceManager::create(const CreateRequest& request) {
  validate_instance_name(request.name);
  validate_request(request);
  const bool vm = request.type == InstanceType::kVirtualMachine;
  const ImageInfo image = images_.get(request.image);
  {
    std::lock_guard lock(locks_mutex_);
    if (exists(request.name) || creating_.contains(request.name)) {
      throw StateError("instance \"" + request.name + "\" already exists");
    }
    creating_.insert(request.name);
  }
  struct Unreserve {
    InstanceManager& manager;
    const std::string& name;
    ~Unreserve() {
      std::lock_guard lock(manager.locks_mutex_);
      manager.creating_.erase(name);
    }
  } unreserve{*this, request.name};

  const fs::path dir = instance_dir(request.name);
  InstanceRecord record;
  record.name = request.name;
  record.type = request.type;
  record.image = image.fingerprint;
  record.config = request.config;
  record.created_at = rfc3339_now();
  record.creating = true;
  record.network = request.network.empty() ? (bridge_ ? "bridge" : "none") : request.network;
  if (record.network != "bridge" && record.network != "none") {
    throw ConfigError("network", "\"" + record.network + "\" is neither bridge nor none");
  }
  if (record.network == "bridge" && !bridge_) {
    throw ConfigError("network", "the daemon runs without a bridge (use none)");
  }
  std::unique_lock network_lock(network_mutex_, std::defer_lock);
  if (record.network == "bridge") {
    // Held until the record is saved, so two creates never take one address.
    network_lock.lock();
    std::set<std::string> taken;
    for (const auto& view : list()) taken.insert(view.record.ipv4);
    record.mac = random_mac();
    record.ipv4 = bridge_->allocate(taken);
  }
  if (vm) {
    // Held until the record is saved, so two creates never take one context ID.
    if (!network_lock.owns_lock()) network_lock.lock();
    record.vsock_cid = free_vsock_cid();
  }
  try {
    fs::create_directories(dir);
    save_record(record_file(dir), record);  // a killed manager finds it "creating" and removes it
    if (vm) {
      const AgentHook hook = VmBackend::prepare(record, dir, images_.rootfs(record.image));
      // An image whose init starts no agent gets it from the initramfs at every boot.
      record.agent_hook = hook == AgentHook::kNone ? "initramfs" : to_string(hook);
    } else {
      ContainerBackend::prepare(dir);
    }
    record.creating = false;
    save_record(record_file(dir), record);
  } catch (...) {
    std::error_code ec;
    fs::remove_all(dir, ec);
    throw;
  }
  if (network_lock.owns_lock()) network_lock.unlock();
  publish_hosts();
  return view_of(record);
}

uint32_t InstanceManager::free_vsock_cid() const {
  std::set<uint32_t> taken;
  for (const auto& view : list()) taken.insert(view.record.vsock_cid);
  uint32_t cid = kFirstGuestCid;
  while (taken.contains(cid)) ++cid;
  return cid;
}

void InstanceManager::start_locked(InstanceRecord& record) {
  if (record.type == InstanceType::kContainer &&
      containers_.status(record.name) != InstanceStatus::kStopped) {
    throw StateError("instance " + record.name + " is already running");
  }
  if (record.type == InstanceType::kVirtualMachine && record.vsock_cid == 0) {
    // Made before VMs had a guest agent: a context ID now, and the agent from the initramfs.
    std::lock_guard allocation(network_mutex_);
    record.vsock_cid = free_vsock_cid();
    if (record.agent_hook.empty()) record.agent_hook = "initramfs";
  }
  // The wish is kept before the start: a manager killed in the middle finishes it next time.
  record.running_wanted = true;
  save_record(record_file(instance_dir(record.name)), record);
  try {
    start_backend(record);
  } catch (...) {
    record.running_wanted = false;
    save_record(record_file(instance_dir(record.name)), record);
    throw;
  }
}

void InstanceManager::start_backend(const InstanceRecord& record) {
  if (record.type == InstanceType::kVirtualMachine) {
    std::optional<VmNic> nic;
    if (record.network == "bridge") {
      if (!bridge_) {
        throw StateError("instance " + record.name + " is on a bridge, and the manager has none");
      }
      nic = VmNic{host_interface(record.name), bridge_->name(), record.mac};
    }
    vms_.start(record, instance_dir(record.name), nic);
    return;
  }
  // The instance's name is its host name, also for an init that sets it from /etc/hostname.
  std::vector<std::pair<std::string, std::string>> files = {{"etc/hostname", record.name + "\n"}};
  if (record.network == "bridge" && bridge_) {
    files.emplace_back("etc/resolv.conf", "nameserver " + bridge_->gateway_address() + "\n");
  }
  containers_.start(record, instance_dir(record.name), images_.rootfs(record.image), files);
  try {
    attach_network(record);
  } catch (...) {
    containers_.stop(record.name, instance_dir(record.name), std::chrono::milliseconds(0), true);
    throw;
  }
}

void InstanceManager::stop_locked(InstanceRecord& record, std::chrono::milliseconds timeout,
                                  bool force) {
  if (record.type == InstanceType::kVirtualMachine) {
    vms_.stop(instance_dir(record.name), timeout, force);
  } else {
    containers_.stop(record.name, instance_dir(record.name), timeout, force);
  }
  record.running_wanted = false;
  save_record(record_file(instance_dir(record.name)), record);
}

void InstanceManager::start(const std::string& name) {
  const auto lock = lock_for(name);
  std::lock_guard guard(*lock);
  InstanceRecord record = load_existing(name);
  start_locked(record);
}

void InstanceManager::stop(const std::string& name, std::chrono::milliseconds timeout, bool force) {
  const auto lock = lock_for(name);
  std::lock_guard guard(*lock);
  InstanceRecord record = load_existing(name);
  if (status_of(record) == InstanceStatus::kStopped && !record.running_wanted) {
    throw StateError("instance " + name + " is already stopped");
  }
  stop_locked(record, timeout, force);
}

void InstanceManager::restart(const std::string& name, std::chrono::milliseconds timeout,
                              bool force) {
  const auto lock = lock_for(name);
  std::lock_guard guard(*lock);
  InstanceRecord record = load_existing(name);
  stop_locked(record, timeout, force);
  start_locked(record);
}

void InstanceManager::set_frozen(const std::string& name, bool frozen) {
  const auto lock = lock_for(name);
  std::lock_guard guard(*lock);
  const InstanceRecord record = load_existing(name);
  const InstanceStatus from = frozen ? InstanceStatus::kRunning : InstanceStatus::kFrozen;
  if (status_of(record) != from) {
    throw StateError("instance " + name + (frozen ? " is not running" : " is not frozen"));
  }
  if (frozen) {
    freeze_backend(record);
  } else {
    unfreeze_backend(record);
  }
}

void InstanceManager::freeze(const std::string& name) { set_frozen(name, true); }
void InstanceManager::unfreeze(const std::string& name) { set_frozen(name, false); }

void InstanceManager::destroy(const std::string& name) {
  const fs::path dir = instance_dir(name);
  // Whatever the record says (it may be damaged), nothing of either kind keeps running.
  vms_.stop(dir, std::chrono::milliseconds(0), true);
  containers_.stop(name, dir, std::chrono::milliseconds(0), true);
  // Renamed first: a crash in the middle leaves no half-deleted instance that lists.
  const fs::path doomed = instances_dir_ / (".deleting-" + name);
  std::error_code ec;
  fs::remove_all(doomed, ec);
  fs::rename(dir, doomed);
  fs::remove_all(doomed);
}

void InstanceManager::remove(const std::string& name, bool force) {
  const auto lock = lock_for(name);
  std::lock_guard guard(*lock);
  const InstanceRecord record = load_existing(name);
  if (!force && status_of(record) != InstanceStatus::kStopped) {
    throw StateError("instance " + name + " is running: stop it first, or delete with force");
  }
  destroy(name);
  publish_hosts();
}

InstanceView InstanceManager::update_config(const std::string& name,
                                            const std::map<std::string, std::string>& changes) {
  const auto lock = lock_for(name);
  std::lock_guard guard(*lock);
  InstanceRecord record = load_existing(name);
  auto config = record.config;
  for (const auto& [key, value] : changes) {
    if (value.empty()) {
      config.erase(key);
    } else {
      config[key] = value;
    }
  }
  validate_config(config);
  record.config = std::move(config);
  save_record(record_file(instance_dir(name)), record);
  return view_of(record);
}

InstanceView InstanceManager::get(const std::string& name) const {
  return view_of(load_existing(name));
}

std::vector<InstanceView> InstanceManager::list() const {
  std::vector<InstanceView> views;
  for (const auto& entry : fs::directory_iterator(instances_dir_)) {
    const std::string name = entry.path().filename().string();
    if (name.starts_with(".") || !fs::exists(record_file(entry.path()))) continue;
    try {
      views.push_back(view_of(load_record(record_file(entry.path()))));
    } catch (const Error& e) {
      spdlog::warn("instance {}: {}", name, e.what());
    }
  }
  std::sort(views.begin(), views.end(), [](const InstanceView& a, const InstanceView& b) {
    return a.record.name < b.record.name;
  });
  return views;
}

int InstanceManager::exec(const std::string& name, const ExecOptions& options) {
  if (options.command.empty()) throw ConfigError("command", "no command given");
  bool vm = false;
  {
    const auto lock = lock_for(name);
    std::lock_guard guard(*lock);
    const InstanceRecord record = load_existing(name);
    if (status_of(record) != InstanceStatus::kRunning) {
      throw StateError("instance " + name + " is not running");
    }
    vm = record.type == InstanceType::kVirtualMachine;
  }
  // Unlocked while the command runs: a long command must not hold up a stop.
  return vm ? vms_.exec(name, instance_dir(name), options) : containers_.exec(name, options);
}

template <typename Action>
auto InstanceManager::with_root(const std::string& name, Action action) {
  const auto lock = lock_for(name);
  std::lock_guard guard(*lock);
  const InstanceRecord record = load_existing(name);
  const fs::path dir = instance_dir(name);
  // A running container's files as its processes see them, with its own mounts (/run, /tmp).
  if (containers_.status(name) != InstanceStatus::kStopped) {
    if (const pid_t pid = containers_.init_pid(name); pid > 0) {
      return action(fs::path("/proc") / std::to_string(pid) / "root");
    }
  }
  // A stopped container's root is mounted for the transfer only.
  struct Unmount {
    fs::path dir;
    ~Unmount() {
      if (!dir.empty()) ContainerBackend::unmount_root(dir);
    }
  } unmount;
  if (!ContainerBackend::root_mounted(dir)) {
    ContainerBackend::mount_root(dir, images_.rootfs(record.image));
    unmount.dir = dir;
  }
  return action(dir / "rootfs");
}

bool InstanceManager::running_vm(const std::string& name) const {
  const auto lock = lock_for(name);
  std::lock_guard guard(*lock);
  const InstanceRecord record = load_existing(name);
  if (record.type != InstanceType::kVirtualMachine) return false;
  if (status_of(record) != InstanceStatus::kRunning) {
    throw StateError("instance " + name +
                     " is not running: files of a virtual machine are "
                     "reached through its guest agent");
  }
  return true;
}

void InstanceManager::wait_agent(const std::string& name, std::chrono::milliseconds timeout) {
  {
    const auto lock = lock_for(name);
    std::lock_guard guard(*lock);
    const InstanceRecord record = load_existing(name);
    if (record.type != InstanceType::kVirtualMachine) return;  // containers need no agent
    if (status_of(record) == InstanceStatus::kStopped) {
      throw StateError("instance " + name + " is not running");
    }
  }
  vms_.wait_agent(name, instance_dir(name), timeout);
}

FileEntry InstanceManager::read_file(const std::string& name, const std::string& path) {
  check_instance_path(path);
  if (running_vm(name)) return vms_.read_file(name, instance_dir(name), path);
  return with_root(name, [&](const fs::path& root) { return read_instance_file(root, path); });
}

void InstanceManager::write_file(const std::string& name, const std::string& path,
                                 const FileWrite& write) {
  check_instance_path(path);
  if (running_vm(name)) {
    vms_.write_file(name, instance_dir(name), path, write);
    return;
  }
  with_root(name, [&](const fs::path& root) {
    write_instance_file(root, path, write);
    return 0;
  });
}

void InstanceManager::delete_file(const std::string& name, const std::string& path) {
  check_instance_path(path);
  if (running_vm(name)) {
    vms_.delete_file(name, instance_dir(name), path);
    return;
  }
  with_root(name, [&](const fs::path& root) {
    delete_instance_file(root, path);
    return 0;
  });
}

void InstanceManager::snapshot(const std::string& name, const std::string& snapshot) {
  validate_snapshot_name(snapshot);
  const auto lock = lock_for(name);
  std::lock_guard guard(*lock);
  const InstanceRecord record = load_existing(name);
  const fs::path dir = instance_dir(name);
  const fs::path target = dir / "snapshots" / snapshot;
  if (fs::exists(target)) {
    throw StateError("snapshot " + name + "/" + snapshot + " already exists");
  }
  const fs::path staging = dir / "snapshots" / (".new-" + snapshot);
  std::error_code ec;
  fs::remove_all(staging, ec);
  if (record.type == InstanceType::kVirtualMachine) {
    try {
      vms_.snapshot(dir, staging);
    } catch (...) {
      fs::remove_all(staging, ec);
      throw;
    }
    fs::rename(staging, target);
    return;
  }
  // A running instance is frozen while its layer is copied, so the copy is consistent.
  const bool frozen = containers_.status(name) == InstanceStatus::kRunning;
  if (frozen) containers_.freeze(name);
  try {
    copy_tree(dir / "upper", staging / "upper");
  } catch (...) {
    if (frozen) containers_.unfreeze(name);
    fs::remove_all(staging, ec);
    throw;
  }
  if (frozen) containers_.unfreeze(name);
  fs::rename(staging, target);
}

void InstanceManager::restore(const std::string& name, const std::string& snapshot) {
  validate_snapshot_name(snapshot);
  const auto lock = lock_for(name);
  std::lock_guard guard(*lock);
  InstanceRecord record = load_existing(name);
  const bool vm = record.type == InstanceType::kVirtualMachine;
  const fs::path dir = instance_dir(name);
  const fs::path source = dir / "snapshots" / snapshot / "upper";
  if (vm ? !VmBackend::is_snapshot(source.parent_path()) : !fs::is_directory(source)) {
    throw NotFoundError("snapshot " + name + "/" + snapshot + " not found");
  }
  const bool was_running = status_of(record) != InstanceStatus::kStopped;
  if (was_running) stop_locked(record, kRecoveryStopTimeout, false);
  if (vm) {
    VmBackend::restore(dir, source.parent_path());
    if (was_running) start_locked(record);
    return;
  }
  const fs::path staging = dir / ".restore-upper";
  std::error_code ec;
  fs::remove_all(staging, ec);
  copy_tree(source, staging);
  fs::remove_all(dir / "upper");
  fs::rename(staging, dir / "upper");
  fs::remove_all(dir / "work");
  fs::create_directories(dir / "work");
  if (was_running) start_locked(record);
}

void InstanceManager::delete_snapshot(const std::string& name, const std::string& snapshot) {
  validate_snapshot_name(snapshot);
  const auto lock = lock_for(name);
  std::lock_guard guard(*lock);
  (void)load_existing(name);
  const fs::path target = instance_dir(name) / "snapshots" / snapshot;
  if (!fs::exists(target)) throw NotFoundError("snapshot " + name + "/" + snapshot + " not found");
  fs::remove_all(target);
}

std::vector<std::string> InstanceManager::snapshots(const std::string& name) const {
  return get(name).snapshots;
}

void InstanceManager::remove_image(const std::string& ref) {
  const ImageInfo image = images_.get(ref);
  for (const auto& view : list()) {
    if (view.record.image == image.fingerprint) {
      throw StateError("image " + image.fingerprint.substr(0, 12) + " is used by instance " +
                       view.record.name);
    }
  }
  images_.remove(image.fingerprint);
}

void InstanceManager::recover() {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(instances_dir_)) {
    const std::string name = entry.path().filename().string();
    if (name.starts_with(".")) {
      fs::remove_all(entry.path(), ec);  // a delete or restore that a crash cut short
      continue;
    }
    InstanceRecord record;
    try {
      if (!fs::exists(record_file(entry.path()))) {
        // Killed before the record was written: nothing was made but the directory.
        fs::remove_all(entry.path(), ec);
        continue;
      }
      record = load_record(record_file(entry.path()));
      if (record.creating) {
        spdlog::info("instance {}: removing what an interrupted create left", name);
        destroy(name);
        continue;
      }
      const bool autostart =
          record.config.contains("boot.autostart") && record.config.at("boot.autostart") == "true";
      if (record.type == InstanceType::kVirtualMachine) {
        if (vms_.status(entry.path()) != InstanceStatus::kStopped) {
          spdlog::info("instance {}: its VM still runs, adopted", name);
        } else if (record.running_wanted || autostart) {
          spdlog::info("instance {}: starting", name);
          start_locked(record);
        }
      } else if (containers_.status(name) == InstanceStatus::kStopped &&
                 (record.running_wanted || autostart)) {
        spdlog::info("instance {}: starting", name);
        containers_.stop(name, entry.path(), std::chrono::milliseconds(0), true);
        start_locked(record);
      }
    } catch (const Error& e) {
      spdlog::error("instance {}: {}", name, e.what());
    }
  }
}

}  // namespace vmm::instance
