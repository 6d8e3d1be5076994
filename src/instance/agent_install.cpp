#include "instance/agent_install.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <fstream>
#include <iterator>
#include <optional>
#include <set>
#include <sstream>
#include <string_view>
#include <vector>

#include "container/path_in_root.hpp"
#include "vmm/common/error.hpp"
#include "vmm/common/unique_fd.hpp"

namespace vmm::instance {
namespace {

namespace fs = std::filesystem;
using container::open_in_root;

// An inittab bigger than this is no inittab.
constexpr off_t kMaxInittab = 1 << 20;
constexpr const char* kStagingSuffix = ".vmm-new";

constexpr std::string_view kSystemdUnit = R"unit([Unit]
Description=vmm guest agent (serves the host over virtio-vsock)
# Never give up: the agent is how the host reaches the guest.
StartLimitIntervalSec=0

[Service]
ExecStart=/usr/lib/vmm/vmm-agent
Restart=always
RestartSec=1

[Install]
WantedBy=multi-user.target
)unit";

constexpr std::string_view kOpenRcScript = R"script(#!/sbin/openrc-run
description="vmm guest agent (serves the host over virtio-vsock)"
command=/usr/lib/vmm/vmm-agent
supervisor=supervise-daemon
respawn_delay=1
respawn_max=0
)script";

UniqueFd open_root(const fs::path& root) {
  UniqueFd fd(::open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!fd) throw system_error("cannot open " + root.string(), errno);
  return fd;
}

// The object at `path` inside the root (symlinks followed within it), or none when it is
// missing or cannot be resolved: detection only looks.
UniqueFd find_in_root(int root, std::string_view path) {
  try {
    bool missing = false;
    UniqueFd fd = open_in_root(root, path, &missing);
    return missing ? UniqueFd() : std::move(fd);
  } catch (const Error&) {
    return {};
  }
}

bool is_regular_in_root(int root, std::string_view path) {
  const UniqueFd fd = find_in_root(root, path);
  struct stat st {};
  return fd && ::fstat(fd.get(), &st) == 0 && S_ISREG(st.st_mode);
}

// The last component of where the symlink at `path` points, or "" when it is no symlink.
std::string link_target_name(int root, std::string_view path) {
  const fs::path p(path);
  const UniqueFd parent = find_in_root(root, p.parent_path().string());
  if (!parent) return {};
  std::array<char, 4096> buf{};
  const ssize_t n = ::readlinkat(parent.get(), p.filename().c_str(), buf.data(), buf.size() - 1);
  if (n <= 0) return {};
  return fs::path(std::string(buf.data(), static_cast<size_t>(n))).filename().string();
}

