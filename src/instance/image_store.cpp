#include "instance/image_store.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "instance/child_process.hpp"
#include "instance/debian_image.hpp"
#include "instance/names.hpp"
#include "instance/timestamps.hpp"
#include "vmm/common/error.hpp"

namespace vmm::instance {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr size_t kFingerprintLength = 64;
constexpr size_t kMinPrefixLength = 4;

bool exists_nofollow(const fs::path& p) {
  struct stat st {};
  return ::lstat(p.c_str(), &st) == 0;
}

std::string sha256_of(const std::vector<std::string>& producer_argv) {
  const CapturedRun run = run_captured(producer_argv);
  std::string hex = run.output.substr(0, std::min(run.output.size(), kFingerprintLength));
  if (run.status != 0 || hex.size() != kFingerprintLength) {
    throw Error("cannot compute the image fingerprint: " + run.output);
  }
  return hex;
}

std::string file_fingerprint(const fs::path& file) {
  return sha256_of({"sha256sum", "--", file.string()});
}

// The tree's content (names, modes, owners, data; not times), as a sorted tar stream.
std::string tree_fingerprint(const fs::path& dir) {
  static constexpr const char* kScript =
      "set -o pipefail; tar --sort=name --numeric-owner --mtime=@0 --format=gnu -C \"$1\" "
      "-cf - . | sha256sum";
  return sha256_of({"bash", "-c", kScript, "bash", dir.string()});
}

uint64_t tree_size(const fs::path& dir) {
  uint64_t total = 0;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(dir, fs::directory_options::skip_permission_denied, ec),
       end;
       !ec && it != end; it.increment(ec)) {
    if (it->is_regular_file(ec) && !it->is_symlink(ec)) total += it->file_size(ec);
  }
  return total;
}

bool is_ext4_image(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  char magic[2] = {};
  in.seekg(0x438);
  in.read(magic, 2);
  return in && static_cast<unsigned char>(magic[0]) == 0x53 &&
         static_cast<unsigned char>(magic[1]) == 0xef;
}

// A root file system has /etc and a shell.
void check_is_rootfs(const fs::path& rootfs, const fs::path& source) {
  const bool has_etc = fs::is_directory(rootfs / "etc");
  const bool has_shell =
      exists_nofollow(rootfs / "bin/sh") || exists_nofollow(rootfs / "usr/bin/sh");
  if (!has_etc || !has_shell) {
    throw ConfigError(source.string() + " is not a root file system (no /etc or no /bin/sh)");
  }
}

// The value of `key:` on its own line in LXD's metadata.yaml (flat keys are enough here).
std::string yaml_value(const std::string& text, const std::string& key) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    const auto start = line.find_first_not_of(' ');
    if (start == std::string::npos || line.compare(start, key.size() + 1, key + ":") != 0) continue;
    std::string value = line.substr(start + key.size() + 1);
    value.erase(0, value.find_first_not_of(" \"'"));
    while (!value.empty() && (value.back() == '"' || value.back() == '\'' || value.back() == ' '))
      value.pop_back();
    return value;
  }
  return {};
}

// A staging directory under the store, removed unless released.
class Staging final {
 public:
  explicit Staging(const fs::path& root) {
    std::string tmpl = (root / ".tmp-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) throw system_error("cannot create " + tmpl, errno);
    path_ = tmpl;
  }
  Staging(const Staging&) = delete;
  Staging& operator=(const Staging&) = delete;
  ~Staging() {
    if (path_.empty()) return;
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  [[nodiscard]] const fs::path& path() const { return path_; }
  void release() { path_.clear(); }

 private:
  fs::path path_;
};

// A read-only loop mount of an ext4 image, unmounted on every path.
class LoopMount final {
 public:
  LoopMount(const fs::path& image, fs::path target) : target_(std::move(target)) {
    fs::create_directories(target_);
    run_checked({"mount", "-o", "ro,loop,noload", "-t", "ext4", image.string(), target_.string()},
                "cannot mount " + image.string());
  }
  LoopMount(const LoopMount&) = delete;
  LoopMount& operator=(const LoopMount&) = delete;
  ~LoopMount() {
    try {
      (void)run_child({"umount", target_.string()});
    } catch (...) {  // NOLINT(bugprone-empty-catch): nothing more to do in a destructor
    }
  }

 private:
  fs::path target_;
};

json to_json(const ImageInfo& i) {
  return json{{"fingerprint", i.fingerprint}, {"description", i.description},
              {"source", i.source},           {"os", i.os},
              {"release", i.release},         {"architecture", i.architecture},
              {"created_at", i.created_at},   {"size", i.size_bytes}};
}

void write_file(const fs::path& path, const std::string& text) {
  const fs::path tmp = path.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << text;
    if (!out.flush()) throw Error("cannot write " + tmp.string());
  }
  fs::rename(tmp, path);
}

}  // namespace

