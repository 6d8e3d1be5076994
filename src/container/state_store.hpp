#pragma once
// Container state kept under the runtime's --root so it outlives the runtime process:
// <root>/<id>/state.json (our record), exec.fifo (present while "created"), config.json.
#include <sys/types.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace vmm::container {

enum class Status { kCreating, kCreated, kRunning, kPaused, kStopped };
[[nodiscard]] const char* status_name(Status s);

struct ContainerRecord {
  std::string id;
  pid_t pid = 0;
  uint64_t start_time = 0;  // /proc/PID/stat field 22: guards against pid reuse
  std::string bundle;
  std::string rootfs;
  std::string cgroup;   // relative cgroup path; empty when none was created
  std::string created;  // RFC 3339
  std::string owner;
  std::map<std::string, std::string> annotations;
};

// Throws vmm::ConfigError unless `id` is 1-128 of [A-Za-z0-9_.+-], not starting with '.'/'-'.
void validate_container_id(const std::string& id);

// The start time of `pid` in clock ticks, 0 if it does not exist or is a zombie.
[[nodiscard]] uint64_t process_start_time(pid_t pid);

// The OCI state document (`runc state` output).
[[nodiscard]] std::string state_json(const ContainerRecord& rec, Status status);

class StateStore final {
 public:
  explicit StateStore(std::string root);
  [[nodiscard]] const std::string& root() const noexcept { return root_; }
  [[nodiscard]] std::string dir(const std::string& id) const { return root_ + "/" + id; }
  // Creates <root>/<id> atomically; a duplicate id is a vmm::ConfigError.
  void create(const std::string& id) const;
  [[nodiscard]] bool exists(const std::string& id) const;
  void save(const ContainerRecord& rec) const;
  // Throws vmm::ConfigError when the container does not exist.
  [[nodiscard]] ContainerRecord load(const std::string& id) const;
  [[nodiscard]] Status status(const ContainerRecord& rec) const;
  [[nodiscard]] std::vector<std::string> list() const;
  void remove(const std::string& id) const noexcept;

 private:
  std::string root_;
};

}  // namespace vmm::container
