#include "instance/bridge_network.hpp"

#include <arpa/inet.h>
#include <spdlog/spdlog.h>
#include <strings.h>

#include <chrono>
#include <csignal>
#include <fstream>
#include <random>
#include <sstream>

#include "instance/child_process.hpp"
#include "vmm/common/error.hpp"

namespace vmm::instance {
namespace {

namespace fs = std::filesystem;

uint32_t mask_of(int prefix) { return prefix == 0 ? 0 : ~uint32_t{0} << (32 - prefix); }

pid_t read_pid(const fs::path& file) {
  std::ifstream in(file);
  long pid = 0;
  in >> pid;
  return pid > 1 ? static_cast<pid_t>(pid) : 0;
}

}  // namespace

Ipv4Cidr parse_cidr(const std::string& text) {
  const auto bad = [&](const std::string& why) {
    throw ConfigError("subnet", "\"" + text + "\" " + why);
  };
  const auto slash = text.find('/');
  if (slash == std::string::npos) bad("is not ADDRESS/PREFIX (e.g. 10.44.0.1/24)");
  in_addr addr{};
  if (::inet_pton(AF_INET, text.substr(0, slash).c_str(), &addr) != 1) {
    bad("has no valid IPv4 address");
  }
  int prefix = 0;
  try {
    size_t used = 0;
    prefix = std::stoi(text.substr(slash + 1), &used);
    if (used != text.size() - slash - 1) prefix = -1;
  } catch (const std::exception&) {
    prefix = -1;
  }
  if (prefix < 16 || prefix > 29) bad("needs a prefix from 16 to 29");
  const uint32_t address = ntohl(addr.s_addr);
  const uint32_t host = address & ~mask_of(prefix);
  if (host == 0 || host == ~mask_of(prefix)) bad("is the network or broadcast address");
  return Ipv4Cidr{.address = address, .prefix = prefix};
}

std::string ipv4_text(uint32_t address) {
  in_addr addr{};
  addr.s_addr = htonl(address);
  char text[INET_ADDRSTRLEN] = {};
  ::inet_ntop(AF_INET, &addr, text, sizeof(text));
  return text;
}

std::string random_mac() {
  std::random_device rd;
  std::uniform_int_distribution<unsigned> byte(0, 255);
  char mac[18];
  std::snprintf(mac, sizeof(mac), "00:16:3e:%02x:%02x:%02x", byte(rd), byte(rd), byte(rd));
  return mac;
}

BridgeNetwork::BridgeNetwork(BridgeConfig config, const fs::path& state_dir)
    : config_(std::move(config)),
      gateway_(parse_cidr(config_.gateway)),
      dir_(state_dir / "network") {
  if (config_.name.empty() || config_.name.size() > 15) {
    throw ConfigError("bridge", "\"" + config_.name + "\" is not a network interface name");
  }
  fs::create_directories(dir_);
  fs::permissions(dir_, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                            fs::perms::others_read | fs::perms::others_exec);
  const std::string cidr = gateway_address() + "/" + std::to_string(gateway_.prefix);
  if (run_captured({"ip", "link", "show", "dev", config_.name}).status != 0) {
    run_checked({"ip", "link", "add", config_.name, "type", "bridge"},
                "cannot create bridge " + config_.name);
  }
  run_checked({"ip", "addr", "replace", cidr, "dev", config_.name},
              "cannot address bridge " + config_.name);
  run_checked({"ip", "link", "set", config_.name, "up"}, "cannot bring up " + config_.name);
  // Instances reach the host's routes through NAT, as LXD's bridge does.
  std::ofstream("/proc/sys/net/ipv4/ip_forward") << "1\n";
  nat_rule_ = ipv4_text(gateway_.address & mask_of(gateway_.prefix)) + "/" +
              std::to_string(gateway_.prefix);
  const std::vector<std::string> rule = {
      "POSTROUTING", "-s",         nat_rule_, "!",       "-d",        nat_rule_,
      "-j",          "MASQUERADE", "-m",      "comment", "--comment", "vmm bridge " + config_.name};
  const auto iptables = [&](const char* op) {
    std::vector<std::string> argv = {"iptables", "-w", "-t", "nat", op};
    argv.insert(argv.end(), rule.begin(), rule.end());
    return run_captured(argv).status;
  };
  try {
    if (iptables("-C") != 0 && iptables("-A") != 0) {
      spdlog::warn("bridge {}: no NAT rule (iptables failed); instances reach only the host",
                   config_.name);
      nat_rule_.clear();
    }
  } catch (const Error&) {
    spdlog::warn("bridge {}: iptables is missing; instances reach only the host", config_.name);
    nat_rule_.clear();
  }
  std::ofstream(dir_ / "hosts", std::ios::app).flush();
  std::ofstream(dir_ / "dhcp-hosts", std::ios::app).flush();
  // A dnsmasq left by a manager that was killed holds the bridge's port 53: it goes first.
  if (const pid_t old = read_pid(dir_ / "dnsmasq.pid"); old != 0) {
    std::ifstream comm("/proc/" + std::to_string(old) + "/comm");
    std::string name;
    comm >> name;
    if (name == "dnsmasq") {
      ::kill(old, SIGTERM);
      for (int i = 0; i < 40 && ::kill(old, 0) == 0; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
    }
  }
  std::error_code stale;
  fs::remove(dir_ / "dnsmasq.pid", stale);
  supervisor_ = std::thread([this] { run_dnsmasq(); });
}

BridgeNetwork::~BridgeNetwork() {
  stopping_ = true;
  // dnsmasq writes its pid file as it starts: wait for it briefly when it is just starting.
  for (int i = 0; i < 40; ++i) {
    if (const pid_t pid = read_pid(dir_ / "dnsmasq.pid"); pid != 0) {
      ::kill(pid, SIGTERM);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  if (supervisor_.joinable()) supervisor_.join();
  std::error_code ec;
  fs::remove(dir_ / "dnsmasq.pid", ec);
  if (!nat_rule_.empty()) {
    try {
      (void)run_captured({"iptables", "-w", "-t", "nat", "-D", "POSTROUTING", "-s", nat_rule_, "!",
                          "-d", nat_rule_, "-j", "MASQUERADE", "-m", "comment", "--comment",
                          "vmm bridge " + config_.name});
    } catch (const Error&) {  // NOLINT(bugprone-empty-catch): best effort at shutdown
    }
  }
}

void BridgeNetwork::run_dnsmasq() {
  const uint32_t network = gateway_.address & mask_of(gateway_.prefix);
  const uint32_t broadcast = network | ~mask_of(gateway_.prefix);
  // DHCP hands out the upper half; the manager gives instances the lower one.
  const uint32_t dhcp_first = network + (broadcast - network) / 2 + 1;
  const std::vector<std::string> argv = {
      "dnsmasq",
      "--keep-in-foreground",
      "--conf-file=",
      "--strict-order",
      "--bind-interfaces",
      "--except-interface=lo",
      "--interface=" + config_.name,
      "--listen-address=" + gateway_address(),
      "--dhcp-range=" + ipv4_text(dhcp_first) + "," + ipv4_text(broadcast - 1) + ",1h",
      "--dhcp-no-override",
      "--dhcp-authoritative",
      "--dhcp-leasefile=" + (dir_ / "dnsmasq.leases").string(),
      "--addn-hosts=" + (dir_ / "hosts").string(),
      "--dhcp-hostsfile=" + (dir_ / "dhcp-hosts").string(),
      "--pid-file=" + (dir_ / "dnsmasq.pid").string(),
      "--user=nobody",
      "--group=nogroup"};
  while (!stopping_) {
    const auto started = std::chrono::steady_clock::now();
    int status = 0;
    try {
      status = run_child(argv);
    } catch (const Error& e) {
      spdlog::error("bridge {}: {}", config_.name, e.what());
      return;
    }
    if (stopping_) return;
    spdlog::warn("bridge {}: dnsmasq exited with status {}; restarting", config_.name, status);
    // A dnsmasq that cannot start at all is retried once a second, not in a tight loop. One
    // that a SIGHUP caught before its handlers were set (a hosts update as it started) comes
    // back at once.
    if (status != 128 + SIGHUP &&
        std::chrono::steady_clock::now() - started < std::chrono::seconds(1)) {
      std::this_thread::sleep_for(std::chrono::seconds(1));
    }
  }
}

std::string BridgeNetwork::allocate(const std::set<std::string>& taken) const {
  const uint32_t network = gateway_.address & mask_of(gateway_.prefix);
  const uint32_t broadcast = network | ~mask_of(gateway_.prefix);
  const uint32_t last = network + (broadcast - network) / 2;  // the upper half is DHCP's
  for (uint32_t a = network + 1; a <= last; ++a) {
    if (a == gateway_.address) continue;
    std::string text = ipv4_text(a);
    if (!taken.contains(text)) return text;
  }
  throw StateError("bridge " + config_.name + " has no free address left");
}

void BridgeNetwork::attach_container(pid_t pid, const std::string& host_end, const std::string& mac,
                                     const std::string& address) const {
  const std::string ns = std::to_string(pid);
  (void)run_captured({"ip", "link", "del", host_end});
  run_checked({"ip", "link", "add", host_end, "type", "veth", "peer", "name", "eth0", "netns", ns},
              "cannot create the veth pair " + host_end);
  try {
    run_checked({"ip", "link", "set", host_end, "master", config_.name, "up"},
                "cannot attach " + host_end + " to " + config_.name);
    const auto in_ns = [&](std::vector<std::string> args, const std::string& what) {
      std::vector<std::string> argv = {"nsenter", "-t", ns, "-n", "ip"};
      argv.insert(argv.end(), args.begin(), args.end());
      run_checked(argv, what);
    };
    in_ns({"link", "set", "lo", "up"}, "cannot bring up lo");
    in_ns({"link", "set", "eth0", "address", mac, "up"}, "cannot set up eth0");
    in_ns({"addr", "add", address + "/" + std::to_string(gateway_.prefix), "dev", "eth0"},
          "cannot address eth0");
    in_ns({"route", "add", "default", "via", gateway_address()}, "cannot route via the bridge");
  } catch (...) {
    (void)run_captured({"ip", "link", "del", host_end});
    throw;
  }
}

void BridgeNetwork::publish_hosts(const std::string& hosts, const std::string& dhcp_hosts) {
  std::lock_guard lock(hosts_mutex_);
  for (const auto& [name, text] :
       {std::pair{"hosts", &hosts}, std::pair{"dhcp-hosts", &dhcp_hosts}}) {
    const fs::path tmp = dir_ / (std::string(name) + ".tmp");
    {
      std::ofstream out(tmp, std::ios::trunc);
      out << *text;
    }
    fs::permissions(tmp, fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read |
                             fs::perms::others_read);
    fs::rename(tmp, dir_ / name);
  }
  // SIGHUP: dnsmasq reads both files again.
  if (const pid_t pid = read_pid(dir_ / "dnsmasq.pid"); pid != 0) ::kill(pid, SIGHUP);
}

std::string BridgeNetwork::leased_address(const std::string& mac) const {
  if (mac.empty()) return {};
  // dnsmasq's lease file: "EXPIRY MAC ADDRESS HOSTNAME CLIENT-ID" per line.
  std::ifstream leases(dir_ / "dnsmasq.leases");
  std::string line;
  while (std::getline(leases, line)) {
    std::istringstream fields(line);
    std::string expiry;
    std::string leased_mac;
    std::string address;
    if (fields >> expiry >> leased_mac >> address &&
        strcasecmp(leased_mac.c_str(), mac.c_str()) == 0) {
      return address;
    }
  }
  return {};
}

}  // namespace vmm::instance
