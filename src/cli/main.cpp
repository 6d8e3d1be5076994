// vmm command-line front end: turns arguments into a configuration and hands it on. It never
// touches KVM itself.
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <array>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "cli/agent_exec.hpp"
#include "cli/bench_command.hpp"
#include "cli/ctl_command.hpp"
#include "cli/disk_option.hpp"
#include "cli/exit_status.hpp"
#include "cli/farm_command.hpp"
#include "cli/host_exec_option.hpp"
#include "cli/instance_commands.hpp"
#include "cli/net_option.hpp"
#include "cli/run_command.hpp"
#include "cli/share_option.hpp"
#include "cli/termination_signals.hpp"
#include "cli/vsock_option.hpp"
#include "container/cli.hpp"
#include "container/sealed_exe.hpp"
#include "instance/console_keeper.hpp"
#include "vmm/common/error.hpp"
#include "vmm/common/size.hpp"
#include "vmm/common/uuid.hpp"
#include "vmm/config/kernel_cmdline.hpp"
#include "vmm/config/vm_config.hpp"
#include "vmm/config/vm_config_json.hpp"
#include "vmm/confine/thread_seccomp.hpp"

namespace {

constexpr const char* kExitStatusHelp =
    R"(Each command has its own --help. `vmm oci` also answers when invoked as vmm-runc or runc.
Exit status of `vmm run`:
  0     the guest rebooted, reset itself (triple fault) or powered off
  N     the guest wrote v to the debug-exit port 0xf4: N = ((v << 1) | 1) & 0xff
        (with --exec: the command's status; 125 when the guest ended without reporting it)
  1     vmm failed while running the VM
  2     usage or configuration error (bad flag, file, size, missing /dev/kvm)
  4     the guest kernel panicked (pvpanic), whatever its panic= says
  124   --timeout expired
  128+S vmm was stopped by signal S (SIGINT, SIGTERM, SIGHUP, SIGQUIT)
  A VM stopped through its API (vm.shutdown) exits 0.
Console: COM1 is connected to stdin/stdout. On a terminal, Ctrl-a x ends the VM and
Ctrl-a Ctrl-a sends a Ctrl-a; with pipes or files, bytes pass through unchanged.)";

void setup_logging(const std::string& level) {
  spdlog::drop("vmm");  // set up again by a command that picks its own level
  auto logger = spdlog::stderr_color_mt("vmm");
  logger->set_pattern("vmm: %^%l%$: %v");
  spdlog::set_default_logger(logger);
  spdlog::set_level(spdlog::level::from_str(level));
}

// How an error's field is shown: the CLI flag for the configuration fields that core errors
// name, the JSON path as it is for a field of a config file, the file itself for a file.
std::string flag_for_field(const std::string& field) {
  if (field.starts_with("disks")) return "--disk";
  if (field.starts_with("nets")) return "--net";
  static constexpr std::array<std::string_view, 16> kFlags = {
      "kernel",     "initrd", "cmdline",      "cpus", "memory", "timeout", "console", "transport",
      "kvm-device", "config", "print-config", "uuid", "agent",  "vsock",   "share",   "exec"};
  for (const auto flag : kFlags) {
    if (field == flag) return "--" + field;
  }
  return field;
}

void print_error(const vmm::Error& e) {
  const auto* config = dynamic_cast<const vmm::ConfigError*>(&e);
  if (config != nullptr && !config->field().empty()) {
    std::fprintf(stderr, "vmm: %s: %s\n", flag_for_field(config->field()).c_str(),
                 config->problem().c_str());
  } else {
    std::fprintf(stderr, "vmm: %s\n", e.what());
  }
}

int run_cli(int argc, char** argv, vmm::cli::TerminationSignals& signals) {
  // A closed stdout must surface as EPIPE in the console output, not kill the VMM.
  ::signal(SIGPIPE, SIG_IGN);
  CLI::App app{"vmm: a virtual machine monitor for Linux KVM", "vmm"};
  app.set_version_flag("--version", std::string("vmm ") + VMM_VERSION);
  app.footer(kExitStatusHelp);
  app.require_subcommand(1);

  std::string log_level = "warn";
  app.add_option("--log-level", log_level, "Log level on stderr")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}))
      ->capture_default_str();

  // Each flag lands in `flags`; only the ones given override the --config file.
  vmm::VmConfig flags;
  std::string memory = "512M";
  double timeout = 0;
  auto* run = app.add_subcommand("run", "Boot a Linux kernel in a new VM");
  // Parsed by their own command lines (dispatched before this one); listed here for --help.
  app.add_subcommand("container", "Run a workload in a container on the host kernel");
  app.add_subcommand("oci", "A runc-compatible OCI runtime (also invoked as vmm-runc or runc)");
  app.add_subcommand("bench",
                     "Benchmarks: VM and container startup and density, beside QEMU, runc, "
                     "crun and podman");
  app.add_subcommand("farm",
                     "A test farm: run a TOML file's VM and container jobs in parallel; JUnit, "
                     "TAP and JSON reports");
  app.add_subcommand("daemon", "The instance manager: a REST API over containers and VMs");
  app.add_subcommand("launch", "Create and start an instance from an image (via the daemon)");
  app.add_subcommand("list",
                     "List instances; also exec, start, stop, restart, pause, resume, "
                     "delete, info, console, snapshot, restore, config, image, remote");
  std::filesystem::path config_file;
  auto* config_opt = run->add_option(
      "--config", config_file,
      "JSON config file (vmm's schema or a Firecracker config file; see README.md); flags "
      "given beside it override its fields");
  bool print_config = false;
  run->add_flag("--print-config", print_config,
                "Print the effective configuration (--config and flags) as JSON and exit");
  auto* kernel_opt = run->add_option(
      "--kernel", flags.kernel,
      "bzImage or ELF vmlinux to boot (required, here or as boot-source.kernel_image_path). "
      "A distribution's stock kernel has virtio and its file systems as modules: boot it with "
      "its initramfs (--initrd), or it cannot mount a --disk root");
  auto* initrd_opt = run->add_option("--initrd", flags.initrd, "Initial ramdisk (cpio archive)");
  auto* agent_opt = run->add_flag(
      "--agent", flags.agent,
      "Put the guest agent (vmm-agent) into the guest: appended to the --initrd and started "
      "first (rdinit=), it runs the initramfs's /init and serves the host over virtio-vsock");
  auto* cmdline_opt =
      run->add_option("--cmdline", flags.cmdline,
                      "Kernel command line (replaces the default; see --cmdline-append). With "
                      "--disk and no root=, root=/dev/vda rw is added")
          ->capture_default_str();
  std::vector<std::string> cmdline_append;
  run->add_option("--cmdline-append", cmdline_append,
                  "Words to add to the kernel command line (the default one, or --cmdline's); "
                  "repeatable");
  auto* cpus_opt = run->add_option("--cpus", flags.cpus, "Number of vCPUs")->capture_default_str();
  auto* memory_opt =
      run->add_option("--memory", memory, "Guest RAM, e.g. 512M or 2G (a bare number is MiB)")
          ->capture_default_str();
  auto* timeout_opt =
      run->add_option("--timeout", timeout, "End the VM after SECONDS, exit status 124");
  std::vector<std::string> disks;
  auto* disk_opt = run->add_option(
      "--disk", disks,
      "virtio-blk disk: "
      "PATH[,readonly=on][,snapshot=on][,serial=ID][,cache=writeback|none]"
      "[,queues=N] "
      "(snapshot=on: writes go to a temporary overlay dropped at exit, the image "
      "is only read and may be shared; cache=none: O_DIRECT, an error where the "
      "file system has none; queues: 1 to 16 request queues, default one per vCPU); "
      "repeat for vda, vdb, ... (replaces the drives of --config)");
  std::vector<std::string> nets;
  auto* net_opt = run->add_option(
      "--net", nets,
      "virtio-net NIC: tap=NAME[,bridge=BR][,mac=MAC][,queues=N][,vhost=on|off] (attach to or "
      "create a TAP; with bridge=, bring it up as a port of BR; queues: 1 to 16 queue pairs on a "
      "multi-queue TAP, default one per vCPU where the TAP allows; vhost=on: the kernel's "
      "vhost-net moves the packets, one queue pair) or "
      "user[,hostfwd=tcp:[ADDR]:PORT-:PORT]...[,mac=MAC] (rootless NAT with DHCP "
      "and DNS); repeat for more NICs (replaces the network-interfaces of --config)");
  std::string vsock;
  auto* vsock_opt = run->add_option(
      "--vsock", vsock,
      "virtio-vsock device: cid=N,socket=PATH (guest CID 3 or more). Host programs connect to "
      "the Unix socket PATH and send \"CONNECT <port>\\n\" to reach a guest port (answered "
      "\"OK <hostport>\\n\", Firecracker's convention); guest connections to CID 2 port P go "
      "to a listener on PATH_P. Replaces the vsock of --config");
  std::vector<std::string> shares;
  auto* share_opt = run->add_option(
      "--share", shares,
      "host directory over virtio-9p: PATH,tag=NAME[,readonly=on]; the guest mounts it with "
      "mount -t 9p -o trans=virtio,version=9p2000.L NAME /mnt. Repeat for more shares");
  std::string exec_command;
  auto* exec_opt = run->add_option(
      "--exec", exec_command,
      "Run CMD with /bin/sh -c in the guest and exit with its status: the guest boots from the "
      "share tagged root (--share /,tag=root,readonly=on) under a tmpfs overlay, in vmm's "
      "directory when that is inside the share; CMD's stdout and stderr are vmm's. vmm makes "
      "the initramfs itself (no --initrd)");
  std::string console = "serial";
  auto* console_opt = run->add_option("--console", console,
                                      "Interactive console: serial (ttyS0) or virtio (hvc0; "
                                      "ttyS0 still shows boot messages)")
                          ->check(CLI::IsMember({"serial", "virtio"}))
                          ->capture_default_str();
  std::string transport = "pci";
  auto* transport_opt =
      run->add_option("--transport", transport,
                      "virtio transport: pci, or mmio (described in the ACPI DSDT; with acpi=off, "
                      "announced on the kernel command line)")
          ->check(CLI::IsMember({"pci", "mmio"}))
          ->capture_default_str();
  auto* kvm_device_opt =
      run->add_option("--kvm-device", flags.kvm_device, "KVM device node")->capture_default_str();
  std::string uuid;
  auto* uuid_opt = run->add_option(
      "--uuid", uuid, "The machine's SMBIOS UUID (8-4-4-4-12 hex; default: a random one)");
  vmm::cli::RunOptions run_options;
  std::string on_reboot = "exit";
  run->add_option("--on-reboot", on_reboot,
                  "What a guest reboot does: exit (vmm exits 0) or restart (the guest boots "
                  "again; power-off still exits)")
      ->check(CLI::IsMember({"exit", "restart"}))
      ->capture_default_str();
  std::string seccomp = "kill";
  run->add_option("--seccomp", seccomp,
                  "Confine each vmm thread to the system calls its kind needs: kill (a forbidden "
                  "call ends vmm with status 159 and a log line), log (the kernel logs it and "
                  "it goes on), off (no filters; for debugging)")
      ->check(CLI::IsMember({"kill", "log", "off"}))
      ->capture_default_str();
  bool jail = false;
  auto* jail_opt = run->add_flag(
      "--jail", jail,
      "Confine vmm itself: new pid, mount, ipc, uts and network namespaces, a cgroup with the "
      "VM's limits, an empty read-only root, and an unprivileged uid with no capabilities once "
      "the VM is built (needs root; TAP networking only)");
  std::string jail_user;
  run->add_option("--jail-user", jail_user,
                  "UID[:GID] the jailed vmm becomes (default 65534:65534, nobody)")
      ->needs(jail_opt);
  run->add_option("--api-socket", run_options.api_socket,
                  "Serve the VM's REST API (HTTP over this Unix socket, mode 0600): ping, info, "
                  "pause, resume, shutdown, counters, power-button");

  std::string ctl_socket;
  std::string ctl_command;
  auto* ctl = app.add_subcommand("ctl", "Control a running VM through its API socket");
  ctl->add_option("--api-socket", ctl_socket, "The socket given to `vmm run --api-socket`")
      ->required();
  ctl->add_option("command", ctl_command,
                  "ping, info, counters, pause, resume, shutdown, power-button, exec or "
                  "wait-agent")
      ->required()
      ->check(CLI::IsMember({"ping", "info", "counters", "pause", "resume", "shutdown",
                             "power-button", "exec", "wait-agent"}));
  std::vector<std::string> ctl_args;
  ctl->add_option("args", ctl_args, "exec: -- COMMAND [ARGS...]");
  vmm::cli::AgentExecOptions ctl_exec;
  std::string ctl_user;
  bool ctl_tty = false;
  bool ctl_no_tty = false;
  double ctl_timeout = 300;
  ctl->add_option("--env", ctl_exec.environment, "exec: KEY=VALUE, repeatable");
  ctl->add_option("--cwd", ctl_exec.cwd, "exec: working directory");
  ctl->add_option("--user", ctl_user, "exec: UID or UID:GID");
  ctl->add_flag("--force-interactive,-t", ctl_tty, "exec: a pseudo-terminal");
  ctl->add_flag("--force-noninteractive,-T", ctl_no_tty, "exec: no pseudo-terminal");
  ctl->add_option("--timeout", ctl_timeout, "wait-agent: seconds (default 300)");
  ctl->footer(
      "Prints the answer's JSON on stdout. exec runs a command in the guest through its agent "
      "(the VM needs --vsock and a guest agent) and exits with its status; wait-agent returns "
      "once the agent answers. Exit status: 0 success, 1 the API answered with an error "
      "(printed on stderr), 2 bad usage or no API answers on the socket, 124 the agent did "
      "not answer in time.");
  run->add_option("--log-level", log_level, "Log level on stderr")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}));
  run->footer(kExitStatusHelp);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "vmm: %s (see vmm --help)\n", e.what());
    return static_cast<int>(vmm::ExitStatus::kUsageError);
  }

  setup_logging(log_level);
  try {
    if (run->parsed()) {
      auto given = [](const CLI::Option* option) { return option->count() > 0; };
      vmm::VmConfig config;
      if (given(config_opt)) config = vmm::load_vm_config_file(config_file, config);
      if (given(kernel_opt)) config.kernel = flags.kernel;
      if (given(initrd_opt)) config.initrd = flags.initrd;
      if (given(agent_opt)) config.agent = flags.agent;
      if (given(cmdline_opt)) config.cmdline = flags.cmdline;
      if (given(cpus_opt)) config.cpus = flags.cpus;
      if (given(memory_opt)) {
        auto bytes = vmm::parse_size(memory);
        if (!bytes) throw vmm::ConfigError("memory", "cannot parse size '" + memory + "'");
        config.memory_bytes = *bytes;
      }
      if (given(disk_opt)) {
        config.disks.clear();
        for (const auto& d : disks) config.disks.push_back(vmm::cli::parse_disk_option(d));
      }
      if (given(net_opt)) {
        config.nets.clear();
        for (const auto& n : nets) config.nets.push_back(vmm::cli::parse_net_option(n));
      }
      if (given(vsock_opt)) config.vsock = vmm::cli::parse_vsock_option(vsock);
      if (given(share_opt)) {
        config.shares.clear();
        for (const auto& s : shares) config.shares.push_back(vmm::cli::parse_share_option(s));
      }
      if (given(console_opt)) {
        config.console =
            console == "virtio" ? vmm::ConsoleKind::kVirtio : vmm::ConsoleKind::kSerial;
      }
      if (given(transport_opt)) {
        config.transport =
            transport == "mmio" ? vmm::TransportKind::kMmio : vmm::TransportKind::kPci;
      }
      if (given(kvm_device_opt)) config.kvm_device = flags.kvm_device;
      if (given(uuid_opt)) config.uuid = vmm::to_string(vmm::parse_uuid(uuid));
      if (given(exec_opt)) {
        config.host_exec = vmm::cli::host_exec_config(exec_command, config.shares);
        config.console = vmm::ConsoleKind::kVirtio;
        if (!given(cmdline_opt)) config.cmdline = vmm::cli::kHostExecCmdline;
        if (print_config) throw vmm::ConfigError("exec", "has no place in a config file");
        if (on_reboot == "restart") {
          throw vmm::ConfigError("exec", "ends with the command; --on-reboot restart cannot apply");
        }
      }
      for (const auto& words : cmdline_append) {
        config.cmdline = vmm::append_cmdline(std::move(config.cmdline), words);
      }
      vmm::add_root_default(config);
      if (config.kernel.empty()) {
        throw vmm::ConfigError("kernel", "required (or boot-source.kernel_image_path in --config)");
      }
      if (config.agent && !config.initrd) {
        throw vmm::ConfigError("--agent needs --initrd: the agent starts from the initramfs");
      }
      if (print_config) {
        std::string text;
        try {
          text = vmm::vm_config_to_json(config).dump(2);
        } catch (const nlohmann::json::type_error&) {
          throw vmm::ConfigError("print-config", "a path or the command line is not UTF-8");
        }
        std::cout << text << std::endl;
        return static_cast<int>(vmm::ExitStatus::kOk);
      }
      if (given(timeout_opt)) run_options.timeout_seconds = timeout;
      run_options.restart_on_reboot = on_reboot == "restart";
      run_options.seccomp = *vmm::confine::parse_seccomp_mode(seccomp);
      if (jail) {
        run_options.jail =
            jail_user.empty() ? vmm::jail::JailOptions{} : vmm::jail::parse_jail_user(jail_user);
      }
      return vmm::cli::run_in_foreground(config, run_options, signals);
    }
    if (ctl->parsed()) {
      if (ctl_command == "exec") {
        if (ctl_args.empty()) throw vmm::ConfigError("exec", "no command given (exec -- CMD)");
        if (ctl_tty && ctl_no_tty) {
          throw vmm::ConfigError("exec", "-t and -T exclude each other");
        }
        ctl_exec.command = ctl_args;
        if (!ctl_user.empty()) vmm::cli::parse_exec_user(ctl_user, ctl_exec);
        if (ctl_tty) ctl_exec.terminal = vmm::cli::TerminalMode::kAlways;
        if (ctl_no_tty) ctl_exec.terminal = vmm::cli::TerminalMode::kNever;
        return vmm::cli::run_ctl_exec(ctl_socket, ctl_exec);
      }
      if (ctl_command == "wait-agent") {
        return vmm::cli::run_ctl_wait_agent(
            ctl_socket, std::chrono::milliseconds(static_cast<int64_t>(ctl_timeout * 1000)));
      }
      if (!ctl_args.empty()) throw vmm::ConfigError(ctl_command, "takes no arguments");
      return vmm::cli::run_ctl(ctl_socket, ctl_command);
    }
  } catch (const vmm::Error& e) {
    print_error(e);
    return vmm::cli::exit_status(e.kind());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "vmm: internal error: %s\n", e.what());
    return static_cast<int>(vmm::ExitStatus::kRuntimeError);
  }
  return static_cast<int>(vmm::ExitStatus::kUsageError);
}

