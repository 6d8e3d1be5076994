#include "agent/messages.hpp"

#include <limits>
#include <nlohmann/json.hpp>

namespace vmm::agent {
namespace {

using nlohmann::json;

json parse_object(const Frame& frame) {
  json object = json::parse(frame.text(), nullptr, /*allow_exceptions=*/false);
  if (!object.is_object()) {
    throw ProtocolError(frame_type_name(frame.type) + " payload is not a JSON object");
  }
  return object;
}

std::string what(const Frame& frame, const char* field) {
  return frame_type_name(frame.type) + " field \"" + field + "\"";
}

std::string string_field(const json& object, const Frame& frame, const char* field,
                         bool required = false) {
  const auto it = object.find(field);
  if (it == object.end()) {
    if (required) throw ProtocolError(what(frame, field) + " is missing");
    return {};
  }
  if (!it->is_string()) throw ProtocolError(what(frame, field) + " is not a string");
  return it->get<std::string>();
}

uint64_t number_field(const json& object, const Frame& frame, const char* field, uint64_t fallback,
                      uint64_t max) {
  const auto it = object.find(field);
  if (it == object.end()) return fallback;
  if (!it->is_number_unsigned()) {
    throw ProtocolError(what(frame, field) + " is not an unsigned number");
  }
  const auto value = it->get<uint64_t>();
  if (value > max) throw ProtocolError(what(frame, field) + " is out of range");
  return value;
}

std::vector<std::string> strings_field(const json& object, const Frame& frame, const char* field) {
  std::vector<std::string> out;
  const auto it = object.find(field);
  if (it == object.end()) return out;
  if (!it->is_array()) throw ProtocolError(what(frame, field) + " is not an array");
  for (const auto& item : *it) {
    if (!item.is_string()) throw ProtocolError(what(frame, field) + " holds a non-string");
    out.push_back(item.get<std::string>());
  }
  return out;
}

// Strings that reach execve or the file system: a NUL would silently cut them short.
void check_no_nul(const std::string& text, const Frame& frame, const char* field) {
  if (text.find('\0') != std::string::npos) {
    throw ProtocolError(what(frame, field) + " contains a NUL byte");
  }
}

FileType parse_type(const std::string& text, const Frame& frame) {
  if (text == "file") return FileType::kFile;
  if (text == "directory") return FileType::kDirectory;
  if (text == "symlink") return FileType::kSymlink;
  throw ProtocolError(what(frame, "type") + " is not file, directory or symlink");
}

json file_info_json(const FileInfo& info) {
  json object{{"type", file_type_name(info.type)},
              {"mode", info.mode},
              {"uid", info.uid},
              {"gid", info.gid}};
  if (info.type == FileType::kSymlink) object["target"] = info.target;
  if (info.type == FileType::kDirectory) object["entries"] = info.entries;
  return object;
}

FileInfo parse_file_info_object(const json& object, const Frame& frame) {
  FileInfo info;
  info.type = parse_type(string_field(object, frame, "type", true), frame);
  info.mode = static_cast<uint32_t>(number_field(object, frame, "mode", 0644, 07777));
  constexpr uint64_t kMaxId = std::numeric_limits<uint32_t>::max();
  info.uid = static_cast<uint32_t>(number_field(object, frame, "uid", 0, kMaxId));
  info.gid = static_cast<uint32_t>(number_field(object, frame, "gid", 0, kMaxId));
  info.target = string_field(object, frame, "target");
  check_no_nul(info.target, frame, "target");
  if (info.type == FileType::kSymlink && info.target.empty()) {
    throw ProtocolError(what(frame, "target") + " is missing for a symlink");
  }
  info.entries = strings_field(object, frame, "entries");
  return info;
}

}  // namespace

const char* file_type_name(FileType type) {
  switch (type) {
    case FileType::kFile:
      return "file";
    case FileType::kDirectory:
      return "directory";
    case FileType::kSymlink:
      return "symlink";
  }
  return "file";
}

std::string encode_hello(const AgentInfo& info) {
  return json{{"protocol", info.protocol_version}, {"agent", info.agent_version}}.dump();
}

AgentInfo parse_hello(const Frame& frame) {
  const json object = parse_object(frame);
  AgentInfo info;
  info.protocol_version = static_cast<uint32_t>(
      number_field(object, frame, "protocol", 0, std::numeric_limits<uint32_t>::max()));
  info.agent_version = string_field(object, frame, "agent");
  if (info.protocol_version == 0) throw ProtocolError(what(frame, "protocol") + " is missing");
  return info;
}

std::string encode_exec(const ExecRequest& request) {
  json object{{"argv", request.argv}, {"uid", request.uid},   {"gid", request.gid},
              {"pty", request.pty},   {"rows", request.rows}, {"cols", request.cols}};
  if (!request.environment.empty()) object["environment"] = request.environment;
  if (!request.cwd.empty()) object["cwd"] = request.cwd;
  return object.dump();
}

ExecRequest parse_exec(const Frame& frame) {
  const json object = parse_object(frame);
  ExecRequest request;
  request.argv = strings_field(object, frame, "argv");
  if (request.argv.empty() || request.argv.front().empty()) {
    throw ProtocolError(what(frame, "argv") + " names no command");
  }
  for (const auto& arg : request.argv) check_no_nul(arg, frame, "argv");
  request.environment = strings_field(object, frame, "environment");
  for (const auto& entry : request.environment) {
    check_no_nul(entry, frame, "environment");
    const auto equals = entry.find('=');
    if (equals == 0 || equals == std::string::npos) {
      throw ProtocolError(what(frame, "environment") + " entry is not KEY=VALUE");
    }
  }
  request.cwd = string_field(object, frame, "cwd");
  check_no_nul(request.cwd, frame, "cwd");
  constexpr uint64_t kMaxId = std::numeric_limits<uint32_t>::max();
  request.uid = static_cast<uint32_t>(number_field(object, frame, "uid", 0, kMaxId));
  request.gid = static_cast<uint32_t>(number_field(object, frame, "gid", 0, kMaxId));
  const auto pty = object.find("pty");
  if (pty != object.end()) {
    if (!pty->is_boolean()) throw ProtocolError(what(frame, "pty") + " is not a boolean");
    request.pty = pty->get<bool>();
  }
  constexpr uint64_t kMaxSize = std::numeric_limits<uint16_t>::max();
  request.rows = static_cast<uint16_t>(number_field(object, frame, "rows", 24, kMaxSize));
  request.cols = static_cast<uint16_t>(number_field(object, frame, "cols", 80, kMaxSize));
  return request;
}

std::vector<uint8_t> encode_window_size(WindowSize size) {
  return {static_cast<uint8_t>(size.rows), static_cast<uint8_t>(size.rows >> 8U),
          static_cast<uint8_t>(size.cols), static_cast<uint8_t>(size.cols >> 8U)};
}

WindowSize parse_window_size(const Frame& frame) {
  if (frame.payload.size() != 4) throw ProtocolError("RESIZE payload is not 4 bytes");
  const auto& p = frame.payload;
  return {static_cast<uint16_t>(p[0] | (p[1] << 8U)), static_cast<uint16_t>(p[2] | (p[3] << 8U))};
}

std::vector<uint8_t> encode_u32(uint32_t value) {
  return {static_cast<uint8_t>(value), static_cast<uint8_t>(value >> 8U),
          static_cast<uint8_t>(value >> 16U), static_cast<uint8_t>(value >> 24U)};
}

uint32_t parse_u32(const Frame& frame) {
  if (frame.payload.size() != 4) {
    throw ProtocolError(frame_type_name(frame.type) + " payload is not 4 bytes");
  }
  uint32_t value = 0;
  for (unsigned i = 0; i < 4; ++i) value |= uint32_t{frame.payload[i]} << (8 * i);
  return value;
}

std::string encode_file_push(const std::string& path, const FileInfo& info) {
  json object = file_info_json(info);
  object.erase("entries");
  object["path"] = path;
  return object.dump();
}

FilePush parse_file_push(const Frame& frame) {
  const json object = parse_object(frame);
  FilePush push;
  push.path = string_field(object, frame, "path", true);
  check_no_nul(push.path, frame, "path");
  push.info = parse_file_info_object(object, frame);
  return push;
}

std::string encode_file_info(const FileInfo& info, uint64_t size) {
  json object = file_info_json(info);
  object["size"] = size;
  // A name that is not UTF-8 cannot be a JSON string; it is shown with U+FFFD.
  return object.dump(-1, ' ', false, json::error_handler_t::replace);
}

FilePulled parse_file_info(const Frame& frame) {
  const json object = parse_object(frame);
  FilePulled pulled;
  pulled.info = parse_file_info_object(object, frame);
  pulled.size = number_field(object, frame, "size", 0, std::numeric_limits<uint64_t>::max());
  return pulled;
}

std::string encode_path(const std::string& path) { return json{{"path", path}}.dump(); }

std::string parse_path(const Frame& frame) {
  const json object = parse_object(frame);
  auto path = string_field(object, frame, "path", true);
  check_no_nul(path, frame, "path");
  return path;
}

}  // namespace vmm::agent

namespace vmm::agent {

std::string encode_error(const ErrorReport& report) {
  nlohmann::json object{{"message", report.message}};
  if (report.error_number != 0) object["errno"] = report.error_number;
  return object.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

ErrorReport parse_error(const Frame& frame) {
  ErrorReport report;
  const auto object = nlohmann::json::parse(frame.text(), nullptr, /*allow_exceptions=*/false);
  const auto message = object.is_object() ? object.find("message") : object.end();
  if (!object.is_object() || message == object.end() || !message->is_string()) {
    report.message = std::string(frame.text().substr(0, 1024));
    return report;
  }
  report.message = message->get<std::string>();
  const auto number = object.find("errno");
  if (number != object.end() && number->is_number_integer()) {
    const auto value = number->get<int64_t>();
    if (value > 0 && value < 4096) report.error_number = static_cast<int>(value);
  }
  return report;
}

}  // namespace vmm::agent
