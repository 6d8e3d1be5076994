// `vmm oci ...`: the runc-compatible command line (create, start, state, kill, delete, run,
// exec, list, ps, spec, features), so tools that take a runtime binary can drive vmm.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "container/cgroup.hpp"
#include "container/cli.hpp"
#include "container/console_socket.hpp"
#include "container/default_spec.hpp"
#include "container/hooks.hpp"
#include "container/launcher.hpp"
#include "container/sealed_exe.hpp"
#include "container/state_store.hpp"
#include "container/supervisor.hpp"
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

std::string now_rfc3339() {
  const auto t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

void write_pid_file(const std::string& path, pid_t pid) {
  if (path.empty()) return;
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << pid;
    if (!out) throw Error("cannot write pid file " + path);
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0)
    throw system_error("cannot write pid file " + path, errno);
}

std::string absolute(const std::string& p) {
  std::error_code ec;
  auto abs = std::filesystem::absolute(p.empty() ? "." : p, ec);
  if (ec) throw ConfigError("bad path " + p);
  return abs.lexically_normal().string();
}

int parse_signal(std::string s) {
  if (s.empty()) return SIGTERM;
  if (s.find_first_not_of("0123456789") == std::string::npos) {
    const long n = std::stol(s);
    if (n <= 0 || n >= NSIG) throw ConfigError("invalid signal " + s);
    return static_cast<int>(n);
  }
  for (auto& ch : s) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  if (s.rfind("SIG", 0) == 0) s = s.substr(3);
  for (int sig = 1; sig < NSIG; ++sig) {
    const char* abbrev = sigabbrev_np(sig);
    if (abbrev && s == abbrev) return sig;
  }
  throw ConfigError("invalid signal " + s);
}

// A container's config.json is copied into its state directory at create time, so delete
// and exec see the configuration it was created with even if the bundle changes or goes.
Spec saved_spec(const StateStore& store, const std::string& id) {
  std::ifstream in(store.dir(id) + "/config.json");
  std::ostringstream ss;
  ss << in.rdbuf();
  return parse_config(ss.str());
}

struct CreateFlags {
  std::string id;
  std::string bundle = ".";
  std::string console_socket;
  std::string pid_file;
  int preserve_fds = 0;
  bool detach = false;
  bool keep = false;
  bool no_pivot = false;
  bool no_new_keyring = false;
};

// Shared by create and run. On any failure the state directory, cgroup and init are gone.
LaunchedContainer create_container(const StateStore& store, const CreateFlags& f,
                                   bool wait_for_start, ContainerRecord& rec, Spec& spec) {
  validate_container_id(f.id);
  const std::string bundle = absolute(f.bundle);
  spec = load_bundle_config(bundle);
  fill_default_id_mappings(spec);
  if (spec.process.terminal && f.console_socket.empty() && wait_for_start) {
    throw ConfigError("process.terminal needs --console-socket");
  }
  if (f.no_pivot) throw ConfigError("--no-pivot is not supported: pivot_root is always used");
  store.create(f.id);
  struct Guard {
    const StateStore& s;
    std::string id;
    bool armed = true;
    ~Guard() {
      if (armed) s.remove(id);
    }
  } guard{store, f.id};
  std::filesystem::copy_file(bundle + "/config.json", store.dir(f.id) + "/config.json");

  LaunchOptions o;
  o.id = f.id;
  o.bundle = bundle;
  o.state_dir = store.dir(f.id);
  o.wait_for_start = wait_for_start;
  o.outlives_runtime = wait_for_start || f.detach;
  o.preserve_fds = f.preserve_fds;
  o.seccomp = spec.linux_config.seccomp ? &*spec.linux_config.seccomp : nullptr;
  if (!spec.linux_config.cgroups_path.empty()) {
    o.cgroup_path = spec.linux_config.cgroups_path;
  } else if (::geteuid() == 0) {
    o.cgroup_path = "vmm-runc/" + f.id;
  }
  LaunchedContainer c = launch(spec, o);
  rec.id = f.id;
  rec.pid = c.pid;
  rec.start_time = process_start_time(c.pid);
  rec.bundle = bundle;
  rec.rootfs = spec.root_path;
  rec.cgroup = c.cgroup.empty() ? std::string() : o.cgroup_path;
  rec.created = now_rfc3339();
  rec.owner = std::to_string(::geteuid());
  rec.annotations = spec.annotations;
  store.save(rec);
  if (c.pty_master && !f.console_socket.empty()) {
    send_console(f.console_socket, c.pty_master.get());
    c.pty_master.reset();
  }
  write_pid_file(f.pid_file, c.pid);
  guard.armed = false;
  return c;
}

