#include "cli/file_commands.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <iterator>
#include <map>

#include "vmm/common/error.hpp"
#include "vmm/common/unique_fd.hpp"

namespace vmm::cli {
namespace {

namespace fs = std::filesystem;

struct InstancePath {
  std::string name;
  std::string path;
};

// NAME/PATH: the instance, and the absolute path in it.
InstancePath split(const std::string& text) {
  const auto slash = text.find('/');
  if (slash == 0 || slash == std::string::npos || slash + 1 == text.size()) {
    throw ConfigError("\"" + text + "\" is not NAME/PATH (e.g. web/etc/hosts)");
  }
  return {text.substr(0, slash), text.substr(slash)};
}

std::string url_encode(const std::string& text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (const unsigned char c : text) {
    if (std::isalnum(c) != 0 || c == '/' || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

std::string files_url(const InstancePath& where) {
  return "/1.0/instances/" + url_encode(where.name) + "/files?path=" + url_encode(where.path);
}

std::string read_local(const std::string& source) {
  if (source == "-") {
    return {std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>()};
  }
  const UniqueFd fd(::open(source.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) throw system_error("cannot open " + source, errno);
  std::string content;
  std::array<char, 65536> buffer{};
  ssize_t n = 0;
  while ((n = ::read(fd.get(), buffer.data(), buffer.size())) > 0) {
    content.append(buffer.data(), static_cast<size_t>(n));
  }
  if (n < 0) throw system_error("cannot read " + source, errno);
  return content;
}

void write_local(const std::string& target, const std::string& content, mode_t mode) {
  if (target == "-") {
    if (std::fwrite(content.data(), 1, content.size(), stdout) != content.size()) {
      throw system_error("cannot write to stdout", errno);
    }
    return;
  }
  const UniqueFd fd(::open(target.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode));
  if (!fd) throw system_error("cannot create " + target, errno);
  size_t done = 0;
  while (done < content.size()) {
    const ssize_t n = ::write(fd.get(), content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw system_error("cannot write " + target, errno);
    done += static_cast<size_t>(n);
  }
}

}  // namespace

FileCommand::FileCommand(CLI::App& app) {
  file_ = app.add_subcommand("file", "Files in a container instance");
  file_->require_subcommand(1);
  push_ = file_->add_subcommand("push", "Copy a local file into an instance");
  push_->add_option("source", source_, "Local file ('-': stdin)")->required();
  push_->add_option("target", target_, "NAME/PATH (a PATH ending in '/' takes the file's name)")
      ->required();
  push_->add_option("--uid", uid_, "Owner in the instance (default root)");
  push_->add_option("--gid", gid_, "Group in the instance (default root)");
  push_->add_option("--mode", mode_, "Octal mode (default the local file's)");
  pull_ = file_->add_subcommand("pull", "Copy a file out of an instance");
  pull_->add_option("source", source_, "NAME/PATH")->required();
  pull_->add_option("target", target_, "Local file or directory ('-': stdout)")->required();
  delete_ = file_->add_subcommand("delete", "Delete a file (or an empty directory)");
  delete_->add_option("target", target_, "NAME/PATH")->required();
}

bool FileCommand::parsed() const { return file_->parsed(); }

int FileCommand::run(const DaemonClient& client) const {
  if (push_->parsed()) return push(client);
  if (pull_->parsed()) return pull(client);
  return remove(client);
}

int FileCommand::push(const DaemonClient& client) const {
  InstancePath where = split(target_);
  if (where.path.back() == '/') {
    if (source_ == "-") throw ConfigError("a push from stdin needs a target file name");
    where.path += fs::path(source_).filename().string();
  }
  std::map<std::string, std::string> headers = {{"Content-Type", "application/octet-stream"},
                                                {"X-LXD-type", "file"},
                                                {"X-LXD-write", "overwrite"}};
  std::string mode = mode_;
  if (mode.empty() && source_ != "-") {
    struct stat st {};
    if (::stat(source_.c_str(), &st) != 0) throw system_error("cannot stat " + source_, errno);
    char text[8];
    std::snprintf(text, sizeof(text), "%04o", static_cast<unsigned>(st.st_mode & 07777));
    mode = text;
  }
  if (!mode.empty()) headers["X-LXD-mode"] = mode;
  if (uid_) headers["X-LXD-uid"] = std::to_string(*uid_);
  if (gid_) headers["X-LXD-gid"] = std::to_string(*gid_);
  (void)metadata_of(client.send_bytes("POST", files_url(where), read_local(source_), headers));
  return 0;
}

int FileCommand::pull(const DaemonClient& client) const {
  const InstancePath where = split(source_);
  const RawResponse response = client.send_bytes("GET", files_url(where), {}, {});
  if (response.status != 200) (void)metadata_of(response);  // throws the daemon's error
  const auto type = response.headers.find("x-lxd-type");
  if (type != response.headers.end() && type->second == "directory") {
    throw ConfigError(where.path + " is a directory (pull files one by one)");
  }
  mode_t mode = 0644;
  if (const auto it = response.headers.find("x-lxd-mode"); it != response.headers.end()) {
    mode = static_cast<mode_t>(std::strtoul(it->second.c_str(), nullptr, 8) & 07777);
  }
  std::string target = target_;
  std::error_code ec;
  if (target != "-" && fs::is_directory(target, ec)) {
    target = (fs::path(target) / fs::path(where.path).filename()).string();
  }
  write_local(target, response.body, mode);
  return 0;
}

int FileCommand::remove(const DaemonClient& client) const {
  (void)metadata_of(client.send_bytes("DELETE", files_url(split(target_)), {}, {}));
  return 0;
}

}  // namespace vmm::cli
