// `vmm oci ...`: the runc-compatible command line (create, start, state, kill, delete, run,
// exec, list, ps, spec, features), so tools that take a runtime binary can drive vmm. It parses
// runc's flags and prints runc's output; the lifecycle itself is ContainerRuntime (runtime.hpp).
#include <pwd.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>

#include "container/cli.hpp"
#include "container/default_spec.hpp"
#include "container/runtime.hpp"
#include "container/sealed_exe.hpp"
#include "container/state_store.hpp"
#include "vmm/common/error.hpp"

namespace vmm::container {
namespace {

// runc's --log-format json: one {"level","msg","time"} object per line.
class JsonLogSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  explicit JsonLogSink(const std::string& path) : out_(path, std::ios::app) {
    if (!out_) throw ConfigError("--log: cannot open " + path);
  }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    const auto t = std::chrono::system_clock::to_time_t(msg.time);
    std::tm tm{};
    ::gmtime_r(&t, &tm);
    char stamp[32];
    std::strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm);
    const nlohmann::json line = {
        {"level", std::string(spdlog::level::to_string_view(msg.level).data(),
                              spdlog::level::to_string_view(msg.level).size())},
        {"msg", std::string(msg.payload.data(), msg.payload.size())},
        {"time", stamp}};
    out_ << line.dump() << '\n';
  }
  void flush_() override { out_.flush(); }

 private:
  std::ofstream out_;
};

struct Globals {
  std::string root;
  std::string log;
  std::string log_format = "text";
  bool debug = false;
  bool systemd_cgroup = false;
};

std::string default_root() {
  if (::geteuid() == 0) return "/run/vmm-runc";
  if (const char* xdg = std::getenv("XDG_RUNTIME_DIR"); xdg && *xdg)
    return std::string(xdg) + "/vmm-runc";
  return "/tmp/vmm-runc-" + std::to_string(::geteuid());
}

// runc update's flags, or --resources with a LinuxResources document.
struct UpdateFlags {
  std::string resources_file;
  std::optional<std::string> memory, memory_swap, memory_reservation;
  std::optional<uint64_t> cpu_shares, cpu_period;
  std::optional<int64_t> cpu_quota, pids_limit;
  std::optional<std::string> cpuset_cpus, cpuset_mems;
  std::optional<uint16_t> blkio_weight;
};

Resources update_resources(const UpdateFlags& f) {
  Resources r;
  if (!f.resources_file.empty()) {
    std::ostringstream text;
    if (f.resources_file == "-") {
      text << std::cin.rdbuf();
    } else {
      std::ifstream in(f.resources_file);
      if (!in) throw ConfigError("cannot open --resources " + f.resources_file);
      text << in.rdbuf();
    }
    r = parse_resources_json(text.str());
  }
  // Flags override the document, field by field; checked as a config field would be.
  nlohmann::json doc = nlohmann::json::object();
  const auto bytes = [](const std::string& v, const char* flag) -> int64_t {
    if (v == "-1") return -1;
    return static_cast<int64_t>(parse_size(v, flag));
  };
  if (f.memory) doc["memory"]["limit"] = bytes(*f.memory, "--memory");
  if (f.memory_swap) doc["memory"]["swap"] = bytes(*f.memory_swap, "--memory-swap");
  if (f.memory_reservation) {
    doc["memory"]["reservation"] = bytes(*f.memory_reservation, "--memory-reservation");
  }
  if (f.cpu_shares) doc["cpu"]["shares"] = *f.cpu_shares;
  if (f.cpu_quota) doc["cpu"]["quota"] = *f.cpu_quota;
  if (f.cpu_period) doc["cpu"]["period"] = *f.cpu_period;
  if (f.cpuset_cpus) doc["cpu"]["cpus"] = *f.cpuset_cpus;
  if (f.cpuset_mems) doc["cpu"]["mems"] = *f.cpuset_mems;
  if (f.pids_limit) doc["pids"]["limit"] = *f.pids_limit;
  if (f.blkio_weight) doc["blockIO"]["weight"] = *f.blkio_weight;
  if (!doc.empty()) {
    const Resources flags = parse_resources_json(doc.dump());
    if (flags.memory_limit) r.memory_limit = flags.memory_limit;
    if (flags.memory_swap) r.memory_swap = flags.memory_swap;
    if (flags.memory_reservation) r.memory_reservation = flags.memory_reservation;
    if (flags.cpu_shares) r.cpu_shares = flags.cpu_shares;
    if (flags.cpu_quota) r.cpu_quota = flags.cpu_quota;
    if (flags.cpu_period) r.cpu_period = flags.cpu_period;
    if (flags.cpuset_cpus) r.cpuset_cpus = flags.cpuset_cpus;
    if (flags.cpuset_mems) r.cpuset_mems = flags.cpuset_mems;
    if (flags.pids_limit) r.pids_limit = flags.pids_limit;
    if (flags.blkio_weight) r.blkio_weight = flags.blkio_weight;
  }
  return r;
}

