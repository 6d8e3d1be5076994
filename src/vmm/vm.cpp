#include "vmm/vm.hpp"

#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/sysinfo.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <mutex>
#include <optional>

#include "agent/agent_binary.hpp"
#include "devices/legacy/serial.hpp"
#include "devices/pci/pci_root.hpp"
#include "devices/virtio/virtio_pci.hpp"
#include "loader/agent_initramfs.hpp"
#include "loader/host_exec_initramfs.hpp"
#include "loader/host_exec_modules.hpp"
#include "loader/input_file.hpp"
#include "vmm/arch/arch.hpp"
#include "vmm/bus/bus.hpp"
#include "vmm/common/error.hpp"
#include "vmm/common/host_exec_layout.hpp"
#include "vmm/common/size.hpp"
#include "vmm/common/uuid.hpp"
#include "vmm/config/kernel_cmdline.hpp"
#include "vmm/confine/thread_seccomp.hpp"
#include "vmm/device_manager.hpp"
#include "vmm/event_loop/event_loop.hpp"
#include "vmm/host_console.hpp"
#include "vmm/kvm/kvm.hpp"
#include "vmm/kvm_ioevent_registrar.hpp"
#include "vmm/kvm_irq_line.hpp"
#include "vmm/kvm_msi_router.hpp"
#include "vmm/memory/guest_memory.hpp"
#include "vmm/platform_devices.hpp"
#include "vmm/stop_controller.hpp"
#include "vmm/vcpu_runner.hpp"
#include "vmm/virtio/block_device.hpp"
#include "vmm/virtio/console_device.hpp"
#include "vmm/virtio/mmio_transport.hpp"
#include "vmm/virtio/net_factory.hpp"
#include "vmm/virtio/p9_device.hpp"
#include "vmm/virtio/vsock_device.hpp"