// The text of the regular file at `path` inside the root (symlinks followed within it).
std::optional<std::string> read_in_root(int root, std::string_view path) {
  const UniqueFd at = find_in_root(root, path);
  struct stat st {};
  if (!at || ::fstat(at.get(), &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > kMaxInittab) {
    return std::nullopt;
  }
  // Reopening the resolved object itself: nothing is looked up again by name.
  std::ifstream in(container::fd_path(at.get()), std::ios::binary);
  if (!in) return std::nullopt;
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// The directory `path` (absolute, no "..") inside the root, made (0755) where missing. Each
// component is made in its parent as resolved so far, then resolved again inside the root.
UniqueFd make_dirs_in_root(int root, std::string_view path) {
  UniqueFd dir(::fcntl(root, F_DUPFD_CLOEXEC, 0));
  if (!dir) throw system_error("dup", errno);
  std::string so_far;
  for (const std::string& part : container::path_components(path)) {
    so_far += "/" + part;
    bool missing = false;
    UniqueFd next = open_in_root(root, so_far, &missing);
    if (missing) {
      if (::mkdirat(dir.get(), part.c_str(), 0755) != 0 && errno != EEXIST) {
        throw system_error("cannot create " + so_far + " in the image", errno);
      }
      next = open_in_root(root, so_far, &missing);
      if (missing) throw Error(so_far + " in the image is a symlink to nowhere");
    }
    struct stat st {};
    if (::fstat(next.get(), &st) != 0 || !S_ISDIR(st.st_mode)) {
      throw Error(so_far + " in the image is not a directory");
    }
    dir = std::move(next);
  }
  return dir;
}

void remove_staging(int dir, const std::string& name) {
  if (::unlinkat(dir, name.c_str(), 0) != 0 && errno != ENOENT) {
    throw system_error("cannot remove " + name, errno);
  }
}

// Puts a new file `name` with `bytes` into `dir`: written under a fresh name, then renamed
// over whatever `name` was (a file, a symlink), so no existing inode is written into.
void replace_file(int dir, const std::string& name, std::string_view bytes, mode_t mode,
                  const struct stat* owner = nullptr) {
  const std::string staging = name + kStagingSuffix;
  remove_staging(dir, staging);
  const UniqueFd fd(
      ::openat(dir, staging.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!fd) throw system_error("cannot create " + name, errno);
  for (size_t done = 0; done < bytes.size();) {
    const ssize_t n = ::write(fd.get(), bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw system_error("cannot write " + name, errno);
    done += static_cast<size_t>(n);
  }
  if (owner != nullptr && ::fchown(fd.get(), owner->st_uid, owner->st_gid) != 0) {
    throw system_error("cannot chown " + name, errno);
  }
  if (::fchmod(fd.get(), mode) != 0) throw system_error("cannot chmod " + name, errno);
  if (::renameat(dir, staging.c_str(), dir, name.c_str()) != 0) {
    const int err = errno;
    remove_staging(dir, staging);
    throw system_error("cannot put " + name + " in place", err);
  }
}

void replace_symlink(int dir, const std::string& name, const std::string& target) {
  const std::string staging = name + kStagingSuffix;
  remove_staging(dir, staging);
  if (::symlinkat(target.c_str(), dir, staging.c_str()) != 0) {
    throw system_error("cannot link " + name, errno);
  }
  if (::renameat(dir, staging.c_str(), dir, name.c_str()) != 0) {
    const int err = errno;
    remove_staging(dir, staging);
    throw system_error("cannot put " + name + " in place", err);
  }
}

// `path` inside the root as the directory it lies in (made where missing) and its name.
struct Placement {
  UniqueFd dir;
  std::string name;
};
Placement place_in_root(int root, std::string_view path) {
  const fs::path p(path);
  return {make_dirs_in_root(root, p.parent_path().string()), p.filename().string()};
}

std::string read_host_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error("cannot read the guest agent " + path.string());
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (bytes.empty()) throw Error("the guest agent " + path.string() + " is empty");
  return bytes;
}

std::vector<std::string> split(std::string_view line, char sep) {
  std::vector<std::string> out;
  size_t pos = 0;
  for (;;) {
    const size_t next = line.find(sep, pos);
    out.emplace_back(line.substr(pos, next == std::string_view::npos ? next : next - pos));
    if (next == std::string_view::npos) return out;
    pos = next + 1;
  }
}

void install_systemd(int root) {
  const Placement unit = place_in_root(root, "/etc/systemd/system/vmm-agent.service");
  replace_file(unit.dir.get(), unit.name, kSystemdUnit, 0644);
  const Placement wants =
      place_in_root(root, "/etc/systemd/system/multi-user.target.wants/vmm-agent.service");
  replace_symlink(wants.dir.get(), wants.name, "/etc/systemd/system/vmm-agent.service");
}

void install_openrc(int root) {
  const Placement script = place_in_root(root, "/etc/init.d/vmm-agent");
  replace_file(script.dir.get(), script.name, kOpenRcScript, 0755);
  const Placement link = place_in_root(root, "/etc/runlevels/default/vmm-agent");
  replace_symlink(link.dir.get(), link.name, "/etc/init.d/vmm-agent");
}

void install_inittab(int root) {
  const auto text = read_in_root(root, "/etc/inittab");
  if (!text) throw Error("/etc/inittab in the image is not a readable file");
  const std::string updated = add_agent_to_inittab(*text);
  if (updated == *text) return;
  const UniqueFd old = find_in_root(root, "/etc/inittab");
  struct stat st {};
  if (!old || ::fstat(old.get(), &st) != 0) throw Error("/etc/inittab vanished from the image");
  // A symlinked /etc/inittab becomes a file of its own; what it pointed to stays as it was.
  const Placement inittab = place_in_root(root, "/etc/inittab");
  replace_file(inittab.dir.get(), inittab.name, updated, st.st_mode & 07777, &st);
}

}  // namespace

const char* to_string(AgentHook hook) noexcept {
  switch (hook) {
    case AgentHook::kSystemd:
      return "systemd";
    case AgentHook::kOpenRc:
      return "openrc";
    case AgentHook::kInittab:
      return "inittab";
    case AgentHook::kNone:
      return "none";
  }
  return "none";
}

AgentHook detect_agent_hook(const fs::path& root) {
  const UniqueFd fd = open_root(root);
  const int r = fd.get();
  const std::string init = link_target_name(r, "/sbin/init");
  if (init == "systemd") return AgentHook::kSystemd;
  if (init == "openrc-init" || is_regular_in_root(r, "/sbin/openrc")) return AgentHook::kOpenRc;
  if (is_regular_in_root(r, "/etc/inittab")) return AgentHook::kInittab;
  if (is_regular_in_root(r, "/lib/systemd/systemd") ||
      is_regular_in_root(r, "/usr/lib/systemd/systemd")) {
    return AgentHook::kSystemd;
  }
  return AgentHook::kNone;
}

std::string add_agent_to_inittab(std::string inittab) {
  bool sysvinit = false;
  std::set<std::string> ids;
  std::istringstream lines(inittab);
  for (std::string line; std::getline(lines, line);) {
    if (line.find(kGuestAgentPath) != std::string::npos) {
      const auto first = line.find_first_not_of(" \t");
      if (first != std::string::npos && line[first] != '#') return inittab;
    }
    if (line.empty() || line.front() == '#') continue;
    const auto fields = split(line, ':');
    if (fields.size() < 4) continue;
    ids.insert(fields[0]);
    if (!fields[1].empty() || fields[2] == "initdefault") sysvinit = true;
  }
  std::string entry = std::string("::respawn:") + kGuestAgentPath;
  if (sysvinit) {
    std::string id = "va";
    for (const char* candidate : {"va", "vm", "vmma", "vmmb"}) {
      id = candidate;
      if (ids.count(id) == 0) break;
    }
    entry = id + ":2345:respawn:" + kGuestAgentPath;
  }
  if (!inittab.empty() && inittab.back() != '\n') inittab += '\n';
  inittab += "# the vmm guest agent\n" + entry + "\n";
  return inittab;
}

AgentHook install_agent(const fs::path& root, const fs::path& agent_binary) {
  const AgentHook hook = detect_agent_hook(root);
  if (hook == AgentHook::kNone) return hook;
  const std::string agent = read_host_file(agent_binary);
  const UniqueFd fd = open_root(root);
  const int r = fd.get();
  const Placement binary = place_in_root(r, kGuestAgentPath);
  replace_file(binary.dir.get(), binary.name, agent, 0755);
  switch (hook) {
    case AgentHook::kSystemd:
      install_systemd(r);
      break;
    case AgentHook::kOpenRc:
      install_openrc(r);
      break;
    case AgentHook::kInittab:
      install_inittab(r);
      break;
    case AgentHook::kNone:
      break;
  }
  return hook;
}

}  // namespace vmm::instance