// The user name of a numeric uid, as runc's list prints it; the number when it has none.
std::string owner_name(const std::string& uid) {
  char* end = nullptr;
  const unsigned long id = std::strtoul(uid.c_str(), &end, 10);
  if (uid.empty() || *end != '\0') return uid;
  std::array<char, 1024> buf{};
  passwd pw{};
  passwd* found = nullptr;
  if (::getpwuid_r(static_cast<uid_t>(id), &pw, buf.data(), buf.size(), &found) == 0 &&
      found != nullptr) {
    return found->pw_name;
  }
  return uid;
}

int cmd_list(const ContainerRuntime& runtime, const std::string& format, bool quiet) {
  nlohmann::json all = nlohmann::json::array();
  std::string table = "ID\tPID\tSTATUS\tBUNDLE\tCREATED\tOWNER\n";
  for (const ContainerInfo& c : runtime.list()) {
    const ContainerRecord& rec = c.record;
    if (quiet) {
      std::cout << rec.id << '\n';
      continue;
    }
    const std::string owner = owner_name(rec.owner);
    nlohmann::json entry = nlohmann::json::parse(state_json(rec, c.status));
    entry["owner"] = owner;
    all.push_back(std::move(entry));
    table += rec.id + '\t' + std::to_string(c.status == Status::kStopped ? 0 : rec.pid) + '\t' +
             status_name(c.status) + '\t' + rec.bundle + '\t' + rec.created + '\t' + owner + '\n';
  }
  if (quiet) return 0;
  if (format == "json") {
    std::cout << all.dump() << '\n';
  } else {
    std::cout << table;
  }
  return 0;
}

// runc ps: JSON pids, or the table `ps` prints (its header and the container's lines).
int cmd_ps(const ContainerRuntime& runtime, const std::string& id, const std::string& format,
           const std::vector<std::string>& ps_args) {
  const std::vector<pid_t> pids = runtime.processes(id);
  if (format == "json") {
    nlohmann::json list = nlohmann::json::array();
    for (pid_t p : pids) list.push_back(p);
    std::cout << list.dump() << '\n';
    return 0;
  }
  if (format != "table") throw ConfigError("ps --format must be table or json");
  std::string command = "ps";
  for (const auto& a : ps_args.empty() ? std::vector<std::string>{"-ef"} : ps_args) {
    if (a.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-,=") !=
        std::string::npos) {
      throw ConfigError("ps: unexpected argument '" + a + "'");
    }
    command += ' ' + a;
  }
  std::unique_ptr<FILE, int (*)(FILE*)> out(::popen(command.c_str(), "r"), ::pclose);
  if (!out) throw Error("cannot run " + command);
  std::string line;
  std::array<char, 4096> buf{};
  size_t pid_column = std::string::npos;
  bool header = true;
  while (std::fgets(buf.data(), buf.size(), out.get()) != nullptr) {
    line = buf.data();
    std::istringstream fields(line);
    std::vector<std::string> cols;
    for (std::string f; fields >> f;) cols.push_back(f);
    if (header) {
      header = false;
      for (size_t i = 0; i < cols.size(); ++i) {
        if (cols[i] == "PID") pid_column = i;
      }
      if (pid_column == std::string::npos) throw Error("ps printed no PID column");
      std::cout << line;
      continue;
    }
    if (pid_column >= cols.size()) continue;
    const long pid = std::strtol(cols[pid_column].c_str(), nullptr, 10);
    if (std::find(pids.begin(), pids.end(), static_cast<pid_t>(pid)) != pids.end()) {
      std::cout << line;
    }
  }
  return 0;
}