namespace vmm {
namespace {

namespace layout = arch::layout;

constexpr uint64_t kMinMemory = 32ULL << 20;

uint64_t host_memory_bytes() {
  struct sysinfo info {};
  if (::sysinfo(&info) != 0) return UINT64_MAX;
  return (static_cast<uint64_t>(info.totalram) + info.totalswap) * info.mem_unit;
}

void validate(const VmConfig& config) {
  if (config.cpus == 0) throw ConfigError("cpus", "must be at least 1");
  if (config.cpus > kMaxCpus) {
    throw ConfigError("cpus", std::to_string(config.cpus) + " is more than the " +
                                  std::to_string(kMaxCpus) + " vCPUs this VMM supports");
  }
  if (config.memory_bytes < kMinMemory) {
    throw ConfigError("memory", format_size(config.memory_bytes) + " is too small; at least " +
                                    format_size(kMinMemory) + " is needed");
  }
  const uint64_t host = host_memory_bytes();
  if (config.memory_bytes > host) {
    throw ConfigError("memory", format_size(config.memory_bytes) + " is more than the host has (" +
                                    std::to_string(host >> 20) + " MiB)");
  }
  for (size_t i = 0; i < config.shares.size(); ++i) {
    for (size_t j = 0; j < i; ++j) {
      if (config.shares[i].tag == config.shares[j].tag) {
        throw ConfigError("share", "tag '" + config.shares[i].tag + "' is used by two shares");
      }
    }
  }
  if (config.agent && !config.initrd) {
    throw ConfigError("agent", "needs an initrd: the agent starts from the initramfs");
  }
  if (config.host_exec) {
    if (config.initrd) throw ConfigError("exec", "makes its own initramfs; leave out --initrd");
    if (config.agent) throw ConfigError("exec", "cannot be combined with --agent");
    if (config.console != ConsoleKind::kVirtio) {
      throw ConfigError("exec", "needs the virtio console (the command's stdout)");
    }
    const bool has_root =
        std::any_of(config.shares.begin(), config.shares.end(),
                    [](const ShareConfig& share) { return share.tag == host_exec::kRootTag; });
    if (!has_root) {
      throw ConfigError("exec",
                        "needs the guest's root as a share tagged root (--share "
                        "/,tag=root,readonly=on)");
    }
    if (has_cmdline_word(config.cmdline, "rdinit=", true)) {
      throw ConfigError("exec", "starts its own init; remove rdinit= from the command line");
    }
  }
  if (config.agent && has_cmdline_word(config.cmdline, "rdinit=", true)) {
    throw ConfigError("agent",
                      "starts as rdinit= itself and then runs the initramfs's /init; remove "
                      "rdinit= from the command line");
  }
}

size_t virtio_device_count(const VmConfig& config) {
  return config.disks.size() + config.nets.size() + (config.vsock ? 1 : 0) + config.shares.size() +
         (config.console == ConsoleKind::kVirtio ? 1 : 0);
}

// virtio-mmio devices cannot be probed: an ACPI kernel finds them in the DSDT (LNRO0005), one
// booted with acpi=off learns them from its command line (VIRTIO_MMIO_CMDLINE_DEVICES).
// Device i gets window i and the i-th free interrupt line, as DeviceManager hands them out.
std::string effective_cmdline(const VmConfig& config) {
  std::string cmdline = config.cmdline;
  if (config.transport != TransportKind::kMmio || !has_cmdline_word(cmdline, "acpi=off"))
    return cmdline;
  const size_t n = virtio_device_count(config);
  if (n > layout::kVirtioMmioIrqs.size()) {
    throw ConfigError("transport", "mmio supports at most " +
                                       std::to_string(layout::kVirtioMmioIrqs.size()) +
                                       " virtio devices");
  }
  for (size_t i = 0; i < n; ++i) {
    cmdline += fmt::format(" virtio_mmio.device={}K@{:#x}:{}", layout::kVirtioMmioSize / 1024,
                           layout::kVirtioMmioStart + i * layout::kVirtioMmioSize,
                           layout::kVirtioMmioIrqs[i]);
  }
  return cmdline;
}

// With the guest agent, its archive follows the initrd and rdinit= starts it first.
arch::KernelConfig kernel_config(const VmConfig& config) {
  arch::KernelConfig boot{
      .kernel = config.kernel, .initrd = config.initrd, .cmdline = effective_cmdline(config)};
  if (config.agent) {
    const auto file = loader::InputFile::open(agent::find_agent_binary());
    if (file.size() == 0) throw ConfigError(file.path().string() + ": the guest agent is empty");
    boot.initrd_appendix = loader::agent_initramfs(file.read_all());
    boot.cmdline = append_cmdline(std::move(boot.cmdline), loader::kAgentRdinit);
  }
  if (config.host_exec) {
    const auto init = loader::InputFile::open(agent::find_agent_binary());
    if (init.size() == 0) throw ConfigError(init.path().string() + ": the guest agent is empty");
    const auto modules = loader::host_exec_modules_for(config.kernel);
    boot.initrd_appendix = loader::host_exec_initramfs(
        init.read_all(), modules, config.host_exec->command, config.host_exec->cwd);
    boot.cmdline =
        append_cmdline(std::move(boot.cmdline), "rdinit=" + std::string(host_exec::kInitPath));
  }
  return boot;
}

}  // namespace

struct Vm::Parts {
  // Declaration order is construction order; destruction runs in reverse, so vCPU threads
  // end first, then the console thread, then devices, then KVM objects and memory.
  VmConfig config;
  ConsoleIo console_io;
  // Outlives the virtio console, which the buses and transports below keep and which flushes
  // into it when it is destroyed.
  std::unique_ptr<virtio::FdConsoleOutput> virtio_console_output;
  std::atomic<VmState> state{VmState::kCreated};
  std::mutex control_mutex;  // orders start, pause, resume and the end of wait()
  std::mutex wait_mutex;     // one wait() tears down; the others get its outcome
  std::optional<VmOutcome> outcome;
  GuestMemory memory;
  arch::BootInfo boot{};
  kvm::Kvm kvm;
  kvm::VmFd vm;
  StopController stopper;
  // Device I/O runs here, off the vCPU threads. Declared before the buses and the device
  // manager, which hold devices: every device (and the watches it keeps on the loop, such as
  // a disk's io_uring completions) is gone before the loop is.
  EventLoop loop;
  Bus pio{"pio"};
  Bus mmio{"mmio"};
  DeviceManager devices{pio, mmio};
  KvmMsiRouter msi{vm, layout::kIrqLineCount};
  KvmIoEventRegistrar ioevents{vm};
  pci::PciRoot pci{mmio, layout::kPciMmioStart, layout::kPciMmioEnd, stopper};
  std::vector<std::unique_ptr<IrqLine>> irq_lines;
  std::vector<std::shared_ptr<virtio::VirtioPciDevice>> pci_devices;
  std::vector<std::shared_ptr<virtio::VirtioMmioTransport>> mmio_devices;
  std::vector<std::pair<VmDeviceInfo, std::shared_ptr<virtio::VirtioDevice>>> inventory;
  std::shared_ptr<virtio::VirtioConsole> virtio_console;
  std::shared_ptr<virtio::VirtioVsock> vsock;
  std::shared_ptr<devices::Serial> serial;
  std::unique_ptr<IrqLine> power_button;  // the GED line whose _EVT notifies \_SB.PWRB
  std::unique_ptr<HostConsoleInput> console;
  std::vector<std::unique_ptr<VcpuRunner>> vcpus;

