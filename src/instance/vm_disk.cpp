#include "instance/vm_disk.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <fstream>

#include "instance/child_process.hpp"
#include "vmm/common/error.hpp"

namespace vmm::instance {
namespace {

namespace fs = std::filesystem;

constexpr uint64_t kMiB = uint64_t{1} << 20;
constexpr uint64_t kHeadroom = 256 * kMiB;
constexpr uint64_t kMinDefaultSize = 512 * kMiB;

// A private copy of a tree, removed with this object. Hard links make it cheap and leave the
// tree as it was, since the agent's installer only ever renames new files into the copy.
class StagingTree {
 public:
  StagingTree(const fs::path& tree, fs::path where) : path_(std::move(where)) {
    remove();
    const CapturedRun linked = run_captured({"cp", "-al", "--", tree.string(), path_.string()});
    if (linked.status != 0) {  // another file system: a real copy
      remove();
      try {
        run_checked({"cp", "-a", "--reflink=auto", "--", tree.string(), path_.string()},
                    "cannot copy " + tree.string());
      } catch (...) {
        remove();  // no destructor runs for a constructor that throws
        throw;
      }
    }
  }
  StagingTree(const StagingTree&) = delete;
  StagingTree& operator=(const StagingTree&) = delete;
  ~StagingTree() { remove(); }

  [[nodiscard]] const fs::path& path() const noexcept { return path_; }

 private:
  void remove() const noexcept {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  fs::path path_;
};

void run_mkfs(const fs::path& tree, const fs::path& disk) {
  run_checked({"mkfs.ext4", "-q", "-F", "-L", "vmmroot", "-E", "root_owner=0:0", "-d",
               tree.string(), disk.string()},
              "cannot make the root disk (is root.size big enough?)");
}

}  // namespace

uint64_t default_root_disk_size(uint64_t tree_bytes) {
  const uint64_t wanted = tree_bytes * 2 + kHeadroom;
  const uint64_t rounded = (wanted + kMiB - 1) / kMiB * kMiB;
  return std::max(rounded, kMinDefaultSize);
}

uint64_t tree_bytes(const fs::path& root) {
  uint64_t total = 0;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(root, fs::directory_options::none, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    const fs::file_status status = it->symlink_status(ec);
    if (ec) continue;
    if (fs::is_regular_file(status)) {
      total += it->file_size(ec);
    } else if (fs::is_symlink(status)) {
      total += fs::read_symlink(it->path(), ec).string().size();
    }
  }
  if (ec) throw Error("cannot read " + root.string() + ": " + ec.message());
  return total;
}

AgentHook make_root_disk(const fs::path& tree, const fs::path& disk, uint64_t size,
                         const std::optional<fs::path>& agent) {
  std::error_code ec;
  fs::remove(disk, ec);
  {
    // A sparse file of the full size: blocks are used as the guest writes them.
    std::ofstream create(disk, std::ios::binary | std::ios::trunc);
    if (!create) throw Error("cannot create " + disk.string());
  }
  fs::resize_file(disk, size);
  AgentHook hook = AgentHook::kNone;
  try {
    // Only a tree that gets a hook is copied; the copy goes as soon as mkfs has read it.
    if (agent && detect_agent_hook(tree) != AgentHook::kNone) {
      const StagingTree staging(tree,
                                disk.parent_path() / ("." + disk.filename().string() + ".tree"));
      try {
        hook = install_agent(staging.path(), *agent);
      } catch (const Error& e) {
        spdlog::warn("{}: the guest agent is not installed: {}", disk.string(), e.what());
      }
      if (hook != AgentHook::kNone) run_mkfs(staging.path(), disk);
    }
    if (hook == AgentHook::kNone) run_mkfs(tree, disk);
  } catch (...) {
    fs::remove(disk, ec);
    throw;
  }
  return hook;
}

void copy_disk(const fs::path& from, const fs::path& to) {
  run_checked({"cp", "--reflink=auto", "--sparse=always", from.string(), to.string()},
              "cannot copy " + from.string());
}

}  // namespace vmm::instance