struct ExecFlags {
  std::string id;
  std::vector<std::string> args;
  std::string process_file;
  std::string console_socket;
  std::string pid_file;
  std::string cwd;
  std::vector<std::string> env;
  std::string user;
  bool tty = false;
  bool detach = false;
  int preserve_fds = 0;
};

// The process exec runs: --process, or the flags over the container's own process.
ExecRequest exec_request(const ContainerRuntime& runtime, const ExecFlags& f) {
  ExecRequest r{.id = f.id,
                .process = {},
                .console_socket = f.console_socket,
                .pid_file = f.pid_file,
                .detach = f.detach,
                .preserve_fds = f.preserve_fds};
  if (!f.process_file.empty()) {
    std::ifstream in(f.process_file);
    if (!in) throw ConfigError("cannot open --process " + f.process_file);
    std::ostringstream ss;
    ss << in.rdbuf();
    r.process = parse_process_json(ss.str());
    return r;
  }
  if (f.args.empty()) throw ConfigError("exec: no command given");
  r.process = runtime.saved_spec(f.id).process;
  r.process.args = f.args;
  r.process.terminal = f.tty;
  if (!f.cwd.empty()) r.process.cwd = f.cwd;
  for (const auto& e : f.env) r.process.env.push_back(e);
  if (!f.user.empty()) parse_user(f.user, r.process.user);
  return r;
}

int cmd_features() {
  nlohmann::json caps = nlohmann::json::array();
  for (std::string_view name : capability_names()) caps.push_back(name);
  const nlohmann::json doc = {
      {"ociVersionMin", "1.0.0"},
      {"ociVersionMax", "1.2.0"},
      {"hooks",
       {"prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"}},
      {"mountOptions",
       {"ro",      "rw",       "nosuid",      "suid",       "nodev",      "dev",
        "noexec",  "exec",     "bind",        "rbind",      "private",    "rprivate",
        "shared",  "rshared",  "slave",       "rslave",     "unbindable", "runbindable",
        "noatime", "relatime", "strictatime", "nodiratime", "sync",       "dirsync"}},
      {"linux",
       {{"namespaces", {"cgroup", "ipc", "mount", "network", "pid", "user", "uts", "time"}},
        {"capabilities", caps},
        {"cgroup", {{"v1", true}, {"v2", true}, {"systemd", false}, {"systemdUser", false}}},
        {"seccomp",
         {{"enabled", true},
          {"actions",
           {"SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS",
            "SCMP_ACT_KILL_THREAD", "SCMP_ACT_LOG", "SCMP_ACT_TRACE", "SCMP_ACT_TRAP"}},
          {"operators",
           {"SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_LE", "SCMP_CMP_LT",
            "SCMP_CMP_MASKED_EQ", "SCMP_CMP_NE"}},
          {"archs", {"SCMP_ARCH_X86", "SCMP_ARCH_X86_64", "SCMP_ARCH_X32"}}}},
        {"apparmor", {{"enabled", false}}},
        {"selinux", {{"enabled", false}}}}},
  };
  std::cout << doc.dump(2) << '\n';
  return 0;
}

void configure_logging(const Globals& g) {
  if (g.log_format != "text" && g.log_format != "json") {
    throw ConfigError("--log-format must be text or json");
  }
  if (g.log.empty()) return;
  std::shared_ptr<spdlog::logger> logger;
  if (g.log_format == "json") {
    logger = std::make_shared<spdlog::logger>("vmm-oci", std::make_shared<JsonLogSink>(g.log));
  } else if (g.log_format == "text") {
    logger = std::make_shared<spdlog::logger>(
        "vmm-oci", std::make_shared<spdlog::sinks::basic_file_sink_mt>(g.log));
  } else {
    throw ConfigError("--log-format must be text or json");
  }
  logger->set_level(g.debug ? spdlog::level::debug : spdlog::level::info);
  logger->flush_on(spdlog::level::debug);
  spdlog::set_default_logger(logger);
}

}  // namespace