// Cleans up a container whose init has exited: cgroup, poststop hooks, state.
void destroy_stopped(const StateStore& store, const ContainerRecord& rec) {
  if (!rec.cgroup.empty()) {
    Cgroup cg = Cgroup::attach(detect_cgroup_layout(), rec.cgroup);
    cg.destroy();
  }
  try {
    const Spec spec = saved_spec(store, rec.id);
    run_hooks_logged(spec.hooks.poststop, state_json(rec, Status::kStopped), "poststop");
  } catch (const std::exception& e) {
    spdlog::warn("poststop hooks of {}: {}", rec.id, e.what());
  }
  store.remove(rec.id);
}

void wait_until_stopped(const StateStore& store, const ContainerRecord& rec) {
  for (int i = 0; i < 500 && store.status(rec) != Status::kStopped; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

int cmd_start(const StateStore& store, const std::string& id) {
  const ContainerRecord rec = store.load(id);
  if (store.status(rec) != Status::kCreated) {
    throw Error("container '" + id + "' is " + status_name(store.status(rec)) + ", not created");
  }
  const std::string fifo = store.dir(id) + "/exec.fifo";
  UniqueFd fd(::open(fifo.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC));
  if (!fd) throw system_error("cannot open the exec fifo", errno);
  // Opening for reading released init's blocking open; it now writes one byte.
  char byte = 0;
  for (int i = 0; i < 1000; ++i) {
    pollfd p{fd.get(), POLLIN, 0};
    if (::poll(&p, 1, 10) > 0 && ::read(fd.get(), &byte, 1) == 1) break;
    if (store.status(rec) == Status::kStopped)
      throw Error("container '" + id + "' exited before it started");
  }
  if (byte != '0') throw Error("container '" + id + "' did not start");
  ::unlink(fifo.c_str());
  const Spec spec = saved_spec(store, id);
  run_hooks_logged(spec.hooks.poststart, state_json(rec, Status::kRunning), "poststart");
  return 0;
}

int cmd_run(const StateStore& store, const CreateFlags& f) {
  ContainerRecord rec;
  Spec spec;
  std::optional<ForwardedSignals> signals;
  if (!f.detach) signals.emplace();
  LaunchedContainer c = create_container(store, f, false, rec, spec);
  try {
    c.wait_for_exec();
  } catch (...) {
    store.remove(f.id);
    throw;
  }
  run_hooks_logged(spec.hooks.poststart, state_json(rec, Status::kRunning), "poststart");
  if (f.detach) {
    c.release();
    return 0;
  }
  const int status = supervise(c, *signals);
  c.cgroup.release();  // destroy_stopped removes it, after the poststop hooks have their say
  if (!f.keep) destroy_stopped(store, rec);
  return status;
}

int cmd_delete(const StateStore& store, const std::string& id, bool force) {
  ContainerRecord rec;
  try {
    rec = store.load(id);
  } catch (const ConfigError&) {
    if (force) return 0;  // runc: delete --force of a missing container succeeds
    throw;
  }
  const Status st = store.status(rec);
  if (st != Status::kStopped) {
    if (!force && st != Status::kCreated)
      throw Error("container '" + id + "' is running; stop it or use --force");
    ::kill(rec.pid, SIGKILL);
    wait_until_stopped(store, rec);
    if (store.status(rec) != Status::kStopped) throw Error("container '" + id + "' did not stop");
  }
  destroy_stopped(store, rec);
  return 0;
}

int cmd_kill(const StateStore& store, const std::string& id, const std::string& signal, bool all) {
  const int sig = parse_signal(signal);
  const ContainerRecord rec = store.load(id);
  if (store.status(rec) == Status::kStopped) throw Error("container '" + id + "' is not running");
  if (all && !rec.cgroup.empty()) {
    Cgroup cg = Cgroup::attach(detect_cgroup_layout(), rec.cgroup);
    const auto pids = cg.processes();
    cg.release();  // only looking: the cgroup stays until delete
    for (pid_t p : pids) ::kill(p, sig);
    return 0;
  }
  if (::kill(rec.pid, sig) != 0) throw system_error("kill", errno);
  return 0;
}

int cmd_list(const StateStore& store, const std::string& format, bool quiet) {
  nlohmann::json all = nlohmann::json::array();
  std::string table = "ID\tPID\tSTATUS\tBUNDLE\tCREATED\tOWNER\n";
  for (const auto& id : store.list()) {
    ContainerRecord rec;
    try {
      rec = store.load(id);
    } catch (const std::exception&) {
      continue;
    }
    const Status st = store.status(rec);
    if (quiet) {
      std::cout << id << '\n';
      continue;
    }
    all.push_back(nlohmann::json::parse(state_json(rec, st)));
    table += id + '\t' + std::to_string(st == Status::kStopped ? 0 : rec.pid) + '\t' +
             status_name(st) + '\t' + rec.bundle + '\t' + rec.created + '\t' + rec.owner + '\n';
  }
  if (quiet) return 0;
  if (format == "json") {
    std::cout << all.dump() << '\n';
  } else {
    std::cout << table;
  }
  return 0;
}

int cmd_ps(const StateStore& store, const std::string& id) {
  const ContainerRecord rec = store.load(id);
  nlohmann::json pids = nlohmann::json::array();
  if (!rec.cgroup.empty()) {
    Cgroup cg = Cgroup::attach(detect_cgroup_layout(), rec.cgroup);
    for (pid_t p : cg.processes()) pids.push_back(p);
    cg.release();
  } else if (store.status(rec) != Status::kStopped) {
    pids.push_back(rec.pid);
  }
  std::cout << pids.dump() << '\n';
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

int cmd_exec(const StateStore& store, const ExecFlags& f) {
  const ContainerRecord rec = store.load(f.id);
  if (store.status(rec) != Status::kRunning) throw Error("container '" + f.id + "' is not running");
  const Spec spec = saved_spec(store, f.id);
  Process p = spec.process;
  if (!f.process_file.empty()) {
    std::ifstream in(f.process_file);
    if (!in) throw ConfigError("cannot open --process " + f.process_file);
    std::ostringstream ss;
    ss << in.rdbuf();
    p = parse_process_json(ss.str());
  } else {
    if (f.args.empty()) throw ConfigError("exec: no command given");
    p.args = f.args;
    p.terminal = f.tty;
    if (!f.cwd.empty()) p.cwd = f.cwd;
    for (const auto& e : f.env) p.env.push_back(e);
    if (!f.user.empty()) parse_user(f.user, p.user);
  }
  if (p.terminal && f.console_socket.empty() && f.detach)
    throw ConfigError("a detached terminal needs --console-socket");
  std::optional<ForwardedSignals> signals;
  if (!f.detach) signals.emplace();
  const Seccomp* seccomp = spec.linux_config.seccomp ? &*spec.linux_config.seccomp : nullptr;
  LaunchedContainer c = launch_exec(rec.pid, p, seccomp, rec.cgroup, f.preserve_fds);
  if (c.pty_master && !f.console_socket.empty()) {
    send_console(f.console_socket, c.pty_master.get());
    c.pty_master.reset();
  }
  c.wait_for_exec();
  write_pid_file(f.pid_file, c.pid);
  if (f.detach) {
    c.release();
    return 0;
  }
  return supervise(c, *signals);
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

  CreateFlags cf;
  const auto add_create_flags = [&](CLI::App* sub) {
    sub->add_option("id", cf.id, "Container id")->required();
    sub->add_option("--bundle,-b", cf.bundle, "Bundle directory");
    sub->add_option("--console-socket", cf.console_socket, "Unix socket receiving the pty master");
    sub->add_option("--pid-file", cf.pid_file, "Write the init pid here");
    sub->add_option("--preserve-fds", cf.preserve_fds, "Pass this many fds after stdio");
    sub->add_flag("--no-pivot", cf.no_pivot, "Refused: pivot_root is always used");
    sub->add_flag("--no-new-keyring", cf.no_new_keyring, "Accepted for compatibility");
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
  auto* ps = app.add_subcommand("ps", "List the pids of a container (JSON)");
  ps->add_option("id", id)->required();
  ps->add_option("--format,-f", format, "json");
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
    const StateStore store(g.root);
    if (*create) {
      ContainerRecord rec;
      Spec s;
      LaunchedContainer c = create_container(store, cf, true, rec, s);
      c.release();
      return 0;
    }
    if (*run) return cmd_run(store, cf);
    if (*start) return cmd_start(store, id);
    if (*state) {
      const ContainerRecord rec = store.load(id);
      std::cout << state_json(rec, store.status(rec)) << '\n';
      return 0;
    }
    if (*kill) return cmd_kill(store, id, signal, all);
    if (*del) return cmd_delete(store, id, force);
    if (*list) return cmd_list(store, format, quiet);
    if (*ps) return cmd_ps(store, id);
    if (*exec) {
      ef.args = own == argc ? exec->remaining() : exec_args;
      return cmd_exec(store, ef);
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
