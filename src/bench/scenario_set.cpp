#include "bench/scenario_set.hpp"

#include <unistd.h>

#include <algorithm>
#include <filesystem>

#include "vmm/common/error.hpp"

namespace fs = std::filesystem;

namespace vmm::bench {
namespace {

// vmm's default command line (kDefaultCmdline: pci=noearly), quiet; the same for every VMM.
constexpr const char* kGuestCmdline = "console=ttyS0 reboot=k panic=-1 quiet pci=noearly";

struct Guest {
  std::string name;  // "minimal" or "stock"
  fs::path kernel;
  std::string missing;  // why this kernel cannot run, if it cannot
};

std::vector<Guest> guests(const BenchOptions& o) {
  std::vector<Guest> list;
  for (const auto& [name, kernel] :
       {std::pair<std::string, fs::path>{"minimal", o.minimal_kernel}, {"stock", o.kernel}}) {
    Guest g{name, kernel, ""};
    if (kernel.empty() || !fs::exists(kernel)) {
      g.missing = "no " + name + " kernel" + (kernel.empty() ? "" : " at " + kernel.string()) +
                  (name == "minimal" ? " (firmware/build-minimal-kernel.sh builds it)"
                                     : " (firmware/fetch-debian-kernel.sh fetches it)");
    }
    list.push_back(std::move(g));
  }
  return list;
}

std::string vm_skip_reason(const BenchOptions& o, const Guest& g) {
  if (!g.missing.empty()) return g.missing;
  if (o.initrd.empty() || !fs::exists(o.initrd)) {
    return "no test initramfs" + (o.initrd.empty() ? "" : " at " + o.initrd.string()) +
           " (firmware/build-test-initramfs.sh builds it)";
  }
  if (auto why = kvm_unavailable_reason()) return *why;
  return "";
}

Scenario vmm_vm(const BenchOptions& o, const Guest& g, const std::string& action) {
  Scenario s;
  s.name = "vmm-vm-" + g.name;
  s.kind = "vm";
  s.description = "vmm run, " + g.name + " kernel, test initramfs";
  s.argv = {o.vmm.string(), "run",
            "--kernel",     g.kernel.string(),
            "--initrd",     o.initrd.string(),
            "--cpus",       std::to_string(o.cpus),
            "--memory",     std::to_string(o.memory_mib) + "M",
            "--cmdline",    std::string(kGuestCmdline) + " vmmbench=" + action};
  s.ready_marker = kVmReadyMarker;
  s.expected_status = kDebugExitStatus;
  s.ours = true;
  return s;
}

Scenario qemu_vm(const BenchOptions& o, const Guest& g, const std::string& machine,
                 const std::optional<fs::path>& qemu) {
  Scenario s;
  s.name = "qemu-" + machine + "-" + g.name;
  s.kind = "vm";
  s.description = "QEMU -M " + machine + ", " + g.name + " kernel, test initramfs";
  s.argv = {qemu ? qemu->string() : "qemu-system-x86_64",
            "-M",
            machine,
            "-enable-kvm",
            "-cpu",
            "host",
            "-smp",
            std::to_string(o.cpus),
            "-m",
            std::to_string(o.memory_mib),
            "-nodefaults",
            "-no-user-config",
            "-no-reboot",
            "-display",
            "none",
            "-serial",
            "stdio",
            "-device",
            "isa-debug-exit,iobase=0xf4,iosize=0x04",
            "-kernel",
            g.kernel.string(),
            "-initrd",
            o.initrd.string(),
            "-append",
            std::string(kGuestCmdline) + " vmmbench=exit"};
  s.ready_marker = kVmReadyMarker;
  s.expected_status = kDebugExitStatus;
  return s;
}

std::vector<std::string> podman_argv(const fs::path& podman, const Workspace& ws,
                                     const std::string& runtime, const std::string& rootfs) {
  return {podman.string(), "--root", (ws.dir() / "podman/storage").string(), "--runroot",
          (ws.dir() / "podman/run").string(), "--storage-driver", "vfs", "--cgroup-manager",
          "cgroupfs", "--events-backend", "file", "--runtime", runtime, "run", "--rm", "--network",
          "none",
          // podman's default rlimits exceed the host's hard ones without CAP_SYS_RESOURCE.
          "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024", "--rootfs", rootfs,
          "/bin/echo", kContainerReadyMarker};
}

}  // namespace

std::vector<std::string> with_id(const std::vector<std::string>& argv, const std::string& id) {
  std::vector<std::string> out = argv;
  for (auto& a : out) {
    for (auto pos = a.find("{id}"); pos != std::string::npos; pos = a.find("{id}", pos)) {
      a.replace(pos, 4, id);
      pos += id.size();
    }
  }
  return out;
}

std::vector<Scenario> startup_scenarios(const BenchOptions& o, Workspace& ws) {
  std::vector<Scenario> list;
  const auto qemu = find_in_path("qemu-system-x86_64");
  for (const auto& g : guests(o)) {
    const std::string why = vm_skip_reason(o, g);
    auto vm = vmm_vm(o, g, "exit");
    vm.peer = "qemu-microvm-" + g.name;
    if (!why.empty()) vm.skipped = why;
    // The same VM without its threads' seccomp filters: its ratio to the confined run above is
    // what confinement costs at start-up.
    auto unconfined = vm;
    unconfined.name += "-seccomp-off";
    unconfined.description += ", --seccomp off";
    unconfined.argv.insert(unconfined.argv.begin() + 2, {"--seccomp", "off"});
    unconfined.peer = vm.name;
    // And inside vmm's jail (namespaces, cgroup, empty root, unprivileged uid): its ratio to the
    // run above is what --jail costs at start-up.
    auto jailed = vm;
    jailed.name += "-jail";
    jailed.description += ", --jail";
    jailed.argv.insert(jailed.argv.begin() + 2, "--jail");
    jailed.peer = vm.name;
    if (!jailed.skipped && ::geteuid() != 0) jailed.skipped = "--jail needs root";
    list.push_back(std::move(vm));
    list.push_back(std::move(unconfined));
    list.push_back(std::move(jailed));
    for (const char* machine : {"microvm", "pc"}) {
      auto q = qemu_vm(o, g, machine, qemu);
      if (!why.empty()) {
        q.skipped = why;
      } else if (!qemu) {
        q.skipped = "QEMU is not installed (qemu-system-x86_64 not in PATH)";
      }
      list.push_back(std::move(q));
    }
  }

  // Containers: one root for all (podman gets a copy: it adds files to the root it runs).
  std::string no_root;
  std::optional<fs::path> root;
  std::optional<std::string> podman_root;
  if (::geteuid() != 0) {
    no_root = "containers need root (namespaces, cgroups, pivot_root)";
  } else if (!o.rootfs.empty()) {
    if (!fs::is_directory(o.rootfs)) {
      throw ConfigError("rootfs", o.rootfs.string() + " is not a directory");
    }
    root = fs::absolute(o.rootfs);
    podman_root = root->string() + ":O";  // an overlay keeps the user's tree untouched
  } else {
    root = ws.busybox_root("rootfs", no_root);
    std::string unused;
    if (auto copy = ws.busybox_root("rootfs-podman", unused)) podman_root = copy->string();
  }
  const std::vector<std::string> workload = {"/bin/echo", kContainerReadyMarker};
  fs::path bundle;
  if (root) bundle = ws.bundle("bundle", *root, workload);
  auto container = [&](std::string name, std::string description, std::vector<std::string> argv) {
    Scenario s;
    s.name = std::move(name);
    s.kind = "container";
    s.description = std::move(description);
    s.argv = std::move(argv);
    s.ready_marker = kContainerReadyMarker;
    s.peer = "runc-run";
    if (!root) s.skipped = no_root;
    return s;
  };
  const std::string root_path = root ? root->string() : "";
  auto ours = [](Scenario s) {
    s.ours = true;
    return s;
  };
  list.push_back(ours(container(
      "vmm-container-run", "vmm container run (default profile: seccomp, cgroup, all namespaces)",
      {o.vmm.string(), "container", "run", "--name", "{id}", "--rootfs", root_path, "--",
       workload[0], workload[1]})));
  list.push_back(ours(container("vmm-oci-run", "vmm oci run on the OCI bundle",
                                {o.vmm.string(), "oci", "--root", (ws.dir() / "state-vmm").string(),
                                 "run", "--bundle", bundle.string(), "{id}"})));
  for (const char* runtime : {"runc", "crun"}) {
    const auto path = find_in_path(runtime);
    auto s = container(std::string(runtime) + "-run",
                       std::string(runtime) + " run on the same OCI bundle",
                       {path ? path->string() : runtime, "--root",
                        (ws.dir() / (std::string("state-") + runtime)).string(), "run", "--bundle",
                        bundle.string(), "{id}"});
    if (!path && !s.skipped) s.skipped = std::string(runtime) + " is not installed";
    if (s.name == "runc-run") s.peer.clear();
    list.push_back(std::move(s));
  }
  const auto podman = find_in_path("podman");
  for (const char* runtime : {"runc", "crun", "vmm"}) {
    std::optional<fs::path> rt = std::string(runtime) == "vmm"
                                     ? std::optional<fs::path>(ws.vmm_runc())
                                     : find_in_path(runtime);
    auto s = container(std::string("podman-") + runtime,
                       std::string("podman run --rootfs, runtime ") + runtime,
                       podman_argv(podman ? *podman : "podman", ws, rt ? rt->string() : runtime,
                                   podman_root.value_or("")));
    s.peer = "podman-runc";
    if (s.name == "podman-runc") s.peer.clear();
    s.ours = s.name == "podman-vmm";
    if (!s.skipped && !podman) s.skipped = "podman is not installed";
    if (!s.skipped && !rt) s.skipped = std::string(runtime) + " is not installed";
    if (!s.skipped && !podman_root) s.skipped = "no root for podman";
    list.push_back(std::move(s));
  }
  auto floor =
      container("floor", "unshare -fpmuin chroot ROOT: namespaces and chroot, nothing else",
                {"unshare", "-fpmuin", "chroot", root_path, workload[0], workload[1]});
  floor.kind = "floor";
  floor.peer.clear();
  if (!floor.skipped && !find_in_path("unshare")) floor.skipped = "unshare is not installed";
  list.push_back(std::move(floor));

  if (!o.only.empty()) {
    for (const auto& name : o.only) {
      if (std::none_of(list.begin(), list.end(),
                       [&](const Scenario& s) { return s.name == name; })) {
        throw ConfigError("scenarios", "no scenario named '" + name + "'");
      }
    }
    std::erase_if(list, [&](const Scenario& s) {
      return std::find(o.only.begin(), o.only.end(), s.name) == o.only.end();
    });
  }
  return list;
}

std::vector<Scenario> density_scenarios(const BenchOptions& o, Workspace& ws, DensityKind kind) {
  std::vector<Scenario> list;
  if (kind != DensityKind::kContainer) {
    auto all = guests(o);
    // The minimal kernel when it is there: the density of small guests is the question.
    const Guest& g = all[0].missing.empty() ? all[0] : all[1];
    auto vm = vmm_vm(o, g, "wait");
    vm.name = "vmm-vm";
    if (auto why = vm_skip_reason(o, g); !why.empty()) vm.skipped = why;
    list.push_back(std::move(vm));
  }
  if (kind != DensityKind::kVm) {
    Scenario s;
    s.name = "vmm-container";
    s.kind = "container";
    s.description = "vmm container run, busybox sh waiting for a line";
    s.ready_marker = kContainerReadyMarker;
    s.ours = true;
    std::string why;
    std::optional<fs::path> root;
    if (::geteuid() != 0) {
      why = "containers need root (namespaces, cgroups, pivot_root)";
    } else if (!o.rootfs.empty()) {
      root = fs::absolute(o.rootfs);
    } else {
      root = ws.busybox_root("rootfs", why);
    }
    s.argv = {o.vmm.string(),
              "container",
              "run",
              "--name",
              "{id}",
              "--rootfs",
              root ? root->string() : "",
              "--",
              "/bin/sh",
              "-c",
              std::string("echo ") + kContainerReadyMarker + "; read -r line"};
    if (!root) s.skipped = why;
    list.push_back(std::move(s));
  }
  return list;
}

}  // namespace vmm::bench
