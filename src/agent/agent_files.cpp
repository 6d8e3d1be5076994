#include "agent/agent_files.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <memory>

#include "agent/frame_io.hpp"
#include "vmm/common/unique_fd.hpp"

namespace vmm::agent {
namespace {

// A failed step, reported to the host as ERROR with errno.
struct Failure {
  std::string message;
  int error_number = 0;
};

Failure failure(const std::string& what, int error_number) {
  return {what + ": " + std::strerror(error_number), error_number};
}

std::optional<Failure> check_path(const std::string& path, bool root_allowed = false) {
  if (path.empty() || path.front() != '/') return Failure{path + ": path is not absolute", EINVAL};
  if (!root_allowed && path.find_first_not_of('/') == std::string::npos) {
    return Failure{path + ": is the root directory", EINVAL};
  }
  return std::nullopt;
}

void answer(int socket, const std::optional<Failure>& result) {
  if (result) {
    send_frame(socket, FrameType::kError, encode_error({result->message, result->error_number}));
  } else {
    send_frame(socket, FrameType::kOk);
  }
}

std::string parent_of(const std::string& path) {
  const auto slash = path.find_last_of('/');
  return slash == 0 ? "/" : path.substr(0, slash);
}

// A new, unused name beside `path` for what is renamed over it once complete.
UniqueFd make_temporary(const std::string& path, std::string& name) {
  name = parent_of(path) + "/.vmm-agent-XXXXXX";
  return UniqueFd(::mkostemp(name.data(), O_CLOEXEC));
}

// Reads FILE_DATA frames to FILE_END, writing them to `fd` while it is valid and no write
// failed; the data is consumed either way so the connection stays in step.
std::optional<Failure> receive_data(int socket, FrameDecoder& decoder, int fd,
                                    const std::string& path, std::optional<Failure> result) {
  for (;;) {
    auto frame = read_frame(socket, decoder);
    if (!frame) throw Error("vmm-agent: the host closed the connection during FILE_PUSH");
    if (frame->type == FrameType::kFileEnd) return result;
    if (frame->type != FrameType::kFileData) {
      throw ProtocolError("unexpected " + frame_type_name(frame->type) + " during FILE_PUSH");
    }
    if (result) continue;
    if (fd < 0) {
      result = Failure{path + ": only a file takes data", EINVAL};
      continue;
    }
    try {
      write_all(fd, frame->payload);
    } catch (const Error& e) {
      result = Failure{path + ": " + e.what(), EIO};
    }
  }
}

std::optional<Failure> set_owner_and_mode(int fd, const std::string& path, const FileInfo& info) {
  // chown first: it clears set-user-ID bits that the mode may ask for.
  if (::fchown(fd, info.uid, info.gid) != 0) return failure(path + ": chown", errno);
  if (::fchmod(fd, info.mode) != 0) return failure(path + ": chmod", errno);
  return std::nullopt;
}

std::optional<Failure> push_file(int socket, FrameDecoder& decoder, const FilePush& push) {
  std::string temporary;
  UniqueFd fd = make_temporary(push.path, temporary);
  if (!fd) return receive_data(socket, decoder, -1, push.path, failure(push.path, errno));
  auto result = receive_data(socket, decoder, fd.get(), push.path, std::nullopt);
  if (!result) result = set_owner_and_mode(fd.get(), push.path, push.info);
  if (!result && ::fsync(fd.get()) != 0) result = failure(push.path + ": fsync", errno);
  if (!result && ::rename(temporary.c_str(), push.path.c_str()) != 0) {
    result = failure(push.path, errno);
  }
  if (result) ::unlink(temporary.c_str());
  return result;
}

std::optional<Failure> push_directory(const FilePush& push) {
  if (::mkdir(push.path.c_str(), push.info.mode) != 0 && errno != EEXIST) {
    return failure(push.path, errno);
  }
  UniqueFd fd(::open(push.path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd) return failure(push.path, errno);
  return set_owner_and_mode(fd.get(), push.path, push.info);
}

std::optional<Failure> push_symlink(const FilePush& push) {
  // A fresh name from mkostemp, freed for symlink(): nothing else writes in this directory's
  // ".vmm-agent-" names, and a clash is an error, never an overwrite.
  std::string temporary;
  if (!make_temporary(push.path, temporary)) return failure(push.path, errno);
  ::unlink(temporary.c_str());
  if (::symlink(push.info.target.c_str(), temporary.c_str()) != 0) {
    return failure(push.path, errno);
  }
  std::optional<Failure> result;
  if (::lchown(temporary.c_str(), push.info.uid, push.info.gid) != 0) {
    result = failure(push.path + ": chown", errno);
  }
  if (!result && ::rename(temporary.c_str(), push.path.c_str()) != 0) {
    result = failure(push.path, errno);
  }
  if (result) ::unlink(temporary.c_str());
  return result;
}

FileInfo info_of(const struct stat& st) {
  FileInfo info;
  info.mode = st.st_mode & 07777;
  info.uid = st.st_uid;
  info.gid = st.st_gid;
  return info;
}

std::optional<Failure> pull(int socket, const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return failure(path, errno);
  FileInfo info = info_of(st);
  if (S_ISLNK(st.st_mode)) {
    std::array<char, 4096> target{};
    const ssize_t n = ::readlink(path.c_str(), target.data(), target.size());
    if (n < 0) return failure(path, errno);
    info.type = FileType::kSymlink;
    info.target.assign(target.data(), static_cast<size_t>(n));
    send_frame(socket, FrameType::kFileInfo, encode_file_info(info, 0));
  } else if (S_ISDIR(st.st_mode)) {
    const std::unique_ptr<DIR, int (*)(DIR*)> dir(::opendir(path.c_str()), ::closedir);
    if (!dir) return failure(path, errno);
    info.type = FileType::kDirectory;
    while (const dirent* entry = ::readdir(dir.get())) {
      const std::string name = entry->d_name;
      if (name != "." && name != "..") info.entries.push_back(name);
    }
    std::sort(info.entries.begin(), info.entries.end());
    send_frame(socket, FrameType::kFileInfo, encode_file_info(info, 0));
  } else if (S_ISREG(st.st_mode)) {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd) return failure(path, errno);
    if (::fstat(fd.get(), &st) != 0) return failure(path, errno);
    info = info_of(st);
    send_frame(socket, FrameType::kFileInfo,
               encode_file_info(info, static_cast<uint64_t>(st.st_size)));
    std::array<uint8_t, kDataChunk> buffer{};
    for (;;) {
      const ssize_t n = ::read(fd.get(), buffer.data(), buffer.size());
      if (n == 0) break;
      if (n < 0) {
        if (errno == EINTR) continue;
        // The metadata is out already: the host learns of the failure as ERROR instead of END.
        return failure(path + ": read", errno);
      }
      send_frame(socket, FrameType::kFileData, std::span(buffer.data(), static_cast<size_t>(n)));
    }
  } else {
    return Failure{path + ": not a file, directory or symlink", EINVAL};
  }
  send_frame(socket, FrameType::kFileEnd);
  return std::nullopt;
}

}  // namespace

void serve_file_push(int socket, FrameDecoder& decoder, const FilePush& push) {
  auto result = check_path(push.path);
  if (result) {
    answer(socket, receive_data(socket, decoder, -1, push.path, result));
    return;
  }
  switch (push.info.type) {
    case FileType::kFile:
      result = push_file(socket, decoder, push);
      break;
    case FileType::kDirectory:
      result = receive_data(socket, decoder, -1, push.path, std::nullopt);
      if (!result) result = push_directory(push);
      break;
    case FileType::kSymlink:
      result = receive_data(socket, decoder, -1, push.path, std::nullopt);
      if (!result) result = push_symlink(push);
      break;
  }
  answer(socket, result);
}

void serve_file_pull(int socket, const std::string& path) {
  auto result = check_path(path, /*root_allowed=*/true);
  if (!result) result = pull(socket, path);
  if (result) answer(socket, result);
}

void serve_file_delete(int socket, const std::string& path) {
  auto result = check_path(path);
  if (!result) {
    struct stat st {};
    const bool removed =
        ::lstat(path.c_str(), &st) == 0 &&
        (S_ISDIR(st.st_mode) ? ::rmdir(path.c_str()) : ::unlink(path.c_str())) == 0;
    if (!removed) result = failure(path, errno);
  }
  answer(socket, result);
}

}  // namespace vmm::agent