// `vmm container ...` and `vmm oci ...` have command lines of their own; the binary also acts
// as a runc-compatible OCI runtime when invoked under such a name (a vmm-runc symlink), since
// container tools call `<runtime> <command> ...`.
std::optional<int> run_container_modes(int argc, char** argv) {
  // spdlog's own default logger writes to stdout, which belongs to the container (and to the
  // JSON that `vmm oci state` prints): every log line goes to stderr instead.
  setup_logging("info");
  std::string_view self = argc > 0 ? argv[0] : "vmm";
  if (const auto slash = self.rfind('/'); slash != std::string_view::npos) {
    self = self.substr(slash + 1);
  }
  if (self == "vmm-runc" || self == "runc") return vmm::container::oci_main(argc, argv);
  if (argc >= 2 && std::string_view(argv[1]) == "container") {
    return vmm::container::container_main(argc - 1, argv + 1);
  }
  if (argc >= 2 && std::string_view(argv[1]) == "oci") {
    return vmm::container::oci_main(argc - 1, argv + 1);
  }
  if (argc >= 2 && std::string_view(argv[1]) == "bench") return vmm::cli::bench_main(argc, argv);
  if (argc >= 2 && std::string_view(argv[1]) == "farm") return vmm::cli::farm_main(argc, argv);
  // Started by the instance manager for each system container; not a user's command.
  if (argc >= 2 && std::string_view(argv[1]) == "console-keeper") {
    return vmm::instance::console_keeper_main(argc - 1, argv + 1);
  }
  return std::nullopt;
}

