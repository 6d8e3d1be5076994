#include "vmm/config/vm_config_json.hpp"

#include <arpa/inet.h>
#include <net/if.h>
#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <functional>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>

#include "vmm/common/error.hpp"
#include "vmm/common/uuid.hpp"
#include "vmm/config/kernel_cmdline.hpp"

namespace vmm {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

constexpr uint64_t kMiB = 1ULL << 20;

[[noreturn]] void fail(const std::string& field, const std::string& problem) {
  throw ConfigError(field, problem);
}

std::string member_path(const std::string& path, const std::string& key) {
  return path.empty() ? key : path + "." + key;
}

std::string element_path(const std::string& path, size_t index) {
  return path + "[" + std::to_string(index) + "]";
}

// Calls `handle` for each member of the object `v`; a member it does not know (returns false
// for) is an error naming its path.
void for_each_member(const json& v, const std::string& path,
                     const std::function<bool(const std::string& key, const json& value,
                                              const std::string& field)>& handle) {
  if (!v.is_object()) fail(path, "expected an object");
  for (const auto& [key, value] : v.items()) {
    const std::string field = member_path(path, key);
    if (!handle(key, value, field)) fail(field, "unknown field");
  }
}

void for_each_element(const json& v, const std::string& path,
                      const std::function<void(const json& value, const std::string& field)>& f) {
  if (!v.is_array()) fail(path, "expected an array");
  for (size_t i = 0; i < v.size(); ++i) f(v[i], element_path(path, i));
}

std::string get_string(const json& v, const std::string& field) {
  if (!v.is_string()) fail(field, "expected a string");
  return v.get<std::string>();
}

bool get_bool(const json& v, const std::string& field) {
  if (!v.is_boolean()) fail(field, "expected true or false");
  return v.get<bool>();
}

// An integer in [lo, hi]; below lo or above hi is an error that says so.
uint64_t get_uint(const json& v, const std::string& field, uint64_t lo, uint64_t hi) {
  if (!v.is_number_integer()) fail(field, "expected an integer");
  if (!v.is_number_unsigned() && v.get<int64_t>() < 0) {
    fail(field, "must be at least " + std::to_string(lo));
  }
  const auto n = v.get<uint64_t>();
  if (n < lo) fail(field, "must be at least " + std::to_string(lo));
  if (n > hi) fail(field, "must be at most " + std::to_string(hi));
  return n;
}

std::string get_choice(const json& v, const std::string& field,
                       std::initializer_list<std::string_view> choices) {
  std::string s = get_string(v, field);
  std::string list;
  for (const auto c : choices) {
    if (s == c) return s;
    list += (list.empty() ? "" : ", ") + std::string(c);
  }
  fail(field, "'" + s + "' is not one of " + list);
}

// A file the VM will open: it must be there now, so the error names the field.
fs::path get_file(const json& v, const std::string& field) {
  const std::string s = get_string(v, field);
  if (s.empty()) fail(field, "must not be empty");
  std::error_code ec;
  const auto status = fs::status(s, ec);
  if (!fs::exists(status)) fail(field, "no such file");
  if (fs::is_directory(status)) fail(field, "is a directory");
  return s;
}

// Firecracker settings vmm does not implement and the guest can run without.
void ignore(const json& v, const std::string& field) {
  if (!v.is_null()) spdlog::warn("{}: not supported by vmm; ignored", field);
}

void parse_boot_source(const json& v, const std::string& path, VmConfig& config) {
  for_each_member(v, path, [&](const std::string& key, const json& value, const std::string& f) {
    if (key == "kernel_image_path") {
      config.kernel = get_file(value, f);
    } else if (key == "boot_args") {
      if (!value.is_null()) config.cmdline = get_string(value, f);
    } else if (key == "initrd_path") {
      if (value.is_null()) {
        config.initrd.reset();
      } else {
        config.initrd = get_file(value, f);
      }
    } else {
      return false;
    }
    return true;
  });
}

void parse_machine_config(const json& v, const std::string& path, VmConfig& config) {
  bool have_mib = false;
  bool have_bytes = false;
  for_each_member(v, path, [&](const std::string& key, const json& value, const std::string& f) {
    if (key == "vcpu_count") {
      config.cpus = static_cast<uint32_t>(get_uint(value, f, 1, kMaxCpus));
    } else if (key == "mem_size_mib") {
      config.memory_bytes =
          get_uint(value, f, 1, std::numeric_limits<uint64_t>::max() / kMiB) * kMiB;
      have_mib = true;
    } else if (key == "mem_size_bytes") {
      config.memory_bytes = get_uint(value, f, 1, std::numeric_limits<uint64_t>::max());
      have_bytes = true;
    } else if (key == "smt" || key == "track_dirty_pages") {
      if (!value.is_null() && get_bool(value, f)) ignore(value, f);
    } else if (key == "huge_pages") {
      // Host-side backing only; the guest sees the same memory either way.
      if (!value.is_null() && get_string(value, f) != "None") ignore(value, f);
    } else if (key == "cpu_template") {
      if (!value.is_null() && get_string(value, f) != "None") {
        fail(f, "CPU templates are not supported; the guest would see the host's CPU features");
      }
    } else {
      return false;
    }
    return true;
  });
  if (have_mib && have_bytes) {
    fail(member_path(path, "mem_size_bytes"), "give mem_size_mib or mem_size_bytes, not both");
  }
}

struct ParsedDrive {
  virtio::BlockDeviceConfig disk;
  bool root = false;
  std::string partuuid;
};

ParsedDrive parse_drive(const json& v, const std::string& path) {
  ParsedDrive d;
  bool have_path = false;
  for_each_member(v, path, [&](const std::string& key, const json& value, const std::string& f) {
    if (key == "drive_id") {
      (void)get_string(value, f);
    } else if (key == "path_on_host") {
      d.disk.path = get_file(value, f).string();
      have_path = true;
    } else if (key == "is_root_device") {
      d.root = get_bool(value, f);
    } else if (key == "is_read_only") {
      d.disk.read_only = !value.is_null() && get_bool(value, f);
    } else if (key == "snapshot") {
      d.disk.snapshot = !value.is_null() && get_bool(value, f);
    } else if (key == "partuuid") {
      if (!value.is_null()) d.partuuid = get_string(value, f);
    } else if (key == "serial") {
      d.disk.serial = get_string(value, f);
      if (d.disk.serial.size() > 20) fail(f, "longer than 20 characters");
    } else if (key == "cache") {
      d.disk.cache = get_choice(value, f, {"writeback", "none"}) == "none"
                         ? virtio::DiskCache::kNone
                         : virtio::DiskCache::kWriteback;
    } else if (key == "queues") {
      d.disk.queues = static_cast<unsigned>(get_uint(value, f, 1, virtio::kMaxBlockQueues));
    } else if (key == "cache_type") {
      // Firecracker's "Unsafe" drops guest flushes; vmm always honours them.
      if (!value.is_null() && get_choice(value, f, {"Unsafe", "Writeback"}) == "Unsafe") {
        ignore(value, f);
      }
    } else if (key == "rate_limiter" || key == "io_engine") {
      ignore(value, f);
    } else if (key == "socket") {
      if (!value.is_null()) fail(f, "vhost-user drives are not supported");
    } else {
      return false;
    }
    return true;
  });
  if (!have_path) fail(member_path(path, "path_on_host"), "required");
  return d;
}

void parse_drives(const json& v, const std::string& path, VmConfig& config) {
  std::vector<ParsedDrive> drives;
  for_each_element(v, path, [&](const json& value, const std::string& f) {
    drives.push_back(parse_drive(value, f));
  });
  // Firecracker's root device becomes vda and is named on the kernel command line.
  std::optional<size_t> root;
  for (size_t i = 0; i < drives.size(); ++i) {
    if (!drives[i].root) continue;
    if (root)
      fail(member_path(element_path(path, i), "is_root_device"),
           "only one drive can be the root device");
    root = i;
  }
  config.disks.clear();
  if (root) {
    const ParsedDrive& d = drives[*root];
    config.disks.push_back(d.disk);
    if (!has_cmdline_word(config.cmdline, "root=", true)) {
      config.cmdline += std::string(config.cmdline.empty() ? "" : " ") +
                        "root=" + (d.partuuid.empty() ? "/dev/vda" : "PARTUUID=" + d.partuuid) +
                        (d.disk.read_only ? " ro" : " rw");
    }
  }
  for (size_t i = 0; i < drives.size(); ++i) {
    if (!root || i != *root) config.disks.push_back(drives[i].disk);
  }
}

virtio::HostForward parse_host_forward(const json& v, const std::string& path) {
  virtio::HostForward fwd;
  bool have_host = false;
  bool have_guest = false;
  for_each_member(v, path, [&](const std::string& key, const json& value, const std::string& f) {
    if (key == "host_addr") {
      fwd.host_addr = get_string(value, f);
      in_addr parsed{};
      if (::inet_pton(AF_INET, fwd.host_addr.c_str(), &parsed) != 1) {
        fail(f, "'" + fwd.host_addr + "' is not an IPv4 address");
      }
    } else if (key == "host_port") {
      fwd.host_port = static_cast<uint16_t>(get_uint(value, f, 1, 65535));
      have_host = true;
    } else if (key == "guest_port") {
      fwd.guest_port = static_cast<uint16_t>(get_uint(value, f, 1, 65535));
      have_guest = true;
    } else {
      return false;
    }
    return true;
  });
  if (!have_host) fail(member_path(path, "host_port"), "required");
  if (!have_guest) fail(member_path(path, "guest_port"), "required");
  return fwd;
}

virtio::NetConfig parse_interface(const json& v, const std::string& path) {
  virtio::NetConfig net;
  std::optional<std::string> kind;
  std::optional<std::string> tap;
  std::optional<std::string> bridge;
  std::optional<bool> vhost;
  std::optional<std::string> vhost_device;
  std::optional<uint16_t> queues;
  bool have_forwards = false;
  for_each_member(v, path, [&](const std::string& key, const json& value, const std::string& f) {
    if (key == "iface_id") {
      (void)get_string(value, f);
    } else if (key == "kind") {
      kind = get_choice(value, f, {"tap", "user"});
    } else if (key == "host_dev_name") {
      tap = get_string(value, f);
      if (tap->empty()) fail(f, "must not be empty");
      if (tap->size() >= IFNAMSIZ) {
        fail(f, "interface names are at most " + std::to_string(IFNAMSIZ - 1) + " characters");
      }
      if (tap->find('/') != std::string::npos || *tap == "." || *tap == "..") {
        fail(f, "'" + *tap + "' is not a valid interface name");
      }
    } else if (key == "bridge") {
      bridge = get_string(value, f);
      if (bridge->empty() || bridge->size() >= IFNAMSIZ || bridge->find('/') != std::string::npos ||
          *bridge == "." || *bridge == "..") {
        fail(f, "'" + *bridge + "' is not a valid interface name");
      }
    } else if (key == "vhost") {
      vhost = get_bool(value, f);
    } else if (key == "vhost_device") {
      vhost_device = get_string(value, f);
      if (vhost_device->empty()) fail(f, "must not be empty");
    } else if (key == "queues") {
      queues = static_cast<uint16_t>(get_uint(value, f, 1, virtio::kNetMaxQueuePairs));
    } else if (key == "guest_mac") {
      if (value.is_null()) {
        net.mac.reset();
        return true;
      }
      const std::string text = get_string(value, f);
      net.mac = virtio::parse_mac_address(text);
      if (!net.mac) fail(f, "'" + text + "' is not XX:XX:XX:XX:XX:XX");
      if (((*net.mac)[0] & 1) != 0) fail(f, "'" + text + "' is a multicast address");
      if (*net.mac == virtio::MacAddress{}) fail(f, "'" + text + "' is all zeros");
    } else if (key == "host_forwards") {
      for_each_element(value, f, [&](const json& fwd, const std::string& ff) {
        net.host_forwards.push_back(parse_host_forward(fwd, ff));
      });
      have_forwards = true;
    } else if (key == "rx_rate_limiter" || key == "tx_rate_limiter") {
      ignore(value, f);
    } else {
      return false;
    }
    return true;
  });
  if (!kind) kind = tap ? "tap" : "";
  if (kind->empty()) fail(member_path(path, "host_dev_name"), "required (or \"kind\": \"user\")");
  if (*kind == "tap") {
    if (!tap) fail(member_path(path, "host_dev_name"), "required for a tap interface");
    if (have_forwards) fail(member_path(path, "host_forwards"), "needs \"kind\": \"user\"");
    net.kind = virtio::NetConfig::Kind::kTap;
    net.tap_name = *tap;
    net.bridge = bridge.value_or("");
    net.vhost = vhost.value_or(false);
    net.vhost_device = vhost_device.value_or("");
    net.queues = queues.value_or(0);
    if (net.vhost && net.queues > 1) {
      fail(member_path(path, "queues"),
           "vhost-net moves one queue pair; use \"queues\": 1 with it");
    }
  } else {
    if (tap) fail(member_path(path, "host_dev_name"), "not used with \"kind\": \"user\"");
    if (bridge) fail(member_path(path, "bridge"), "needs a tap interface");
    if (vhost.value_or(false)) fail(member_path(path, "vhost"), "needs a tap interface");
    if (vhost_device) fail(member_path(path, "vhost_device"), "needs a tap interface");
    if (queues) fail(member_path(path, "queues"), "needs a tap interface");
    net.kind = virtio::NetConfig::Kind::kUser;
  }
  return net;
}

// vmm's {"cid", "socket"}; Firecracker's {"guest_cid", "uds_path", "vsock_id"} is read too, so
// its config files keep working.
VsockConfig parse_vsock(const json& v, const std::string& path) {
  VsockConfig vsock;
  std::optional<std::string> cid_field;
  std::optional<std::string> socket_field;
  for_each_member(v, path, [&](const std::string& key, const json& value, const std::string& f) {
    if (key == "cid" || key == "guest_cid") {
      if (cid_field) fail(f, "given twice (as " + *cid_field + ")");
      if (!value.is_number_integer()) fail(f, "expected an integer");
      if (!value.is_number_unsigned() && value.get<int64_t>() < 0) {
        fail(f, vsock_cid_problem(0));
      }
      const auto cid = value.get<uint64_t>();
      if (const std::string problem = vsock_cid_problem(cid); !problem.empty()) fail(f, problem);
      vsock.cid = static_cast<uint32_t>(cid);
      cid_field = f;
    } else if (key == "socket" || key == "uds_path") {
      if (socket_field) fail(f, "given twice (as " + *socket_field + ")");
      vsock.socket = get_string(value, f);
      if (const std::string problem = vsock_socket_problem(vsock.socket); !problem.empty()) {
        fail(f, problem);
      }
      socket_field = f;
    } else if (key == "vsock_id") {
      (void)get_string(value, f);
    } else {
      return false;
    }
    return true;
  });
  if (!cid_field) fail(member_path(path, "cid"), "required");
  if (!socket_field) fail(member_path(path, "socket"), "required");
  return vsock;
}

// vmm's {"path", "tag", "read_only"}: a host directory over virtio-9p.
ShareConfig parse_share(const json& v, const std::string& path) {
  ShareConfig share;
  bool have_path = false;
  bool have_tag = false;
  for_each_member(v, path, [&](const std::string& key, const json& value, const std::string& f) {
    if (key == "path") {
      share.path = get_string(value, f);
      if (const std::string problem = share_path_problem(share.path); !problem.empty()) {
        fail(f, problem);
      }
      have_path = true;
    } else if (key == "tag") {
      share.tag = get_string(value, f);
      if (const std::string problem = share_tag_problem(share.tag); !problem.empty()) {
        fail(f, problem);
      }
      have_tag = true;
    } else if (key == "read_only") {
      share.read_only = get_bool(value, f);
    } else {
      return false;
    }
    return true;
  });
  if (!have_path) fail(member_path(path, "path"), "required");
  if (!have_tag) fail(member_path(path, "tag"), "required");
  return share;
}

void parse_vmm_section(const json& v, const std::string& path, VmConfig& config) {
  for_each_member(v, path, [&](const std::string& key, const json& value, const std::string& f) {
    if (key == "console") {
      config.console = get_choice(value, f, {"serial", "virtio"}) == "virtio"
                           ? ConsoleKind::kVirtio
                           : ConsoleKind::kSerial;
    } else if (key == "transport") {
      config.transport = get_choice(value, f, {"pci", "mmio"}) == "mmio" ? TransportKind::kMmio
                                                                         : TransportKind::kPci;
    } else if (key == "kvm_device") {
      config.kvm_device = get_string(value, f);
      if (config.kvm_device.empty()) fail(f, "must not be empty");
    } else if (key == "agent") {
      config.agent = get_bool(value, f);
    } else if (key == "uuid") {
      try {
        config.uuid = to_string(parse_uuid(get_string(value, f)));
      } catch (const ConfigError& e) {
        fail(f, e.problem());
      }
    } else {
      return false;
    }
    return true;
  });
}

// vda, ..., vdz, vdaa, ... as Linux names them.
std::string disk_name(size_t index) {
  std::string suffix;
  size_t n = index + 1;
  while (n > 0) {
    --n;
    suffix.insert(suffix.begin(), static_cast<char>('a' + n % 26));
    n /= 26;
  }
  return "vd" + suffix;
}

}  // namespace

