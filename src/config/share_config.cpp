#include "vmm/config/share_config.hpp"

#include <system_error>

namespace vmm {

std::string share_tag_problem(const std::string& tag) {
  if (tag.empty()) return "the tag is empty";
  if (tag.size() > kMaxShareTagLength) {
    return "the tag is longer than " + std::to_string(kMaxShareTagLength) + " characters";
  }
  for (const char c : tag) {
    if (c <= ' ' || c > '~' || c == ',' || c == '/') {
      return "the tag may only hold printable characters other than space, ',' and '/'";
    }
  }
  return "";
}

std::string share_path_problem(const std::filesystem::path& path) {
  if (path.empty()) return "the path is empty";
  std::error_code ec;
  const auto status = std::filesystem::status(path, ec);
  if (ec || !std::filesystem::exists(status)) return "no such directory";
  if (!std::filesystem::is_directory(status)) return "not a directory";
  return "";
}

}  // namespace vmm
