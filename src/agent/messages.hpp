#pragma once
// The payloads of the guest agent's frames (PROTOCOL.md): what the host asks for and what the
// agent answers, with their encodings. Every parse_* throws ProtocolError for a payload that
// does not match; none trusts a length or a value it was given.
#include <cstdint>
#include <string>
#include <vector>

#include "agent/frame.hpp"

namespace vmm::agent {

struct AgentInfo {
  uint32_t protocol_version = 0;
  std::string agent_version;
};

struct ExecRequest {
  std::vector<std::string> argv;
  std::vector<std::string> environment;  // KEY=VALUE; empty: the agent's defaults
  std::string cwd;                       // empty: the agent's default
  uint32_t uid = 0;
  uint32_t gid = 0;
  bool pty = false;
  uint16_t rows = 24;
  uint16_t cols = 80;
};

enum class FileType { kFile, kDirectory, kSymlink };

struct FileInfo {
  FileType type = FileType::kFile;
  uint32_t mode = 0644;
  uint32_t uid = 0;
  uint32_t gid = 0;
  std::string target;                // a symlink's
  std::vector<std::string> entries;  // a directory's names, sorted (pull only)
};

struct WindowSize {
  uint16_t rows = 0;
  uint16_t cols = 0;
};

[[nodiscard]] std::string encode_hello(const AgentInfo& info);
[[nodiscard]] AgentInfo parse_hello(const Frame& frame);

[[nodiscard]] std::string encode_exec(const ExecRequest& request);
[[nodiscard]] ExecRequest parse_exec(const Frame& frame);

[[nodiscard]] std::vector<uint8_t> encode_window_size(WindowSize size);
[[nodiscard]] WindowSize parse_window_size(const Frame& frame);

// SIGNAL's signal number and EXIT's status: one le32.
[[nodiscard]] std::vector<uint8_t> encode_u32(uint32_t value);
[[nodiscard]] uint32_t parse_u32(const Frame& frame);

// FILE_PUSH: the path and its info. FILE_INFO: the info and the size that follows.
[[nodiscard]] std::string encode_file_push(const std::string& path, const FileInfo& info);
struct FilePush {
  std::string path;
  FileInfo info;
};
[[nodiscard]] FilePush parse_file_push(const Frame& frame);
[[nodiscard]] std::string encode_file_info(const FileInfo& info, uint64_t size);
struct FilePulled {
  FileInfo info;
  uint64_t size = 0;
};
[[nodiscard]] FilePulled parse_file_info(const Frame& frame);

// FILE_PULL and FILE_DELETE: {"path"}.
[[nodiscard]] std::string encode_path(const std::string& path);
[[nodiscard]] std::string parse_path(const Frame& frame);

[[nodiscard]] const char* file_type_name(FileType type);  // "file", "directory", "symlink"

}  // namespace vmm::agent

namespace vmm::agent {

// ERROR's payload: a message and, where a system call failed, its errno (0 otherwise).
struct ErrorReport {
  std::string message;
  int error_number = 0;
};
[[nodiscard]] std::string encode_error(const ErrorReport& report);
// Never throws: a payload that is not the JSON form is taken as the message itself.
[[nodiscard]] ErrorReport parse_error(const Frame& frame);

}  // namespace vmm::agent
