#include "bench/workspace.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

#include "container/default_spec.hpp"
#include "vmm/common/error.hpp"

namespace fs = std::filesystem;

namespace vmm::bench {
namespace {

// The applets the workloads use; a static busybox is all a root needs.
constexpr const char* kApplets[] = {"sh", "echo", "true", "cat", "sleep"};

bool statically_linked(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::string head(std::size_t{64} * 1024, '\0');
  in.read(head.data(), static_cast<std::streamsize>(head.size()));
  head.resize(static_cast<std::size_t>(in.gcount()));
  // A dynamic executable names its interpreter (/lib64/ld-linux-x86-64.so.2).
  return !head.empty() && head.find("ld-linux") == std::string::npos;
}

}  // namespace

std::optional<fs::path> find_in_path(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::string dirs = path != nullptr ? path : "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin";
  std::size_t start = 0;
  while (start <= dirs.size()) {
    const auto end = std::min(dirs.find(':', start), dirs.size());
    const fs::path candidate = fs::path(dirs.substr(start, end - start)) / name;
    if (end > start && ::access(candidate.c_str(), X_OK) == 0) return candidate;
    start = end + 1;
  }
  return std::nullopt;
}

Workspace::Workspace(const fs::path& vmm_binary) {
  const char* tmp = std::getenv("TMPDIR");
  std::string pattern =
      std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/vmm-bench-XXXXXX";
  if (::mkdtemp(pattern.data()) == nullptr) {
    throw HostResourceError("cannot create a directory " + pattern + ": " + std::strerror(errno));
  }
  dir_ = pattern;
  std::error_code ec;
  fs::permissions(dir_,
                  fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                      fs::perms::others_read | fs::perms::others_exec,
                  ec);
  fs::create_directories(dir_ / "bin", ec);
  fs::create_symlink(vmm_binary, vmm_runc(), ec);
}

Workspace::~Workspace() {
  std::error_code ec;
  fs::remove_all(dir_, ec);
}

std::optional<fs::path> Workspace::busybox_root(const std::string& name, std::string& why) {
  std::optional<fs::path> busybox;
  for (const char* candidate : {"/bin/busybox", "/usr/bin/busybox"}) {
    if (::access(candidate, X_OK) == 0 && statically_linked(candidate)) busybox = candidate;
  }
  if (!busybox) {
    why = "no static busybox (apt-get install busybox-static), and no --rootfs";
    return std::nullopt;
  }
  const fs::path root = dir_ / name;
  for (const char* d : {"bin", "etc", "proc", "sys", "dev", "tmp", "root", "run"}) {
    fs::create_directories(root / d);
  }
  fs::copy_file(*busybox, root / "bin" / "busybox");
  for (const char* applet : kApplets) fs::create_symlink("busybox", root / "bin" / applet);
  std::ofstream(root / "etc" / "passwd") << "root:x:0:0:root:/root:/bin/sh\n";
  std::ofstream(root / "etc" / "group") << "root:x:0:\n";
  return root;
}

fs::path Workspace::bundle(const std::string& name, const fs::path& root,
                           const std::vector<std::string>& args) {
  fs::path dir = dir_ / name;
  fs::create_directories(dir);
  auto config = nlohmann::json::parse(container::spec_template_json(false));
  // The version every runtime here reads (Debian 12's crun refuses 1.2).
  config["ociVersion"] = "1.0.2";
  config["process"]["terminal"] = false;
  config["process"]["args"] = args;
  config["root"]["path"] = fs::absolute(root).string();
  std::ofstream(dir / "config.json") << config.dump(2) << '\n';
  return dir;
}

}  // namespace vmm::bench
