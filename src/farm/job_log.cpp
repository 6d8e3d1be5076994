#include "farm/job_log.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "vmm/common/error.hpp"

namespace vmm::farm {

JobLog::JobLog(std::filesystem::path path) : path_(std::move(path)) {
  // O_APPEND: the child's writes and the farm's headers land one after the other.
  fd_.reset(::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644));
  if (!fd_) throw system_error("cannot create " + path_.string(), errno);
}

uint64_t JobLog::begin_attempt(unsigned attempt, unsigned of) {
  if (attempt > 1) {
    const std::string header = "\n=== vmm farm: attempt " + std::to_string(attempt) + " of " +
                               std::to_string(of) + " ===\n";
    if (::write(fd_.get(), header.data(), header.size()) < 0) {
      throw system_error("cannot write " + path_.string(), errno);
    }
  }
  const off_t end = ::lseek(fd_.get(), 0, SEEK_END);
  if (end < 0) throw system_error("cannot seek " + path_.string(), errno);
  return static_cast<uint64_t>(end);
}

std::string JobLog::read_since(uint64_t offset) const {
  UniqueFd in(::open(path_.c_str(), O_RDONLY | O_CLOEXEC));
  if (!in) return {};
  std::string text;
  char buffer[65536];
  auto at = static_cast<off_t>(offset);
  while (text.size() < kMaxConsoleRead) {
    const std::size_t want = std::min(sizeof buffer, kMaxConsoleRead - text.size());
    const ssize_t n = ::pread(in.get(), buffer, want, at);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    text.append(buffer, static_cast<std::size_t>(n));
    at += n;
  }
  return text;
}

std::string JobLog::read_tail(uint64_t offset) const {
  const off_t end = ::lseek(fd_.get(), 0, SEEK_END);
  if (end < 0 || static_cast<uint64_t>(end) <= offset) return {};
  // A little more than the tail, so that it can start at a whole line.
  const uint64_t size = static_cast<uint64_t>(end) - offset;
  const uint64_t from =
      size > 2 * kLogTailBytes ? static_cast<uint64_t>(end) - 2 * kLogTailBytes : offset;
  return log_tail(read_since(from));
}

std::string log_tail(std::string_view text, std::size_t bytes) {
  if (text.size() <= bytes) return std::string(text);
  std::string_view tail = text.substr(text.size() - bytes);
  // Start at a whole line when one starts in the first quarter.
  if (const auto nl = tail.find('\n'); nl != std::string_view::npos && nl < bytes / 4) {
    tail.remove_prefix(nl + 1);
  }
  return std::string(tail);
}

}  // namespace vmm::farm
