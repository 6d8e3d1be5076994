#include "loader/host_exec_modules.hpp"

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <set>
#include <sstream>

#include "loader/input_file.hpp"
#include "loader/kernel_release.hpp"
#include "vmm/common/error.hpp"

namespace vmm::loader {
namespace {

namespace fs = std::filesystem;

constexpr std::array<std::string_view, 4> kCompressedSuffixes = {"", ".xz", ".zst", ".gz"};
// Without these the guest can neither mount its root nor give the command its stdout.
constexpr std::array<std::string_view, 4> kEssentialModules = {
    "fs/9p/9p.ko", "net/9p/9pnet_virtio.ko", "fs/overlayfs/overlay.ko",
    "drivers/char/virtio_console.ko"};

// A kernel image or module is a few MiB; the bound keeps a wrong path from filling memory.
constexpr uint64_t kMaxFileBytes = 64ULL << 20;

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

std::set<std::string, std::less<>> builtin_modules(const fs::path& modules_dir) {
  std::set<std::string, std::less<>> builtin;
  std::istringstream lines(read_text(modules_dir / "modules.builtin"));
  for (std::string line; std::getline(lines, line);) {
    if (line.starts_with("kernel/")) builtin.insert(line.substr(7));
  }
  return builtin;
}

bool is_essential(std::string_view module) {
  for (const auto essential : kEssentialModules) {
    if (essential == module) return true;
  }
  return false;
}

std::vector<uint8_t> read_bounded(const fs::path& path) {
  const auto file = InputFile::open(path);
  if (file.size() > kMaxFileBytes) throw ConfigError(path.string() + ": too large for a module");
  return file.read_all();
}

}  // namespace

std::vector<fs::path> modules_dir_candidates(const fs::path& kernel, std::string_view release,
                                             const fs::path& cache_dir) {
  std::vector<fs::path> dirs = {fs::path("/lib/modules") / release,
                                fs::path("/usr/lib/modules") / release,
                                kernel.parent_path() / "modules" / release};
  if (!cache_dir.empty()) dirs.push_back(cache_dir / "kernel" / "modules" / release);
  return dirs;
}

std::vector<fs::path> kernel_config_candidates(const fs::path& kernel, std::string_view release) {
  return {kernel.parent_path() / ("config-" + std::string(release)),
          kernel.parent_path() / "config", fs::path("/boot") / ("config-" + std::string(release))};
}

std::optional<std::string> missing_kernel_option(std::string_view config_text) {
  for (const auto option : kHostExecKernelOptions) {
    bool present = false;
    size_t pos = 0;
    while (!present && pos < config_text.size()) {
      size_t end = config_text.find('\n', pos);
      if (end == std::string_view::npos) end = config_text.size();
      const std::string_view line = config_text.substr(pos, end - pos);
      pos = end + 1;
      if (line.size() == option.size() + 2 && line.starts_with(option) &&
          line[option.size()] == '=' && (line.back() == 'y' || line.back() == 'm')) {
        present = true;
      }
    }
    if (!present) return std::string(option);
  }
  return std::nullopt;
}

std::vector<GuestModule> collect_host_exec_modules(const fs::path& modules_dir) {
  const auto builtin = builtin_modules(modules_dir);
  std::vector<GuestModule> modules;
  for (const auto module : kHostExecModules) {
    if (builtin.contains(module)) continue;
    bool found = false;
    for (const auto suffix : kCompressedSuffixes) {
      const fs::path path = modules_dir / "kernel" / (std::string(module) + std::string(suffix));
      std::error_code ec;
      if (!fs::is_regular_file(path, ec)) continue;
      modules.push_back({path.filename().string(), read_bounded(path)});
      found = true;
      break;
    }
    if (!found && is_essential(module)) {
      throw ConfigError("exec", "the kernel has no " + fs::path(module).stem().string() +
                                    ": neither built in nor a module in " + modules_dir.string());
    }
  }
  return modules;
}

std::vector<GuestModule> host_exec_modules_for(const fs::path& kernel) {
  const auto file = InputFile::open(kernel);
  const auto release = bzimage_kernel_release(file.read_all());
  if (!release) return {};  // an ELF vmlinux or an old header: trust it to have them built in
  for (const auto& config : kernel_config_candidates(kernel, *release)) {
    std::error_code ec;
    if (!fs::is_regular_file(config, ec)) continue;
    if (const auto missing = missing_kernel_option(read_text(config))) {
      throw ConfigError("exec", "the kernel " + *release + " lacks " + *missing + " (" +
                                    config.string() +
                                    "): --exec needs virtio-pci, virtio-console, 9p and overlayfs");
    }
    break;
  }
  fs::path cache_dir;
  if (const char* dir = std::getenv("VMM_CACHE_DIR"); dir != nullptr && *dir != '\0') {
    cache_dir = dir;
  } else if (const char* home = std::getenv("HOME"); home != nullptr && *home != '\0') {
    cache_dir = fs::path(home) / ".cache" / "vmm";
  }
  for (const auto& dir : modules_dir_candidates(kernel, *release, cache_dir)) {
    std::error_code ec;
    if (fs::is_directory(dir / "kernel", ec)) return collect_host_exec_modules(dir);
  }
  return {};
}

}  // namespace vmm::loader