  Parts(const VmConfig& cfg, ConsoleIo io)
      : config(cfg),
        console_io(io),
        memory(arch::create_guest_memory(cfg.memory_bytes)),
        boot(arch::load_kernel(memory, kernel_config(cfg))),
        kvm(kvm::Kvm::open(cfg.kvm_device)),
        vm(kvm.create_vm()) {}

  // Puts a virtio device on the configured transport, with the resources the device manager
  // hands out.
  void attach(const std::string& id, const std::shared_ptr<virtio::VirtioDevice>& device) {
    if (config.transport == TransportKind::kMmio) {
      const DeviceManager::MmioPlacement placed = devices.allocate_virtio_mmio(id);
      irq_lines.push_back(std::make_unique<KvmEdgeIrqLine>(vm, placed.gsi));
      auto transport =
          std::make_shared<virtio::VirtioMmioTransport>(device, memory, *irq_lines.back());
      devices.add_virtio_mmio(id, placed, transport, virtio::VirtioMmioTransport::kWindowSize);
      for (size_t q = 0; q < transport->num_queues(); ++q) {
        vm.register_ioeventfd(transport->queue_eventfd(static_cast<uint16_t>(q)),
                              placed.base + virtio::VirtioMmioTransport::kQueueNotifyOffset, 4,
                              false, q);
      }
      mmio_devices.push_back(std::move(transport));
      return;
    }
    // PCI INTx (the fallback when the driver does not enable MSI-X): level-triggered on the
    // line the device manager wires the slot to, announced in the MP table and the DSDT's _PRT.
    const DeviceManager::PciPlacement placement = devices.allocate_pci_slot(id);
    irq_lines.push_back(std::make_unique<KvmIrqLine>(vm, placement.gsi));
    auto transport = std::make_shared<virtio::VirtioPciDevice>(device, memory, msi, ioevents,
                                                               irq_lines.back().get());
    const uint8_t slot = pci.add_device(transport);
    if (slot != placement.slot) throw Error("PCI slot assignment out of order");
    devices.record_pci_device(id, placement);
    pci_devices.push_back(std::move(transport));
  }