ImageStore::ImageStore(fs::path root) : root_(std::move(root)) {
  fs::create_directories(root_);
  // Imports that a killed daemon left half-done.
  for (const auto& entry : fs::directory_iterator(root_)) {
    if (entry.path().filename().string().starts_with(".tmp-")) {
      std::error_code ec;
      fs::remove_all(entry.path(), ec);
    }
  }
}

std::vector<std::string> ImageStore::buildable() { return {"busybox", "debian/12"}; }

ImageInfo ImageStore::import(const fs::path& source, const std::vector<std::string>& aliases,
                             const std::string& description) {
  for (const auto& alias : aliases) validate_image_alias(alias);
  struct stat st {};
  if (::stat(source.c_str(), &st) != 0) {
    throw ConfigError("image source " + source.string() + " does not exist");
  }
  Staging staging(root_);
  const fs::path rootfs = staging.path() / "rootfs";
  ImageInfo info;
  info.source = fs::absolute(source).string();
  info.description = description;
  if (S_ISDIR(st.st_mode)) {
    check_is_rootfs(source, source);
    info.fingerprint = tree_fingerprint(source);
    info.size_bytes = tree_size(source);
    copy_tree(source, rootfs);
  } else if (S_ISREG(st.st_mode)) {
    info.fingerprint = file_fingerprint(source);
    info.size_bytes = static_cast<uint64_t>(st.st_size);
    if (is_ext4_image(source)) {
      LoopMount mounted(source, staging.path() / "mnt");
      copy_tree(staging.path() / "mnt", rootfs);
    } else {
      const fs::path extract = staging.path() / "extract";
      fs::create_directories(extract);
      const CapturedRun tar =
          run_captured({"tar", "-xf", source.string(), "-C", extract.string(), "--numeric-owner"});
      if (tar.status != 0) {
        throw ConfigError(source.string() + " is neither a tarball nor an ext4 image");
      }
      if (fs::is_regular_file(extract / "metadata.yaml") && fs::is_directory(extract / "rootfs")) {
        // LXD's unified tarball: metadata.yaml beside the root file system.
        std::ifstream in(extract / "metadata.yaml");
        const std::string yaml((std::istreambuf_iterator<char>(in)), {});
        if (info.description.empty()) info.description = yaml_value(yaml, "description");
        info.os = yaml_value(yaml, "os");
        info.release = yaml_value(yaml, "release");
        if (const auto arch = yaml_value(yaml, "architecture"); !arch.empty()) {
          info.architecture = arch;
        }
        fs::rename(extract / "rootfs", rootfs);
      } else {
        fs::rename(extract, rootfs);
      }
    }
  } else {
    throw ConfigError("image source " + source.string() +
                      " is not a directory, tarball or ext4 image");
  }
  check_is_rootfs(rootfs, source);
  return import_tree(staging.path(), std::move(info), aliases);
}

ImageInfo ImageStore::import_tree(const fs::path& staging, ImageInfo info,
                                  const std::vector<std::string>& aliases) {
  // The os and release an image says of itself, unless its metadata did.
  if (info.os.empty()) {
    std::ifstream in(staging / "rootfs/etc/os-release");
    const std::string text((std::istreambuf_iterator<char>(in)), {});
    std::string id;
    std::string version;
    std::istringstream lines(text);
    for (std::string line; std::getline(lines, line);) {
      const auto unquote = [](std::string v) {
        std::erase(v, '"');
        return v;
      };
      if (line.starts_with("ID=")) id = unquote(line.substr(3));
      if (line.starts_with("VERSION_ID=")) version = unquote(line.substr(11));
    }
    info.os = id;
    info.release = version;
  }
  info.created_at = rfc3339_now();
  std::lock_guard lock(mutex_);
  const fs::path dest = root_ / info.fingerprint;
  if (fs::exists(dest)) {
    // Already kept: the staging copy goes (Staging's owner removes it), the aliases stay.
    add_aliases_locked(aliases, info.fingerprint);
    return load(info.fingerprint);
  }
  write_file(staging / "image.json", to_json(info).dump(2));
  add_aliases_locked(aliases, info.fingerprint);  // throws before anything is moved
  fs::rename(staging, dest);
  // The caller's Staging now names nothing; its removal finds no directory.
  return load(info.fingerprint);
}