VmConfig vm_config_from_json(const json& doc, VmConfig base) {
  VmConfig& config = base;
  bool have_boot_args = false;
  if (!doc.is_object()) fail("config", "expected a JSON object at the top level");
  for_each_member(doc, "", [&](const std::string& key, const json& value, const std::string& f) {
    if (key == "boot-source") {
      parse_boot_source(value, f, config);
      have_boot_args = value.contains("boot_args");
    } else if (key == "machine-config") {
      parse_machine_config(value, f, config);
    } else if (key == "drives") {
      // After boot-source (keys come in order), so a root device's root= sees the new boot_args.
      parse_drives(value, f, config);
    } else if (key == "network-interfaces") {
      config.nets.clear();
      for_each_element(value, f, [&](const json& iface, const std::string& ff) {
        config.nets.push_back(parse_interface(iface, ff));
      });
    } else if (key == "vmm") {
      parse_vmm_section(value, f, config);
    } else if (key == "vsock") {
      if (value.is_null()) {
        config.vsock.reset();
      } else {
        config.vsock = parse_vsock(value, f);
      }
    } else if (key == "shares") {
      config.shares.clear();
      for_each_element(value, f, [&](const json& share, const std::string& ff) {
        config.shares.push_back(parse_share(share, ff));
      });
    } else if (key == "logger" || key == "metrics" || key == "balloon" || key == "mmds-config" ||
               key == "entropy") {
      ignore(value, f);
    } else if (key == "cpu-config") {
      if (!value.is_null()) {
        fail(f, "custom CPU templates are not supported; the guest would see the host's CPU");
      }
    } else {
      return false;
    }
    return true;
  });
  const bool virtio_devices = !config.disks.empty() || !config.nets.empty() ||
                              config.vsock.has_value() || !config.shares.empty() ||
                              config.console == ConsoleKind::kVirtio;
  if (have_boot_args && virtio_devices && config.transport == TransportKind::kPci &&
      has_cmdline_word(config.cmdline, "pci=off")) {
    spdlog::warn("{}",
                 "boot-source.boot_args has pci=off but virtio devices are on PCI; the "
                 "guest will not find them (set \"vmm\": {\"transport\": \"mmio\"})");
  }
  return config;
}