  void shutdown_devices() {
    for (auto& d : pci_devices) d->shutdown();
    // The bus keeps the transports until the VM goes: stop them now.
    for (auto& d : mmio_devices) d->shutdown();
    mmio_devices.clear();
  }
};

const char* to_string(VmState state) noexcept {
  switch (state) {
    case VmState::kCreated:
      return "created";
    case VmState::kRunning:
      return "running";
    case VmState::kPaused:
      return "paused";
    case VmState::kShutdown:
      return "shutdown";
  }
  return "unknown";
}

Vm::Vm(const VmConfig& config, ConsoleIo console) {
  validate(config);
  parts_ = std::make_unique<Parts>(config, console);
  Parts& p = *parts_;

  if (config.cpus > p.kvm.max_vcpus()) {
    throw ConfigError("cpus", std::to_string(config.cpus) + " is more than KVM allows (" +
                                  std::to_string(p.kvm.max_vcpus()) + ")");
  }
  arch::write_boot_structures(p.memory);

  arch::setup_vm(p.vm);
  uint32_t slot = 0;
  for (const auto& region : p.memory.regions()) {
    p.vm.set_user_memory_region(slot++, region.start.raw, region.size, region.host);
  }

  DeviceManager& dm = p.devices;
  arch::PlatformDevices platform = arch::add_platform_devices(
      dm, p.vm, p.stopper, p.pci,
      console.serial_output_fd >= 0 ? console.serial_output_fd : console.output_fd);
  p.serial = std::move(platform.serial);
  p.power_button = std::move(platform.power_button);

  // virtio devices: disks first (vda, vdb, ...), then NICs, then vsock, then shares, then the
  // console.
  auto attach = [&](const std::shared_ptr<virtio::VirtioDevice>& device, std::string id,
                    const char* kind) {
    p.attach(id, device);
    p.inventory.push_back(
        {VmDeviceInfo{.id = std::move(id),
                      .kind = kind,
                      .transport = config.transport == TransportKind::kMmio ? "mmio" : "pci",
                      .counters = {}},
         device});
  };
  for (size_t i = 0; i < config.disks.size(); ++i) {
    virtio::BlockDeviceConfig disk = config.disks[i];
    disk.queues = virtio::block_queue_count(disk, config.cpus);
    attach(std::make_shared<virtio::VirtioBlock>(disk, p.loop), "disk" + std::to_string(i),
           "virtio-blk");
  }
  for (size_t i = 0; i < config.nets.size(); ++i) {
    attach(virtio::make_net_device(config.nets[i], p.loop, i, config.cpus),
           "net" + std::to_string(i), "virtio-net");
  }
  if (config.vsock) {
    try {
      p.vsock = std::make_shared<virtio::VirtioVsock>(*config.vsock, p.loop);
    } catch (const HostResourceError& e) {
      throw ConfigError("vsock", e.what());  // the path is taken: the user's to change
    }
    attach(p.vsock, "vsock0", "virtio-vsock");
  }
  for (size_t i = 0; i < config.shares.size(); ++i) {
    attach(std::make_shared<virtio::VirtioP9>(config.shares[i], p.loop),
           "share" + std::to_string(i), "virtio-9p");
  }
  if (config.console == ConsoleKind::kVirtio) {
    p.virtio_console_output = std::make_unique<virtio::FdConsoleOutput>(console.output_fd);
    p.virtio_console = std::make_shared<virtio::VirtioConsole>(*p.virtio_console_output, p.loop);
    attach(p.virtio_console, "console0", "virtio-console");
  }
  arch::write_firmware_tables(
      p.memory, dm.inventory(),
      {.cpu_count = config.cpus,
       .memory_bytes = config.memory_bytes,
       .uuid = config.uuid.empty() ? random_uuid() : parse_uuid(config.uuid)},
      p.boot);

  const arch::VcpuDefaults defaults = arch::vcpu_defaults(p.kvm, p.vm);
  for (uint32_t i = 0; i < config.cpus; ++i) {
    kvm::VcpuFd vcpu = p.vm.create_vcpu(i);
    arch::configure_vcpu(vcpu, i, config.cpus, defaults, p.boot);
    p.vcpus.push_back(std::make_unique<VcpuRunner>(i, std::move(vcpu), p.pio, p.mmio, p.stopper));
  }
  arch::finish_vm(p.vm, config.cpus);
  spdlog::info("VM ready: {} vCPU(s), {} of RAM", config.cpus, format_size(config.memory_bytes));
}

Vm::~Vm() {
  const VmState state = parts_ ? parts_->state.load() : VmState::kCreated;
  if (state != VmState::kRunning && state != VmState::kPaused) return;
  try {
    request_stop();
    (void)wait();
  } catch (const std::exception& e) {
    // The members' own destructors still stop and join every thread.
    spdlog::error("stopping the VM: {}", e.what());
  }
}

void Vm::start() {
  Parts& p = *parts_;
  std::lock_guard control(p.control_mutex);
  VmState expected = VmState::kCreated;
  if (!p.state.compare_exchange_strong(expected, VmState::kRunning)) {
    throw StateError(std::string("cannot start a VM that is ") + to_string(expected));
  }
  VcpuRunner::install_kick_signal();
  // Every device is set up: from here the loop serves the guest, confined.
  p.loop.run_sync([] { confine::confine_this_thread(confine::ThreadKind::kDeviceLoop); });
  if (p.console_io.input_fd >= 0) {
    ConsoleInputSink sink =
        p.virtio_console
            ? ConsoleInputSink([console = p.virtio_console](std::span<const uint8_t> b) {
                return console->push_input(b);
              })
            : ConsoleInputSink([serial = p.serial](std::span<const uint8_t> b) {
                return serial->enqueue_input(b);
              });
    p.console = std::make_unique<HostConsoleInput>(
        p.console_io.input_fd, std::move(sink), p.stopper,
        HostConsoleInput::Options{.escape_sequences = p.console_io.escape_sequences});
  }
  for (auto& vcpu : p.vcpus) vcpu->start();
}

void Vm::pause() {
  Parts& p = *parts_;
  std::lock_guard control(p.control_mutex);
  const VmState now = p.state.load();
  if (now != VmState::kRunning) {
    throw StateError(std::string("cannot pause a VM that is ") + to_string(now));
  }
  if (p.stopper.stop_requested()) throw StateError("cannot pause a VM that is stopping");
  for (auto& vcpu : p.vcpus) vcpu->request_pause();
  for (auto& vcpu : p.vcpus) vcpu->wait_parked();
  p.loop.pause();
  p.state.store(VmState::kPaused);
  spdlog::info("VM paused");
}

void Vm::resume() {
  Parts& p = *parts_;
  std::lock_guard control(p.control_mutex);
  const VmState now = p.state.load();
  if (now != VmState::kPaused) {
    throw StateError(std::string("cannot resume a VM that is ") + to_string(now));
  }
  p.loop.resume();
  for (auto& vcpu : p.vcpus) vcpu->resume();
  p.state.store(VmState::kRunning);
  spdlog::info("VM resumed");
}

void Vm::press_power_button() {
  Parts& p = *parts_;
  std::lock_guard control(p.control_mutex);
  const VmState now = p.state.load();
  if (now != VmState::kRunning) {
    throw StateError(std::string("cannot press the power button of a VM that is ") +
                     to_string(now));
  }
  if (!p.power_button) throw StateError("this VM has no power button");
  spdlog::info("power button pressed");
  p.power_button->trigger();
}

void Vm::request_stop() { parts_->stopper.request_stop({.reason = StopReason::kRequested}); }

int Vm::stop_event_fd() const noexcept { return parts_->stopper.event_fd(); }

VmState Vm::state() const noexcept { return parts_->state.load(); }

const VmConfig& Vm::config() const noexcept { return parts_->config; }

std::optional<VsockConfig> Vm::vsock() const {
  const auto& device = parts_->vsock;
  if (!device) return std::nullopt;
  return VsockConfig{.cid = device->guest_cid(), .socket = device->socket_path()};
}

std::vector<VmDeviceInfo> Vm::devices() const {
  std::vector<VmDeviceInfo> out;
  out.reserve(parts_->inventory.size());
  for (const auto& [info, device] : parts_->inventory) {
    out.push_back(info);
    out.back().counters = device->named_counters();
  }
  return out;
}

ExitSummary Vm::exits(std::size_t top) const {
  ExitSummary summary;
  for (const auto& vcpu : parts_->vcpus) vcpu->exit_stats().add_to(summary);
  finish_summary(summary, top);
  return summary;
}

VmOutcome Vm::wait() {
  Parts& p = *parts_;
  std::lock_guard lock(p.wait_mutex);
  if (p.outcome) return *p.outcome;
  if (p.state.load() == VmState::kCreated) {
    throw StateError("cannot wait for a VM that was not started");
  }
  pollfd fd{p.stopper.event_fd(), POLLIN, 0};
  while (!p.stopper.stop_requested()) {
    if (::poll(&fd, 1, -1) < 0 && errno != EINTR) throw system_error("poll", errno);
  }
  std::lock_guard control(p.control_mutex);
  // A paused VM stops too: the devices' shutdown runs on the event loop, and stop() wakes
  // parked vCPUs.
  p.loop.resume();
  for (auto& vcpu : p.vcpus) vcpu->stop();
  for (auto& vcpu : p.vcpus) vcpu->join();
  p.console.reset();
  // Devices stop touching guest memory and flush what the guest wrote (console output).
  p.shutdown_devices();
  p.serial->flush();
  p.outcome = p.stopper.outcome();
  p.state.store(VmState::kShutdown);
  spdlog::info("VM stopped: {}", to_string(p.outcome->reason));
  if (spdlog::should_log(spdlog::level::info)) {
    const ExitSummary exits = this->exits(8);
    std::string text;
    for (const auto& e : exits.by_kind) text += fmt::format(" {} {}", e.kind, e.count);
    spdlog::info("vCPU exits: {} in all:{}", exits.total, text);
    for (const auto& e : exits.by_address) {
      spdlog::info("vCPU exits: {} {:#x}: {}", e.kind, e.address, e.count);
    }
  }
  return *p.outcome;
}

}  // namespace vmm
