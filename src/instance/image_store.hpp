#pragma once
// Images kept by the instance manager, content-addressed by SHA-256: <root>/<fingerprint>/
// holds rootfs/ (the unpacked tree every container of the image is an overlay of) and
// image.json; <root>/aliases.json maps names to fingerprints. Imports are built in a temporary
// directory and renamed into place, so a failed or killed import leaves nothing that lists.
#include <cstdint>
#include <filesystem>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace vmm::instance {

struct ImageInfo {
  std::string fingerprint;  // SHA-256, hex
  std::vector<std::string> aliases;
  std::string description;
  std::string source;  // what it was imported from: a path, or "build:busybox"
  std::string os;
  std::string release;
  std::string architecture = "x86_64";
  std::string created_at;   // RFC 3339
  uint64_t size_bytes = 0;  // of the imported file or tree
};

class ImageStore final {
 public:
  explicit ImageStore(std::filesystem::path root);

  // Imports a root file system from a directory, a tarball (plain, gzip, xz, zstd; LXD's
  // unified tarball with metadata.yaml and rootfs/ too) or an ext4 image. Importing an image
  // already kept adds the aliases and returns it. vmm::ConfigError for a source that is
  // missing or not a root file system, vmm::StateError for an alias naming another image.
  ImageInfo import(const std::filesystem::path& source, const std::vector<std::string>& aliases,
                   const std::string& description = {});
  // Builds an image and imports it under the alias `name`: "busybox" (from the host's
  // busybox-static) or "debian/12" (mmdebstrap from Debian's registry, cached: see
  // debian_image.hpp). vmm::ConfigError for an unknown name.
  ImageInfo build(const std::string& name);

  [[nodiscard]] std::vector<ImageInfo> list() const;
  // By alias, full fingerprint, or a unique fingerprint prefix (at least 4 characters).
  // vmm::NotFoundError when nothing matches.
  [[nodiscard]] ImageInfo get(const std::string& ref) const;
  [[nodiscard]] std::filesystem::path rootfs(const std::string& fingerprint) const;
  // Deletes the image and its aliases.
  void remove(const std::string& ref);
  void add_alias(const std::string& alias, const std::string& ref);
  void remove_alias(const std::string& alias);

  // The images a remote offers: what `build` knows how to make.
  [[nodiscard]] static std::vector<std::string> buildable();

 private:
  [[nodiscard]] std::map<std::string, std::string> load_aliases() const;
  void save_aliases(const std::map<std::string, std::string>& aliases) const;
  [[nodiscard]] ImageInfo load(const std::string& fingerprint) const;
  [[nodiscard]] std::string resolve(const std::string& ref) const;
  void add_aliases_locked(const std::vector<std::string>& aliases, const std::string& fp);
  // A built image: its source recorded and its name as an alias.
  ImageInfo finish_build(ImageInfo info, const std::string& name);
  ImageInfo import_tree(const std::filesystem::path& staging, ImageInfo info,
                        const std::vector<std::string>& aliases);

  std::filesystem::path root_;
  mutable std::mutex mutex_;
};

}  // namespace vmm::instance