json vm_config_to_json(const VmConfig& config) {
  json doc = json::object();
  json boot = json::object();
  if (!config.kernel.empty()) boot["kernel_image_path"] = config.kernel.string();
  boot["boot_args"] = config.cmdline;
  if (config.initrd) boot["initrd_path"] = config.initrd->string();
  doc["boot-source"] = boot;

  json machine = json::object();
  machine["vcpu_count"] = config.cpus;
  if (config.memory_bytes % kMiB == 0) {
    machine["mem_size_mib"] = config.memory_bytes / kMiB;
  } else {
    machine["mem_size_bytes"] = config.memory_bytes;
  }
  doc["machine-config"] = machine;

  json drives = json::array();
  for (size_t i = 0; i < config.disks.size(); ++i) {
    const auto& disk = config.disks[i];
    json d = json::object();
    d["drive_id"] = disk_name(i);
    d["path_on_host"] = disk.path;
    d["is_root_device"] = false;  // a root= is already part of boot_args
    d["is_read_only"] = disk.read_only;
    if (disk.snapshot) d["snapshot"] = true;
    if (!disk.serial.empty()) d["serial"] = disk.serial;
    d["cache"] = disk.cache == virtio::DiskCache::kNone ? "none" : "writeback";
    if (disk.queues != 0) d["queues"] = disk.queues;
    drives.push_back(d);
  }
  doc["drives"] = drives;

  json ifaces = json::array();
  for (size_t i = 0; i < config.nets.size(); ++i) {
    const auto& net = config.nets[i];
    json n = json::object();
    n["iface_id"] = "eth" + std::to_string(i);
    if (net.kind == virtio::NetConfig::Kind::kTap) {
      n["kind"] = "tap";
      n["host_dev_name"] = net.tap_name;
      if (!net.bridge.empty()) n["bridge"] = net.bridge;
      if (net.vhost) n["vhost"] = true;
      if (!net.vhost_device.empty()) n["vhost_device"] = net.vhost_device;
      if (net.queues != 0) n["queues"] = net.queues;
    } else {
      n["kind"] = "user";
      json fwds = json::array();
      for (const auto& fwd : net.host_forwards) {
        fwds.push_back({{"host_addr", fwd.host_addr},
                        {"host_port", fwd.host_port},
                        {"guest_port", fwd.guest_port}});
      }
      n["host_forwards"] = fwds;
    }
    if (net.mac) n["guest_mac"] = virtio::format_mac_address(*net.mac);
    ifaces.push_back(n);
  }
  doc["network-interfaces"] = ifaces;
  if (config.vsock) {
    doc["vsock"] = {{"cid", config.vsock->cid}, {"socket", config.vsock->socket.string()}};
  }
  if (!config.shares.empty()) {
    json shares = json::array();
    for (const auto& share : config.shares) {
      shares.push_back(
          {{"path", share.path.string()}, {"tag", share.tag}, {"read_only", share.read_only}});
    }
    doc["shares"] = shares;
  }

  doc["vmm"] = {
      {"console", config.console == ConsoleKind::kVirtio ? "virtio" : "serial"},
      {"transport", config.transport == TransportKind::kMmio ? "mmio" : "pci"},
      {"kvm_device", config.kvm_device},
  };
  if (!config.uuid.empty()) doc["vmm"]["uuid"] = config.uuid;
  if (config.agent) doc["vmm"]["agent"] = true;
  return doc;
}

VmConfig load_vm_config_file(const fs::path& path, VmConfig base) {
  const std::string name = path.string();
  std::error_code ec;
  if (fs::is_directory(path, ec)) fail(name, "is a directory");
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(name, std::string("cannot read: ") + std::strerror(errno));
  json doc;
  try {
    doc = json::parse(in);
  } catch (const json::exception& e) {  // parse_error, and out_of_range for numbers like 1e999
    // "[json.exception.parse_error.101] parse error at line 3, column 5: ..." without the tag.
    std::string what = e.what();
    if (const size_t tag = what.find("] ");
        what.starts_with("[json.") && tag != std::string::npos) {
      what.erase(0, tag + 2);
    }
    fail(name, "invalid JSON: " + what);
  }
  return vm_config_from_json(doc, std::move(base));
}

}  // namespace vmm
