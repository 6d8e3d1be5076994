#include "container/runtime.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <thread>
#include <utility>

#include "container/cgroup.hpp"
#include "container/console_socket.hpp"
#include "container/hooks.hpp"
#include "container/supervisor.hpp"
#include "vmm/common/error.hpp"

namespace vmm::container {
namespace {

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
  std::string normal = abs.lexically_normal().string();
  while (normal.size() > 1 && normal.back() == '/') normal.pop_back();  // "bundle/" in state
  return normal;
}

// Runs `fn` on a container's cgroup, which stays in place afterwards: only `delete` removes
// it (destroy_stopped).
template <typename Fn>
auto with_cgroup(const ContainerRecord& rec, Fn&& fn) {
  Cgroup cg = Cgroup::attach(detect_cgroup_layout(), rec.cgroup);
  struct Keep {
    Cgroup& cgroup;
    ~Keep() { cgroup.release(); }
  } keep{cg};
  return std::forward<Fn>(fn)(cg);
}

}  // namespace

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

Spec ContainerRuntime::saved_spec(const std::string& id) const {
  std::ifstream in(store_.dir(id) + "/config.json");
  std::ostringstream ss;
  ss << in.rdbuf();
  return parse_config(ss.str());
}

LaunchedContainer ContainerRuntime::create_container(const CreateRequest& f, bool wait_for_start,
                                                     ContainerRecord& rec, Spec& spec) {
  const StateStore& store = store_;
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

void ContainerRuntime::destroy_stopped(const ContainerRecord& rec) {
  if (!rec.cgroup.empty()) {
    Cgroup cg = Cgroup::attach(detect_cgroup_layout(), rec.cgroup);
    cg.destroy();
  }
  try {
    const Spec spec = saved_spec(rec.id);
    run_hooks_logged(spec.hooks.poststop, state_json(rec, Status::kStopped), "poststop");
  } catch (const std::exception& e) {
    spdlog::warn("poststop hooks of {}: {}", rec.id, e.what());
  }
  store_.remove(rec.id);
}

void ContainerRuntime::wait_until_stopped(const ContainerRecord& rec) const {
  for (int i = 0; i < 500 && store_.status(rec) != Status::kStopped; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

void ContainerRuntime::create(const CreateRequest& request) {
  ContainerRecord rec;
  Spec spec;
  LaunchedContainer c = create_container(request, true, rec, spec);
  c.release();
}

void ContainerRuntime::start(const std::string& id) {
  const StateStore& store = store_;
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
  // Init keeps the fifo open until execve closes it; if it fails first, it says why here.
  std::string failure;
  for (int i = 0; i < 3000; ++i) {  // 30 s: startContainer hooks run in between
    pollfd p{fd.get(), POLLIN, 0};
    if (::poll(&p, 1, 10) <= 0) continue;
    std::array<char, 512> buf{};
    const ssize_t n = ::read(fd.get(), buf.data(), buf.size());
    if (n > 0) {
      failure.append(buf.data(), static_cast<size_t>(n));
      continue;
    }
    if (n == 0 || errno != EAGAIN) break;  // closed: exec'd, or died after saying why
  }
  if (!failure.empty()) throw Error("container '" + id + "' failed to start: " + failure);
  const Spec spec = saved_spec(id);
  run_hooks_logged(spec.hooks.poststart, state_json(rec, Status::kRunning), "poststart");
}

int ContainerRuntime::run(const CreateRequest& f) {
  const StateStore& store = store_;
  ContainerRecord rec;
  Spec spec;
  std::optional<ForwardedSignals> signals;
  if (!f.detach) signals.emplace();
  LaunchedContainer c = create_container(f, false, rec, spec);
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
  if (!f.keep) destroy_stopped(rec);
  return status;
}

void ContainerRuntime::remove(const std::string& id, bool force) {
  const StateStore& store = store_;
  ContainerRecord rec;
  try {
    rec = store.load(id);
  } catch (const ConfigError&) {
    if (force) return;  // runc: delete --force of a missing container succeeds
    throw;
  }
  const Status st = status_of(rec);
  if (st != Status::kStopped) {
    if (!force && st != Status::kCreated)
      throw Error("container '" + id + "' is running; stop it or use --force");
    ::kill(rec.pid, SIGKILL);
    if (st == Status::kPaused || status_of(rec) == Status::kPaused) {
      try {
        with_cgroup(rec, [](Cgroup& cg) { cg.set_frozen(false); });  // a frozen task cannot die
      } catch (const Error&) {
      }
    }
    wait_until_stopped(rec);
    if (store.status(rec) != Status::kStopped) throw Error("container '" + id + "' did not stop");
  }
  destroy_stopped(rec);
}

void ContainerRuntime::kill(const std::string& id, int sig, bool all) {
  const StateStore& store = store_;
  const ContainerRecord rec = store.load(id);
  if (store.status(rec) == Status::kStopped) throw Error("container '" + id + "' is not running");
  if (all && !rec.cgroup.empty()) {
    for (pid_t p : with_cgroup(rec, [](Cgroup& cg) { return cg.processes(); })) ::kill(p, sig);
    return;
  }
  if (::kill(rec.pid, sig) != 0) throw system_error("kill", errno);
}

Status ContainerRuntime::status_of(const ContainerRecord& rec) const {
  const Status st = store_.status(rec);
  if (st != Status::kRunning || rec.cgroup.empty()) return st;
  return with_cgroup(rec, [](Cgroup& cg) { return cg.frozen(); }) ? Status::kPaused : st;
}

ContainerInfo ContainerRuntime::state(const std::string& id) const {
  ContainerInfo info{.record = store_.load(id), .status = Status::kStopped};
  info.status = status_of(info.record);
  return info;
}

void ContainerRuntime::pause(const std::string& id) {
  const ContainerRecord rec = store_.load(id);
  const Status st = status_of(rec);
  if (st != Status::kRunning) {
    throw StateError("container '" + id + "' is " + status_name(st) + ", not running");
  }
  if (rec.cgroup.empty()) throw Error("container '" + id + "' has no cgroup to freeze");
  with_cgroup(rec, [](Cgroup& cg) { cg.set_frozen(true); });
}

void ContainerRuntime::resume(const std::string& id) {
  const ContainerRecord rec = store_.load(id);
  const Status st = status_of(rec);
  if (st != Status::kPaused) {
    throw StateError("container '" + id + "' is " + status_name(st) + ", not paused");
  }
  with_cgroup(rec, [](Cgroup& cg) { cg.set_frozen(false); });
}

void ContainerRuntime::update(const std::string& id, const Resources& resources) {
  const ContainerRecord rec = store_.load(id);
  const Status st = status_of(rec);
  if (st == Status::kStopped) throw StateError("container '" + id + "' is stopped");
  if (rec.cgroup.empty()) throw Error("container '" + id + "' has no cgroup to update");
  with_cgroup(rec, [&resources](Cgroup& cg) { cg.update(resources); });
}

std::vector<ContainerInfo> ContainerRuntime::list() const {
  std::vector<ContainerInfo> all;
  for (const auto& id : store_.list()) {
    try {
      all.push_back(state(id));
    } catch (const std::exception&) {
      // a container being created or deleted right now: not listed
    }
  }
  return all;
}

std::vector<pid_t> ContainerRuntime::processes(const std::string& id) const {
  const ContainerRecord rec = store_.load(id);
  if (!rec.cgroup.empty()) {
    return with_cgroup(rec, [](Cgroup& cg) { return cg.processes(); });
  }
  if (store_.status(rec) != Status::kStopped) return {rec.pid};
  return {};
}

int ContainerRuntime::exec(const ExecRequest& f) {
  const StateStore& store = store_;
  const ContainerRecord rec = store.load(f.id);
  if (const Status st = status_of(rec); st != Status::kRunning) {
    throw StateError("container '" + f.id + "' is " + status_name(st) + ", not running");
  }
  const Spec spec = saved_spec(f.id);
  const Process& p = f.process;
  if (p.terminal && f.console_socket.empty() && f.detach)
    throw ConfigError("a detached terminal needs --console-socket");
  std::optional<ForwardedSignals> signals;
  if (!f.detach) signals.emplace();
  const Seccomp* seccomp = spec.linux_config.seccomp ? &*spec.linux_config.seccomp : nullptr;
  LaunchedContainer c = launch_exec(rec.pid, p, seccomp, rec.cgroup, f.preserve_fds, f.detach);
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

namespace {

// What a foreground run leaves in its state directory so that a later run can tell, should
// this runtime be killed with SIGKILL, that nobody owns the directory and the cgroup.
constexpr const char* kRunOwnerFile = "/runtime-owner";

}  // namespace

size_t ContainerRuntime::sweep_abandoned_runs() {
  size_t swept = 0;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(store_.root(), ec)) {
    std::ifstream owner(e.path().string() + kRunOwnerFile);
    long pid = 0;
    std::string cgroup;
    if (!(owner >> pid) || pid <= 0) continue;
    std::getline(owner >> std::ws, cgroup);
    if (::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM) continue;  // still running
    if (!cgroup.empty()) {
      try {
        Cgroup cg = Cgroup::attach(detect_cgroup_layout(), cgroup);
        cg.destroy();
      } catch (const std::exception& x) {
        spdlog::warn("abandoned container {}: cannot remove cgroup {}: {}",
                     e.path().filename().string(), cgroup, x.what());
        continue;
      }
    }
    std::filesystem::remove_all(e.path(), ec);
    spdlog::info("removed the state of container {}, whose runtime was killed",
                 e.path().filename().string());
    ++swept;
  }
  return swept;
}

int ContainerRuntime::run_foreground(const Spec& spec, LaunchOptions options) {
  store_.create(options.id);
  {
    std::ofstream owner(store_.dir(options.id) + kRunOwnerFile);
    owner << ::getpid() << '\n' << options.cgroup_path << '\n';
    if (!owner) throw system_error("cannot write the state of " + options.id, errno);
  }
  struct RemoveState {
    const StateStore& s;
    std::string id;
    ~RemoveState() { s.remove(id); }
  } remove_state{store_, options.id};
  options.bundle = store_.dir(options.id);
  options.state_dir = store_.dir(options.id);
  ForwardedSignals signals;
  LaunchedContainer c = launch(spec, options);
  c.wait_for_exec();
  return supervise(c, signals, options.system_init);
}

}  // namespace vmm::container