int oci_main(int argc, char** argv) {
  CLI::App app{"vmm oci: an OCI runtime with runc's command line", "vmm oci"};
  // runc's format: the first line names the runtime and version, then the spec it implements.
  app.set_version_flag("--version,-v",
                       std::string("vmm-runc version ") + VMM_VERSION + "\nspec: 1.2.0");
  app.require_subcommand(1);
  Globals g;
  app.add_option("--root", g.root, "State directory");
  app.add_option("--log", g.log, "Log file");
  app.add_option("--log-format", g.log_format, "text or json");
  app.add_flag("--debug", g.debug, "Debug logging");
  app.add_flag("--systemd-cgroup", g.systemd_cgroup, "Not supported (refused)");
  bool rootless_flag = false;
  app.add_flag("--rootless", rootless_flag, "Accepted for compatibility");

  CreateRequest cf;
  bool no_new_keyring = false;
  const auto add_create_flags = [&](CLI::App* sub) {
    sub->add_option("id", cf.id, "Container id")->required();
    sub->add_option("--bundle,-b", cf.bundle, "Bundle directory");
    sub->add_option("--console-socket", cf.console_socket, "Unix socket receiving the pty master");
    sub->add_option("--pid-file", cf.pid_file, "Write the init pid here");
    sub->add_option("--preserve-fds", cf.preserve_fds, "Pass this many fds after stdio");
    sub->add_flag("--no-pivot", cf.no_pivot, "Refused: pivot_root is always used");
    sub->add_flag("--no-new-keyring", no_new_keyring, "Accepted for compatibility");
  };
  auto* create = app.add_subcommand("create", "Create a container (init waits for start)");
  add_create_flags(create);
  auto* run = app.add_subcommand("run", "Create and start a container");
  add_create_flags(run);
  run->add_flag("--detach,-d", cf.detach, "Do not wait for the container");
  run->add_flag("--keep", cf.keep, "Keep the state after the container exits");
  std::string id;
  auto* start = app.add_subcommand("start", "Start a created container");
  start->add_option("id", id)->required();
  auto* state = app.add_subcommand("state", "Print the state JSON of a container");
  state->add_option("id", id)->required();
  std::string signal = "SIGTERM";
  bool all = false;
  auto* kill = app.add_subcommand("kill", "Send a signal to the container's init");
  kill->add_option("id", id)->required();
  kill->add_option("signal", signal, "Signal name or number (default SIGTERM)");
  kill->add_flag("--all,-a", all, "Signal every process of the container");
  bool force = false;
  auto* del = app.add_subcommand("delete", "Delete a stopped container");
  del->add_option("id", id)->required();
  del->add_flag("--force,-f", force, "Kill it first if it still runs");
  std::string format = "table";
  bool quiet = false;
  auto* list = app.add_subcommand("list", "List containers");
  list->add_option("--format,-f", format, "table or json");
  list->add_flag("--quiet,-q", quiet, "Only ids");
  auto* ps = app.add_subcommand("ps", "List the processes of a container");
  ps->add_option("id", id)->required();
  std::string ps_format = "table";
  std::vector<std::string> ps_args;
  ps->add_option("--format,-f", ps_format, "table (ps output) or json (pids)");
  ps->add_option("ps_args", ps_args, "Arguments for ps (default -ef)");
  auto* pause = app.add_subcommand("pause", "Freeze every process of a container");
  pause->add_option("id", id)->required();
  auto* resume = app.add_subcommand("resume", "Thaw a paused container");
  resume->add_option("id", id)->required();
  UpdateFlags uf;
  auto* update = app.add_subcommand("update", "Change the resource limits of a container");
  update->add_option("id", id)->required();
  update->add_option("--resources,-r", uf.resources_file, "LinuxResources JSON file, - for stdin");
  update->add_option("--memory", uf.memory, "Memory limit (bytes, or with k/m/g)");
  update->add_option("--memory-swap", uf.memory_swap, "Memory + swap limit, -1 unlimited");
  update->add_option("--memory-reservation", uf.memory_reservation, "Soft memory limit");
  update->add_option("--cpu-shares", uf.cpu_shares, "CPU shares");
  update->add_option("--cpu-quota", uf.cpu_quota, "CFS quota in microseconds, -1 unlimited");
  update->add_option("--cpu-period", uf.cpu_period, "CFS period in microseconds");
  update->add_option("--cpuset-cpus", uf.cpuset_cpus, "CPUs allowed, e.g. 0-1");
  update->add_option("--cpuset-mems", uf.cpuset_mems, "Memory nodes allowed");
  update->add_option("--pids-limit", uf.pids_limit, "Most processes, <= 0 unlimited");
  update->add_option("--blkio-weight", uf.blkio_weight, "Block I/O weight, 10..1000");
  std::string spec_bundle = ".";
  bool spec_rootless = false;
  auto* spec = app.add_subcommand("spec", "Write a template config.json");
  spec->add_option("--bundle,-b", spec_bundle, "Bundle directory");
  spec->add_flag("--rootless", spec_rootless, "Template for an unprivileged user");
  auto* features = app.add_subcommand("features", "Print the supported features (JSON)");
  ExecFlags ef;
  auto* exec = app.add_subcommand("exec", "Run a process in a running container");
  exec->add_option("id", ef.id)->required();
  exec->add_option("--process,-p", ef.process_file, "process.json");
  exec->add_option("--console-socket", ef.console_socket, "Unix socket receiving the pty master");
  exec->add_option("--pid-file", ef.pid_file, "Write the pid here");
  exec->add_option("--cwd", ef.cwd, "Working directory");
  exec->add_option("--env,-e", ef.env, "KEY=VALUE");
  exec->add_option("--user,-u", ef.user, "UID[:GID]");
  exec->add_flag("--tty,-t", ef.tty, "Allocate a pty");
  exec->add_flag("--detach,-d", ef.detach, "Do not wait");
  exec->add_option("--preserve-fds", ef.preserve_fds, "Pass this many fds after stdio");
  exec->prefix_command();

  std::vector<std::string> exec_args;
  int own = argc;
  for (int i = 1; i < argc; ++i) {
    if (std::string_view(argv[i]) == "--") {
      own = i;
      exec_args.assign(argv + i + 1, argv + argc);
      break;
    }
  }
  try {
    app.parse(own, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? 0 : static_cast<int>(ExitStatus::kUsageError);
  }
  try {
    configure_logging(g);
    if (g.systemd_cgroup) throw ConfigError("--systemd-cgroup is not supported");
    if (g.root.empty()) g.root = default_root();
    if (*spec) {
      const std::string path = spec_bundle + "/config.json";
      if (std::filesystem::exists(path)) throw ConfigError(path + " already exists");
      std::ofstream out(path);
      out << spec_template_json(spec_rootless);
      if (!out) throw ConfigError("cannot write " + path);
      return 0;
    }
    if (*features) return cmd_features();
    if (*create || *run || *exec) ensure_running_from_sealed_copy();
    ContainerRuntime runtime(g.root);
    if (*create) {
      runtime.create(cf);
      return 0;
    }
    if (*run) return runtime.run(cf);
    if (*start) {
      runtime.start(id);
      return 0;
    }
    if (*state) {
      const ContainerInfo c = runtime.state(id);
      std::cout << state_json(c.record, c.status) << '\n';
      return 0;
    }
    if (*kill) {
      runtime.kill(id, parse_signal(signal), all);
      return 0;
    }
    if (*del) {
      runtime.remove(id, force);
      return 0;
    }
    if (*list) return cmd_list(runtime, format, quiet);
    if (*ps) return cmd_ps(runtime, id, ps_format, ps_args);
    if (*pause) {
      runtime.pause(id);
      return 0;
    }
    if (*resume) {
      runtime.resume(id);
      return 0;
    }
    if (*update) {
      runtime.update(id, update_resources(uf));
      return 0;
    }
    if (*exec) {
      ef.args = own == argc ? exec->remaining() : exec_args;
      return runtime.exec(exec_request(runtime, ef));
    }
    return static_cast<int>(ExitStatus::kUsageError);
  } catch (const ConfigError& e) {
    if (!g.log.empty()) spdlog::error("{}", e.what());
    std::fprintf(stderr, "vmm: %s\n", e.what());
    return static_cast<int>(ExitStatus::kUsageError);
  } catch (const std::exception& e) {
    if (!g.log.empty()) spdlog::error("{}", e.what());
    std::fprintf(stderr, "vmm: oci: %s\n", e.what());
    return kOciRuntimeError;
  }
}

}  // namespace vmm::container
