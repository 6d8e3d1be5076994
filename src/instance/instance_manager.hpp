#pragma once
// The instances of one host: named containers and virtual machines made from images, kept
// under a state directory so they outlive the manager: <state>/images (ImageStore),
// <state>/instances/<name>/ (instance.json, the root's overlay layers or a VM's root disk,
// snapshots, console.log) and <state>/containers (the container runtime's state).
//
// Every operation on one instance is serialized; different instances proceed in parallel.
// Errors: vmm::ConfigError (bad name, key or value), vmm::NotFoundError (no such instance,
// image or snapshot), vmm::StateError (a duplicate name, or a request the instance's state does
// not allow), vmm::Error (the host failed). A failed create leaves nothing behind.
#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "instance/bridge_network.hpp"
#include "instance/container_backend.hpp"
#include "instance/image_store.hpp"
#include "instance/instance_files.hpp"
#include "instance/instance_record.hpp"
#include "instance/vm_backend.hpp"

namespace vmm::instance {

struct CreateRequest {
  std::string name;
  InstanceType type = InstanceType::kContainer;
  std::string image;  // alias or fingerprint
  std::map<std::string, std::string> config;
  // "bridge" or "none"; empty: the bridge when the manager has one.
  std::string network;
};

struct InstanceView {
  InstanceRecord record;
  InstanceStatus status = InstanceStatus::kStopped;
  pid_t pid = 0;
  std::vector<std::string> snapshots;
  std::string host_interface;  // while it runs on the bridge: the host's veth end or TAP
  std::string ipv4;          // while it runs on the bridge: a container's; the address a VM leased
  std::string vsock_socket;  // a VM's, where its guest agent is reached
  std::string runtime_root;  // a running container's: its runtime's state (direct exec)
};

class InstanceManager final {
 public:
  // `vmm_exe` is the vmm binary that runs the container runtime and the VMs. With a bridge,
  // container instances attach to it by default. VM instances boot `vm_boot`'s kernel.
  InstanceManager(std::filesystem::path state_dir, std::filesystem::path vmm_exe,
                  std::optional<BridgeConfig> bridge = std::nullopt, VmBootConfig vm_boot = {});

  [[nodiscard]] ImageStore& images() noexcept { return images_; }

  // What create checks before it makes anything: the configuration, and what the type allows
  // (a VM needs the daemon's kernel; only a VM has root.size). vmm::ConfigError.
  void validate_request(const CreateRequest& request) const;
  InstanceView create(const CreateRequest& request);
  void start(const std::string& name);
  void stop(const std::string& name, std::chrono::milliseconds timeout, bool force);
  void restart(const std::string& name, std::chrono::milliseconds timeout, bool force);
  void freeze(const std::string& name);
  void unfreeze(const std::string& name);
  // A running instance only with force (stopped first).
  void remove(const std::string& name, bool force);
  // Sets (and, with an empty value, removes) configuration keys; limits apply at the next start.
  InstanceView update_config(const std::string& name,
                             const std::map<std::string, std::string>& changes);

  [[nodiscard]] InstanceView get(const std::string& name) const;
  [[nodiscard]] std::vector<InstanceView> list() const;
  [[nodiscard]] bool exists(const std::string& name) const;

  // Runs a command in a running instance (a VM's through its guest agent); its exit status.
  int exec(const std::string& name, const ExecOptions& options);
  // Returns once a running VM's guest agent answers (at once for a container); vmm::Error after
  // `timeout`, vmm::StateError when the instance is or goes stopped.
  void wait_agent(const std::string& name, std::chrono::milliseconds timeout);

  // Files in a container instance's root, running or stopped (see instance_files.hpp), or in a
  // running VM through its guest agent.
  [[nodiscard]] FileEntry read_file(const std::string& name, const std::string& path);
  void write_file(const std::string& name, const std::string& path, const FileWrite& write);
  void delete_file(const std::string& name, const std::string& path);

  void snapshot(const std::string& name, const std::string& snapshot);
  // Stops the instance for the restore when it runs, and starts it again afterwards.
  void restore(const std::string& name, const std::string& snapshot);
  void delete_snapshot(const std::string& name, const std::string& snapshot);
  [[nodiscard]] std::vector<std::string> snapshots(const std::string& name) const;

  // At manager start: removes what a killed manager left half-created, starts what should run
  // (it ran when the manager went, or it is boot.autostart) unless it still runs.
  void recover();

  [[nodiscard]] std::filesystem::path instance_dir(const std::string& name) const;
  // The image is still the lower layer of an instance: deleting it is refused.
  void remove_image(const std::string& ref);

 private:
  // The lock that serializes one instance's operations.
  std::shared_ptr<std::mutex> lock_for(const std::string& name) const;
  [[nodiscard]] InstanceRecord load_existing(const std::string& name) const;
  [[nodiscard]] InstanceView view_of(const InstanceRecord& record) const;
  void set_frozen(const std::string& name, bool frozen);
  // The lowest vsock context ID no instance has; with network_mutex_ held.
  [[nodiscard]] uint32_t free_vsock_cid() const;
  // Whether `name` is a VM (running: else vmm::StateError) rather than a container.
  [[nodiscard]] bool running_vm(const std::string& name) const;
  void start_locked(InstanceRecord& record);
  void start_backend(const InstanceRecord& record);
  void stop_locked(InstanceRecord& record, std::chrono::milliseconds timeout, bool force);
  void destroy(const std::string& name);
  // Runs action(rootfs) on a container instance's mounted root, under its lock.
  template <typename Action>
  auto with_root(const std::string& name, Action action);
  // eth0 on the bridge for a running container instance, and its name server.
  void attach_network(const InstanceRecord& record);
  [[nodiscard]] std::string host_interface(const std::string& name) const;
  // The instances' names and addresses, for the bridge's DNS.
  void publish_hosts();
  // The instance's state from its backend.
  [[nodiscard]] InstanceStatus status_of(const InstanceRecord& record) const;
  void freeze_backend(const InstanceRecord& record);
  void unfreeze_backend(const InstanceRecord& record);

  std::filesystem::path state_dir_;
  std::filesystem::path instances_dir_;
  ImageStore images_;
  ContainerBackend containers_;
  VmBackend vms_;
  std::unique_ptr<BridgeNetwork> bridge_;
  std::mutex network_mutex_;  // address and vsock context ID allocation
  mutable std::mutex locks_mutex_;
  mutable std::map<std::string, std::shared_ptr<std::mutex>> locks_;
  std::set<std::string> creating_;  // names reserved by creates in progress (under locks_mutex_)
};

}  // namespace vmm::instance