ImageInfo ImageStore::build(const std::string& name) {
  if (name == "debian/12") {
    return finish_build(import(debian_12_tarball(image_cache_dir()), {},
                               "Debian 12 (bookworm) with systemd, by mmdebstrap"),
                        name);
  }
  if (name != "busybox") {
    throw ConfigError("cannot build image \"" + name + "\": known images are busybox, debian/12");
  }
  const fs::path busybox = "/bin/busybox";
  if (::access(busybox.c_str(), X_OK) != 0) {
    throw HostResourceError("building busybox needs /bin/busybox (apt-get install busybox-static)");
  }
  Staging tree(root_);
  const fs::path r = tree.path() / "tree";
  for (const char* d : {"bin", "sbin", "usr/bin", "usr/sbin", "etc/init.d", "proc", "sys", "dev",
                        "tmp", "root", "var/tmp", "run", "home"}) {
    fs::create_directories(r / d);
  }
  fs::permissions(r / "tmp", fs::perms::all | fs::perms::sticky_bit);
  fs::permissions(r / "var/tmp", fs::perms::all | fs::perms::sticky_bit);
  fs::copy_file(busybox, r / "bin/busybox");
  fs::permissions(r / "bin/busybox", fs::perms::owner_all | fs::perms::group_read |
                                         fs::perms::group_exec | fs::perms::others_read |
                                         fs::perms::others_exec);
  const CapturedRun applets = run_captured({busybox.string(), "--list"});
  std::istringstream list(applets.output);
  for (std::string applet; std::getline(list, applet);) {
    if (applet.empty() || applet == "busybox" || applet.find('/') != std::string::npos) continue;
    std::error_code ec;
    fs::create_symlink("busybox", r / "bin" / applet, ec);
  }
  std::error_code ec;
  fs::remove(r / "bin/init", ec);
  fs::create_symlink("../bin/busybox", r / "sbin/init");
  const auto put = [&](const char* rel, const char* text) { std::ofstream(r / rel) << text; };
  put("etc/passwd",
      "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n");
  put("etc/group", "root:x:0:\ntty:x:5:\nnogroup:x:65534:\n");
  put("etc/hostname", "busybox\n");
  put("etc/hosts", "127.0.0.1 localhost\n");
  // busybox init: nothing to run at boot but rcS; SIGTERM (a stop) runs the shutdown entries.
  put("etc/inittab", "::sysinit:/etc/init.d/rcS\n::shutdown:/bin/sync\n");
  put("etc/init.d/rcS", "#!/bin/sh\nhostname -F /etc/hostname 2>/dev/null\nexit 0\n");
  fs::permissions(r / "etc/init.d/rcS", fs::perms::owner_all | fs::perms::group_read |
                                            fs::perms::group_exec | fs::perms::others_read |
                                            fs::perms::others_exec);
  put("etc/os-release", "ID=busybox\nNAME=BusyBox\nVERSION_ID=1\n");
  return finish_build(import(r, {}, "BusyBox (Debian's busybox-static)"), name);
}

ImageInfo ImageStore::finish_build(ImageInfo info, const std::string& name) {
  info.source = "build:" + name;
  {
    std::lock_guard lock(mutex_);
    json j = to_json(info);
    write_file(root_ / info.fingerprint / "image.json", j.dump(2));
    add_aliases_locked({name}, info.fingerprint);
  }
  return get(info.fingerprint);
}

std::map<std::string, std::string> ImageStore::load_aliases() const {
  std::ifstream in(root_ / "aliases.json");
  if (!in) return {};
  try {
    return json::parse(in).get<std::map<std::string, std::string>>();
  } catch (const json::exception& e) {
    throw Error("image aliases file is damaged: " + std::string(e.what()));
  }
}

