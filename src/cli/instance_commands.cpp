#include "cli/instance_commands.hpp"

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "cli/agent_exec.hpp"
#include "cli/container_exec.hpp"
#include "cli/daemon_client.hpp"
#include "cli/file_commands.hpp"
#include "daemon/daemon.hpp"
#include "vmm/common/error.hpp"

namespace vmm::cli {
namespace {

using nlohmann::json;

constexpr std::array<std::string_view, 19> kCommands = {
    "launch", "list",   "exec",   "start",   "stop",     "restart", "pause",
    "resume", "delete", "info",   "console", "snapshot", "restore", "config",
    "image",  "remote", "daemon", "file",    "wait"};

std::string url_encode(const std::string& text) {
  std::string out;
  for (const unsigned char c : text) {
    if (std::isalnum(c) != 0 || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      char hex[4];
      std::snprintf(hex, sizeof(hex), "%%%02X", c);
      out += hex;
    }
  }
  return out;
}

std::string instance_url(const std::string& name) { return "/1.0/instances/" + url_encode(name); }

std::string random_name() {
  static constexpr std::array<const char*, 8> kWords = {"amber", "brisk", "calm",  "deft",
                                                        "eager", "fair",  "grand", "happy"};
  std::random_device rd;
  std::uniform_int_distribution<size_t> word(0, kWords.size() - 1);
  std::uniform_int_distribution<unsigned> number(0, 0xffff);
  char suffix[8];
  std::snprintf(suffix, sizeof(suffix), "%04x", number(rd));
  return std::string(kWords[word(rd)]) + "-" + suffix;
}

std::string upper(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

void print_table(const std::vector<std::string>& header,
                 const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> width(header.size());
  for (size_t i = 0; i < header.size(); ++i) width[i] = header[i].size();
  for (const auto& row : rows) {
    for (size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
  }
  const auto rule = [&] {
    std::string line = "+";
    for (const auto w : width) line += std::string(w + 2, '-') + "+";
    std::puts(line.c_str());
  };
  const auto print_row = [&](const std::vector<std::string>& row) {
    std::string line = "|";
    for (size_t i = 0; i < row.size(); ++i) {
      line += " " + row[i] + std::string(width[i] - row[i].size(), ' ') + " |";
    }
    std::puts(line.c_str());
  };
  rule();
  print_row(header);
  rule();
  for (const auto& row : rows) print_row(row);
  if (!rows.empty()) rule();
}

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string out = "\"";
  for (const char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

void print_rows(const std::string& format, const std::vector<std::string>& header,
                const std::vector<std::vector<std::string>>& rows, const json& raw) {
  if (format == "json") {
    std::cout << raw.dump() << "\n";
  } else if (format == "csv") {
    for (const auto& row : rows) {
      std::string line;
      for (size_t i = 0; i < row.size(); ++i) line += (i ? "," : "") + csv_field(row[i]);
      std::puts(line.c_str());
    }
  } else {
    print_table(header, rows);
  }
}

std::string join(const std::vector<std::string>& items, const char* sep) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) out += (i ? sep : "") + items[i];
  return out;
}

// "limits.cpu=2" into the map, or vmm::ConfigError.
void add_key_value(std::map<std::string, std::string>& config, const std::string& item) {
  const auto eq = item.find('=');
  if (eq == std::string::npos || eq == 0) {
    throw ConfigError("\"" + item + "\" is not KEY=VALUE");
  }
  config[item.substr(0, eq)] = item.substr(eq + 1);
}

// Writes what an exec recorded on one stream to `out`, then removes the log.
void copy_log(const DaemonClient& client, const json& output, const char* stream, FILE* out) {
  if (!output.contains(stream)) return;
  const std::string url = output.at(stream).get<std::string>();
  const RawResponse log = client.send("GET", url);
  if (log.status == 200) {
    std::fwrite(log.body.data(), 1, log.body.size(), out);
    std::fflush(out);
  }
  (void)client.send("DELETE", url);
}

}  // namespace

bool is_instance_command(std::string_view command) {
  return std::find(kCommands.begin(), kCommands.end(), command) != kCommands.end();
}

int instance_main(int argc, char** argv) {
  CLI::App app{"vmm: instances (containers and VMs) managed by the vmm daemon", "vmm"};
  app.require_subcommand(1);
  const char* env_socket = std::getenv("VMM_SOCKET");
  std::string socket = env_socket != nullptr ? env_socket : daemon::kDefaultSocket;
  app.add_option(
      "--socket", socket,
      "The daemon's socket (default $VMM_SOCKET or " + std::string(daemon::kDefaultSocket) + ")");

  // daemon
  daemon::DaemonOptions dopts;
  auto* daemon_cmd = app.add_subcommand("daemon", "Run the instance manager (REST API)");
  daemon_cmd->add_option("--socket", dopts.socket, "Unix socket to serve on")
      ->capture_default_str();
  daemon_cmd->add_option("--state-dir", dopts.state_dir, "Where instances and images live")
      ->capture_default_str();
  daemon_cmd->add_option("--group", dopts.group, "Group given access to the socket (0660)")
      ->capture_default_str();
  daemon_cmd->add_flag("--foreground", dopts.foreground, "Do not detach (systemd, tests)");
  daemon_cmd
      ->add_option("--bridge", dopts.bridge,
                   "Managed bridge for instances (NAT, DHCP and DNS); \"\" for none")
      ->capture_default_str();
  daemon_cmd->add_option("--subnet", dopts.subnet, "The bridge's address/prefix")
      ->capture_default_str();
  daemon_cmd->add_option("--kernel", dopts.kernel,
                         "Kernel VM instances boot (default: $VMM_CACHE_DIR or ~/.cache/vmm "
                         "kernel/bzImage with rootfs-initramfs.cpio.gz, when there)");
  daemon_cmd->add_option("--initrd", dopts.initrd,
                         "Initramfs VM instances boot with (one that mounts root=/dev/vda)");
  daemon_cmd->add_option("--vm-cmdline-append", dopts.vm_cmdline_append,
                         "Kernel parameters added to every VM instance's command line");

  // launch
  std::string image;
  std::string name;
  bool vm = false;
  std::string cpus;
  std::string memory;
  std::string disk_size;
  std::vector<std::string> config_items;
  auto* launch = app.add_subcommand("launch", "Create and start an instance from an image");
  launch->add_option("image", image, "Image alias or fingerprint")->required();
  launch->add_option("name", name, "Instance name (default: a random one)");
  launch->add_flag("--vm", vm, "A virtual machine instead of a container");
  launch->add_option("--cpus", cpus, "limits.cpu");
  launch->add_option("--memory", memory, "limits.memory, e.g. 512MiB");
  launch->add_option("--disk-size", disk_size,
                     "root.size: a VM's root disk, e.g. 2GiB (default: twice the image and "
                     "256MiB, at least 512MiB)");
  launch->add_option("--config,-c", config_items, "KEY=VALUE, repeatable");
  std::string network;
  launch
      ->add_option(
          "--network", network,
          "bridge (the daemon's, the default for containers) or none (the only one for VMs)")
      ->check(CLI::IsMember({"bridge", "none"}));

  std::string format = "table";
  auto* list = app.add_subcommand("list", "List instances");
  list->add_option("--format,-f", format, "table, json or csv")
      ->check(CLI::IsMember({"table", "json", "csv"}));

  std::vector<std::string> env;
  std::string cwd;
  std::string user;
  std::vector<std::string> command;
  auto* exec = app.add_subcommand("exec", "Run a command in an instance");
  exec->add_option("name", name, "Instance")->required();
  exec->add_option("--env", env, "KEY=VALUE, repeatable");
  exec->add_option("--cwd", cwd, "Working directory");
  exec->add_option("--user", user, "UID or UID:GID");
  bool force_interactive = false;
  bool force_noninteractive = false;
  exec->add_flag("--force-interactive,-t", force_interactive,
                 "A pseudo-terminal even when stdin or stdout is not one (virtual machines)");
  exec->add_flag("--force-noninteractive,-T", force_noninteractive,
                 "No pseudo-terminal, even at a terminal");
  exec->add_option("command", command, "-- COMMAND [ARGS...]")->required();

  bool force = false;
  double timeout = -1;
  std::map<std::string, CLI::App*> actions;
  for (const auto& [cmd, help] : std::vector<std::pair<const char*, const char*>>{
           {"start", "Start an instance"},
           {"stop", "Stop an instance (its init's own shutdown, then killed after --timeout)"},
           {"restart", "Stop and start an instance"},
           {"pause", "Freeze every process of an instance"},
           {"resume", "Thaw a paused instance"}}) {
    auto* sub = app.add_subcommand(cmd, help);
    sub->add_option("name", name, "Instance")->required();
    if (std::string_view(cmd) == "stop" || std::string_view(cmd) == "restart") {
      sub->add_flag("--force,-f", force, "Kill at once");
      sub->add_option("--timeout", timeout, "Seconds before a hard stop (default 30)");
    }
    actions[cmd] = sub;
  }
  bool wait_agent = false;
  auto* wait = app.add_subcommand("wait", "Wait until an instance is ready");
  wait->add_option("name", name, "Instance")->required();
  wait->add_flag("--agent", wait_agent, "Until a virtual machine's guest agent answers")
      ->required();
  wait->add_option("--timeout", timeout, "Seconds (default 300)");
  const FileCommand files(app);
  auto* del = app.add_subcommand("delete", "Delete an instance");
  del->add_option("name", name, "Instance")->required();
  del->add_flag("--force,-f", force, "Stop it first when it runs");
  auto* info = app.add_subcommand("info", "Show an instance");
  info->add_option("name", name, "Instance")->required();
  bool show_log = false;
  auto* console = app.add_subcommand("console", "An instance's console");
  console->add_option("name", name, "Instance")->required();
  console->add_flag("--show-log", show_log, "Print the console log");

  std::vector<std::string> words;
  auto* snapshot = app.add_subcommand(
      "snapshot", "Snapshot an instance: NAME SNAP | list NAME | delete NAME SNAP");
  snapshot->add_option("words", words, "Arguments")->required();
  std::string snap;
  auto* restore = app.add_subcommand("restore", "Restore an instance from a snapshot");
  restore->add_option("name", name, "Instance")->required();
  restore->add_option("snapshot", snap, "Snapshot")->required();
  auto* config = app.add_subcommand(
      "config", "Instance configuration: set NAME KEY=VALUE... | get NAME KEY | show NAME");
  config->add_option("words", words, "Arguments")->required();

  std::vector<std::string> aliases;
  std::string description;
  auto* image_cmd = app.add_subcommand("image", "Images kept by the daemon");
  image_cmd->require_subcommand(1);
  std::string source;
  auto* import = image_cmd->add_subcommand(
      "import", "Import a directory, tarball (LXD's unified one too) or ext4 image");
  import->add_option("source", source, "Path on the daemon's host")->required();
  import->add_option("--alias", aliases, "Alias, repeatable");
  import->add_option("--description", description, "Description");
  auto* build = image_cmd->add_subcommand("build", "Build an image from Debian's packages");
  build->add_option("what", source, "busybox or debian/12")->required();
  build->add_option("--alias", aliases, "More aliases");
  auto* image_list = image_cmd->add_subcommand("list", "List images");
  image_list->add_option("--format,-f", format, "table, json or csv")
      ->check(CLI::IsMember({"table", "json", "csv"}));
  auto* image_info = image_cmd->add_subcommand("info", "Show an image");
  image_info->add_option("image", image, "Alias or fingerprint")->required();
  auto* image_delete = image_cmd->add_subcommand("delete", "Delete an image");
  image_delete->add_option("image", image, "Alias or fingerprint")->required();
  auto* image_alias =
      image_cmd->add_subcommand("alias", "Image aliases: create ALIAS IMAGE | delete ALIAS | list");
  image_alias->add_option("words", words, "Arguments")->required();
  auto* remote = app.add_subcommand("remote", "Where images come from");
  remote->require_subcommand(1);
  auto* remote_list = remote->add_subcommand("list", "List image sources");

  // Everything after "--" in exec is the command, flags included.
  std::vector<std::string> args(argv + 1, argv + argc);
  std::vector<std::string> exec_command;
  if (!args.empty() && args[0] == "exec") {
    if (const auto dash = std::find(args.begin(), args.end(), "--"); dash != args.end()) {
      exec_command.assign(dash + 1, args.end());
      args.erase(dash, args.end());
      args.emplace_back("--");
      args.emplace_back("placeholder");
    }
  }
  std::vector<std::string> reversed(args.rbegin(), args.rend());
  try {
    app.parse(reversed);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? 0 : static_cast<int>(ExitStatus::kUsageError);
  }
  if (!exec_command.empty()) command = exec_command;

  const DaemonClient client(socket);
  if (daemon_cmd->parsed()) return daemon::run_daemon(dopts);

  if (launch->parsed()) {
    if (name.empty()) name = random_name();
    std::map<std::string, std::string> cfg;
    for (const auto& item : config_items) add_key_value(cfg, item);
    if (!cpus.empty()) cfg["limits.cpu"] = cpus;
    if (!memory.empty()) cfg["limits.memory"] = memory;
    if (!disk_size.empty()) cfg["root.size"] = disk_size;
    std::printf("Creating %s\n", name.c_str());
    std::fflush(stdout);
    const bool fingerprint =
        image.size() >= 12 && std::all_of(image.begin(), image.end(), [](char c) {
          return std::isxdigit(static_cast<unsigned char>(c)) != 0;
        });
    (void)client.run(
        "POST", "/1.0/instances",
        json{{"name", name},
             {"type", vm ? "virtual-machine" : "container"},
             {"source", json{{"type", "image"}, {fingerprint ? "fingerprint" : "alias", image}}},
             {"config", cfg},
             {"network", network}});
    std::printf("Starting %s\n", name.c_str());
    std::fflush(stdout);
    (void)client.run("PUT", instance_url(name) + "/state", json{{"action", "start"}});
    return 0;
  }
  if (list->parsed()) {
    const json instances = client.call("GET", "/1.0/instances?recursion=2");
    std::vector<std::vector<std::string>> rows;
    for (const auto& i : instances) {
      std::string ipv4;
      const json state = i.value("state", json::object());
      const json eth0 = state.value("network", json::object()).value("eth0", json::object());
      for (const auto& address : eth0.value("addresses", json::array())) {
        if (address.value("family", "") == "inet") ipv4 = address.value("address", "") + " (eth0)";
      }
      rows.push_back({i.value("name", ""), upper(i.value("status", "")), upper(i.value("type", "")),
                      ipv4, std::to_string(i.value("snapshots", json::array()).size())});
    }
    print_rows(format, {"NAME", "STATE", "TYPE", "IPV4", "SNAPSHOTS"}, rows, instances);
    return 0;
  }
  if (wait->parsed()) {
    json body = json::object();
    if (timeout >= 0) body["timeout"] = timeout;
    (void)client.run("POST", instance_url(name) + "/agent", body);
    return 0;
  }
  if (exec->parsed()) {
    if (force_interactive && force_noninteractive) {
      throw ConfigError("exec",
                        "--force-interactive and --force-noninteractive exclude each other");
    }
    std::vector<std::string> environment;
    for (const auto& item : env) {
      std::map<std::string, std::string> kv;
      add_key_value(kv, item);  // checks KEY=VALUE
      environment.push_back(item);
    }
    TerminalMode terminal = TerminalMode::kAuto;
    if (force_interactive) terminal = TerminalMode::kAlways;
    if (force_noninteractive) terminal = TerminalMode::kNever;
    const json instance = client.call("GET", instance_url(name));
    if (instance.value("type", "") == "virtual-machine") {
      // Streams and a pty: straight to the guest agent through the VM's vsock socket.
      if (instance.value("status", "") != "Running") {
        throw StateError("instance " + name + " is not running");
      }
      const std::string vsock_socket = instance.value("vsock_socket", "");
      if (vsock_socket.empty())
        throw StateError("instance " + name + " has no guest agent channel");
      AgentExecOptions options;
      options.command = command;
      options.environment = environment;
      options.cwd = cwd;
      if (!user.empty()) parse_exec_user(user, options);
      options.terminal = terminal;
      return exec_through_agent(vsock_socket, options);
    }
    const std::string runtime_root = instance.value("runtime_root", "");
    if (::geteuid() == 0 && !runtime_root.empty()) {
      // Root on the daemon's host: the runtime's own exec, with this terminal and stdin.
      instance::ExecOptions options;
      options.command = command;
      options.environment = environment;
      options.cwd = cwd;
      if (!user.empty()) {
        AgentExecOptions checked;
        parse_exec_user(user, checked);  // UID or UID:GID, else a clear error
        options.user = user;
      }
      return exec_in_container(runtime_root, name, options, terminal);
    }
    json body{{"command", command},
              {"record-output", true},
              {"interactive", false},
              {"wait-for-websocket", false}};
    json environment_json = json::object();
    for (const auto& item : environment) {
      const auto eq = item.find('=');
      environment_json[item.substr(0, eq)] = item.substr(eq + 1);
    }
    body["environment"] = environment_json;
    if (!cwd.empty()) body["cwd"] = cwd;
    if (!user.empty()) {
      try {
        body["user"] = std::stoul(user);
      } catch (const std::exception&) {
        throw ConfigError("--user", "\"" + user + "\" is not a numeric UID");
      }
    }
    const json result = client.run("POST", instance_url(name) + "/exec", body);
    const json output = result.value("output", json::object());
    copy_log(client, output, "1", stdout);
    copy_log(client, output, "2", stderr);
    return result.value("return", 1);
  }
  for (const auto& [cmd, sub] : actions) {
    if (!sub->parsed()) continue;
    std::string action = cmd;
    if (cmd == "pause") action = "freeze";
    if (cmd == "resume") action = "unfreeze";
    json body{{"action", action}, {"force", force}};
    if (timeout >= 0) body["timeout"] = timeout;
    (void)client.run("PUT", instance_url(name) + "/state", body);
    return 0;
  }
  if (del->parsed()) {
    if (force) {
      const json state = client.call("GET", instance_url(name) + "/state");
      if (state.value("status", "") != "Stopped") {
        (void)client.run("PUT", instance_url(name) + "/state",
                         json{{"action", "stop"}, {"force", true}});
      }
    }
    (void)client.run("DELETE", instance_url(name));
    return 0;
  }
  if (info->parsed()) {
    const json i = client.call("GET", instance_url(name));
    const json state = client.call("GET", instance_url(name) + "/state");
    std::printf("Name: %s\nStatus: %s\nType: %s\nArchitecture: %s\nCreated: %s\nPID: %d\n",
                i.value("name", "").c_str(), upper(i.value("status", "")).c_str(),
                i.value("type", "").c_str(), i.value("architecture", "").c_str(),
                i.value("created_at", "").c_str(), state.value("pid", 0));
    std::printf("Config:\n");
    const json cfg = i.value("config", json::object());
    for (const auto& [k, v] : cfg.items()) {
      std::printf("  %s: %s\n", k.c_str(), v.get<std::string>().c_str());
    }
    const auto snaps = i.value("snapshots", std::vector<std::string>{});
    std::printf("Snapshots:%s\n", snaps.empty() ? " none" : "");
    for (const auto& s : snaps) std::printf("  %s\n", s.c_str());
    return 0;
  }
  if (files.parsed()) return files.run(client);
  if (console->parsed()) {
    if (!show_log) {
      throw ConfigError("console", "an attached console is not supported yet: use --show-log");
    }
    const RawResponse log = client.send("GET", instance_url(name) + "/console");
    if (log.status != 200) (void)client.call("GET", instance_url(name) + "/console");
    std::fwrite(log.body.data(), 1, log.body.size(), stdout);
    return 0;
  }
  if (snapshot->parsed()) {
    if (words.size() == 2 && words[0] == "list") {
      const json snaps = client.call("GET", instance_url(words[1]) + "/snapshots?recursion=1");
      for (const auto& s : snaps) std::printf("%s\n", s.value("name", "").c_str());
      return 0;
    }
    if (words.size() == 3 && words[0] == "delete") {
      (void)client.run("DELETE", instance_url(words[1]) + "/snapshots/" + url_encode(words[2]));
      return 0;
    }
    if (words.size() == 2) {
      (void)client.run("POST", instance_url(words[0]) + "/snapshots", json{{"name", words[1]}});
      return 0;
    }
    throw ConfigError("snapshot",
                      "use: snapshot NAME SNAP | snapshot list NAME | "
                      "snapshot delete NAME SNAP");
  }
  if (restore->parsed()) {
    (void)client.run("PUT", instance_url(name), json{{"restore", snap}});
    return 0;
  }
  if (config->parsed()) {
    if (words.size() >= 3 && words[0] == "set") {
      std::map<std::string, std::string> changes;
      for (size_t i = 2; i < words.size(); ++i) add_key_value(changes, words[i]);
      (void)client.call("PATCH", instance_url(words[1]), json{{"config", changes}});
      return 0;
    }
    if (words.size() == 3 && words[0] == "get") {
      const json i = client.call("GET", instance_url(words[1]));
      std::printf("%s\n", i.value("config", json::object()).value(words[2], "").c_str());
      return 0;
    }
    if (words.size() == 2 && words[0] == "show") {
      const json cfg = client.call("GET", instance_url(words[1])).value("config", json::object());
      for (const auto& [k, v] : cfg.items()) {
        std::printf("%s: %s\n", k.c_str(), v.get<std::string>().c_str());
      }
      return 0;
    }
    throw ConfigError("config",
                      "use: config set NAME KEY=VALUE... | config get NAME KEY | "
                      "config show NAME");
  }
  if (import->parsed() || build->parsed()) {
    json alias_list = json::array();
    for (const auto& a : aliases) alias_list.push_back(json{{"name", a}});
    json body{{"aliases", alias_list}};
    if (import->parsed()) {
      char resolved[PATH_MAX];
      const std::string path = ::realpath(source.c_str(), resolved) != nullptr ? resolved : source;
      body["source"] = json{{"type", "path"}, {"path", path}};
      if (!description.empty()) body["description"] = description;
    } else {
      body["source"] = json{{"type", "build"}, {"name", source}};
    }
    const json result = client.run("POST", "/1.0/images", body);
    std::printf("Image imported with fingerprint: %s\n", result.value("fingerprint", "").c_str());
    return 0;
  }
  if (image_list->parsed()) {
    const json images = client.call("GET", "/1.0/images?recursion=1");
    std::vector<std::vector<std::string>> rows;
    for (const auto& i : images) {
      std::vector<std::string> names;
      for (const auto& a : i.value("aliases", json::array())) names.push_back(a.value("name", ""));
      const auto props = i.value("properties", json::object());
      const double mib = static_cast<double>(i.value("size", uint64_t{0})) / (1024.0 * 1024.0);
      char size[32];
      std::snprintf(size, sizeof(size), "%.2fMiB", mib);
      rows.push_back({join(names, ","), i.value("fingerprint", "").substr(0, 12),
                      props.value("description", ""), i.value("architecture", ""), size,
                      i.value("uploaded_at", "")});
    }
    print_rows(format,
               {"ALIAS", "FINGERPRINT", "DESCRIPTION", "ARCHITECTURE", "SIZE", "UPLOAD DATE"}, rows,
               images);
    return 0;
  }
  if (image_info->parsed()) {
    std::cout << client.call("GET", "/1.0/images/" + url_encode(image)).dump(2) << "\n";
    return 0;
  }
  if (image_delete->parsed()) {
    (void)client.run("DELETE", "/1.0/images/" + url_encode(image));
    return 0;
  }
  if (image_alias->parsed()) {
    if (words.size() == 3 && words[0] == "create") {
      (void)client.call("POST", "/1.0/images/aliases",
                        json{{"name", words[1]}, {"target", words[2]}});
      return 0;
    }
    if (words.size() == 2 && words[0] == "delete") {
      (void)client.call("DELETE", "/1.0/images/aliases/" + url_encode(words[1]));
      return 0;
    }
    if (words.size() == 1 && words[0] == "list") {
      for (const auto& a : client.call("GET", "/1.0/images/aliases?recursion=1")) {
        std::printf("%s %s\n", a.value("name", "").c_str(),
                    a.value("target", "").substr(0, 12).c_str());
      }
      return 0;
    }
    throw ConfigError("image alias", "use: create ALIAS IMAGE | delete ALIAS | list");
  }
  if (remote_list->parsed()) {
    print_table(
        {"NAME", "URL", "PROTOCOL", "PUBLIC"},
        {{"local", "unix://" + socket, "vmm", "NO"},
         {"builder", "Debian packages (vmm image build busybox|debian/12)", "build", "YES"}});
    return 0;
  }
  return static_cast<int>(ExitStatus::kUsageError);
}

}  // namespace vmm::cli