// The instance manager's commands (launch, list, exec, ..., daemon).
std::optional<int> run_instance_commands(int argc, char** argv) {
  if (argc < 2 || !vmm::cli::is_instance_command(argv[1])) return std::nullopt;
  setup_logging("info");
  try {
    return vmm::cli::instance_main(argc, argv);
  } catch (const vmm::Error& e) {
    std::fprintf(stderr, "vmm: %s\n", e.what());
    return vmm::cli::exit_status(e.kind());
  }
}

// A command that starts a container re-executes itself from a sealed copy; doing it from
// .preinit_array, before libraries and this program initialise, spares the first start all of
// that. (The sanitizers' runtimes initialise there too: left out of those builds.)
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define VMM_SANITIZED 1
#endif
#endif
#if !defined(__SANITIZE_ADDRESS__) && !defined(VMM_SANITIZED)
[[gnu::used, gnu::section(".preinit_array")]] void (*const kSealEarly)(int, char**, char**) =
    vmm::container::reexec_sealed_early;
#endif

}  // namespace

int main(int argc, char** argv) {
  try {
    if (auto status = run_container_modes(argc, argv)) return *status;
    if (auto status = run_instance_commands(argc, argv)) return *status;
    // Before any thread exists, so that every thread inherits the blocked mask.
    vmm::cli::TerminationSignals signals;
    return run_cli(argc, argv, signals);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "vmm: internal error: %s\n", e.what());
  } catch (...) {
    std::fprintf(stderr, "vmm: internal error\n");
  }
  return static_cast<int>(vmm::ExitStatus::kRuntimeError);
}