void ImageStore::save_aliases(const std::map<std::string, std::string>& aliases) const {
  write_file(root_ / "aliases.json", json(aliases).dump(2));
}

void ImageStore::add_aliases_locked(const std::vector<std::string>& aliases,
                                    const std::string& fp) {
  if (aliases.empty()) return;
  auto all = load_aliases();
  for (const auto& alias : aliases) {
    validate_image_alias(alias);
    const auto it = all.find(alias);
    if (it != all.end() && it->second != fp) {
      throw StateError("image alias \"" + alias + "\" already names image " +
                       it->second.substr(0, 12));
    }
    all[alias] = fp;
  }
  save_aliases(all);
}

ImageInfo ImageStore::load(const std::string& fingerprint) const {
  std::ifstream in(root_ / fingerprint / "image.json");
  if (!in) throw NotFoundError("image " + fingerprint + " not found");
  ImageInfo info;
  try {
    const json j = json::parse(in);
    info.fingerprint = j.value("fingerprint", fingerprint);
    info.description = j.value("description", "");
    info.source = j.value("source", "");
    info.os = j.value("os", "");
    info.release = j.value("release", "");
    info.architecture = j.value("architecture", "x86_64");
    info.created_at = j.value("created_at", "");
    info.size_bytes = j.value("size", uint64_t{0});
  } catch (const json::exception& e) {
    throw Error("image " + fingerprint + " has a damaged image.json: " + e.what());
  }
  for (const auto& [alias, fp] : load_aliases()) {
    if (fp == fingerprint) info.aliases.push_back(alias);
  }
  return info;
}

std::string ImageStore::resolve(const std::string& ref) const {
  const auto aliases = load_aliases();
  if (const auto it = aliases.find(ref); it != aliases.end()) return it->second;
  const bool hex = !ref.empty() && std::all_of(ref.begin(), ref.end(), [](char c) {
    return std::isxdigit(static_cast<unsigned char>(c)) != 0;
  });
  if (hex && ref.size() >= kMinPrefixLength && ref.size() <= kFingerprintLength) {
    std::string found;
    for (const auto& entry : fs::directory_iterator(root_)) {
      const std::string name = entry.path().filename().string();
      if (name.size() == kFingerprintLength && name.starts_with(ref)) {
        if (!found.empty()) throw ConfigError("image prefix \"" + ref + "\" is ambiguous");
        found = name;
      }
    }
    if (!found.empty()) return found;
  }
  throw NotFoundError("image \"" + ref + "\" not found");
}

std::vector<ImageInfo> ImageStore::list() const {
  std::lock_guard lock(mutex_);
  std::vector<ImageInfo> images;
  for (const auto& entry : fs::directory_iterator(root_)) {
    const std::string name = entry.path().filename().string();
    if (name.size() == kFingerprintLength && entry.is_directory()) images.push_back(load(name));
  }
  std::sort(images.begin(), images.end(),
            [](const ImageInfo& a, const ImageInfo& b) { return a.created_at < b.created_at; });
  return images;
}

ImageInfo ImageStore::get(const std::string& ref) const {
  std::lock_guard lock(mutex_);
  return load(resolve(ref));
}

fs::path ImageStore::rootfs(const std::string& fingerprint) const {
  return root_ / fingerprint / "rootfs";
}

void ImageStore::remove(const std::string& ref) {
  std::lock_guard lock(mutex_);
  const std::string fp = resolve(ref);
  auto aliases = load_aliases();
  std::erase_if(aliases, [&](const auto& kv) { return kv.second == fp; });
  save_aliases(aliases);
  // Renamed first, so a crash in the middle never leaves a half-deleted image that lists.
  const fs::path doomed = root_ / (".tmp-delete-" + fp);
  fs::rename(root_ / fp, doomed);
  fs::remove_all(doomed);
}

void ImageStore::add_alias(const std::string& alias, const std::string& ref) {
  std::lock_guard lock(mutex_);
  add_aliases_locked({alias}, resolve(ref));
}

void ImageStore::remove_alias(const std::string& alias) {
  std::lock_guard lock(mutex_);
  auto aliases = load_aliases();
  if (aliases.erase(alias) == 0) throw NotFoundError("image alias \"" + alias + "\" not found");
  save_aliases(aliases);
}

}  // namespace vmm::instance
