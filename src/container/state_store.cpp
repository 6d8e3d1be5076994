#include "container/state_store.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "vmm/common/error.hpp"

namespace vmm::container {

const char* status_name(Status s) {
  switch (s) {
    case Status::kCreating:
      return "creating";
    case Status::kCreated:
      return "created";
    case Status::kRunning:
      return "running";
    case Status::kPaused:
      return "paused";
    case Status::kStopped:
      return "stopped";
  }
  return "unknown";
}

void validate_container_id(const std::string& id) {
  const bool ok_len = !id.empty() && id.size() <= 128;
  bool ok = ok_len && id.front() != '.' && id.front() != '-';
  for (char c : id) {
    ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '+' ||
                c == '-');
  }
  if (!ok) throw ConfigError("invalid container id '" + id + "': use 1-128 of A-Z a-z 0-9 _ . + -");
}

uint64_t process_start_time(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // The command name may contain spaces and parentheses: parse from the last ')'.
  const auto close = text.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream fields(text.substr(close + 2));
  std::string state;
  fields >> state;
  if (state == "Z" || state == "X") return 0;
  std::string skip;
  for (int i = 0; i < 18; ++i) fields >> skip;  // fields 4..21
  uint64_t start = 0;
  fields >> start;
  return start;
}

std::string state_json(const ContainerRecord& rec, Status status) {
  nlohmann::json j;
  j["ociVersion"] = "1.2.0";
  j["id"] = rec.id;
  j["status"] = status_name(status);
  if (status != Status::kStopped)
    j["pid"] = rec.pid;
  else
    j["pid"] = 0;
  j["bundle"] = rec.bundle;
  j["rootfs"] = rec.rootfs;
  j["created"] = rec.created;
  j["owner"] = "";  // as runc's state: `list` names the owner
  j["annotations"] = rec.annotations;
  return j.dump(2);
}

StateStore::StateStore(std::string root) : root_(std::move(root)) {
  std::error_code ec;
  std::filesystem::create_directories(root_, ec);
  if (ec) throw Error("cannot create state directory " + root_ + ": " + ec.message());
  ::chmod(root_.c_str(), 0700);
}

void StateStore::create(const std::string& id) const {
  validate_container_id(id);
  if (::mkdir(dir(id).c_str(), 0700) != 0) {
    if (errno == EEXIST) throw ConfigError("container '" + id + "' already exists");
    throw system_error("cannot create " + dir(id), errno);
  }
}

bool StateStore::exists(const std::string& id) const {
  struct stat st {};
  return ::stat((dir(id) + "/state.json").c_str(), &st) == 0;
}

void StateStore::save(const ContainerRecord& rec) const {
  nlohmann::json j;
  j["id"] = rec.id;
  j["pid"] = rec.pid;
  j["start_time"] = rec.start_time;
  j["bundle"] = rec.bundle;
  j["rootfs"] = rec.rootfs;
  j["cgroup"] = rec.cgroup;
  j["created"] = rec.created;
  j["owner"] = rec.owner;
  j["annotations"] = rec.annotations;
  const std::string tmp = dir(rec.id) + "/state.json.tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << j.dump();
    if (!out) throw Error("cannot write " + tmp);
  }
  // rename() makes the update atomic for concurrent readers.
  if (::rename(tmp.c_str(), (dir(rec.id) + "/state.json").c_str()) != 0)
    throw system_error("rename state", errno);
}

ContainerRecord StateStore::load(const std::string& id) const {
  validate_container_id(id);
  std::ifstream in(dir(id) + "/state.json");
  if (!in) throw ConfigError("container '" + id + "' does not exist");
  nlohmann::json j;
  try {
    in >> j;
    ContainerRecord rec;
    rec.id = j.at("id").get<std::string>();
    rec.pid = j.at("pid").get<pid_t>();
    rec.start_time = j.at("start_time").get<uint64_t>();
    rec.bundle = j.at("bundle").get<std::string>();
    rec.rootfs = j.at("rootfs").get<std::string>();
    rec.cgroup = j.at("cgroup").get<std::string>();
    rec.created = j.at("created").get<std::string>();
    rec.owner = j.value("owner", "");
    rec.annotations = j.value("annotations", std::map<std::string, std::string>{});
    return rec;
  } catch (const nlohmann::json::exception& e) {
    throw Error("state of container '" + id + "' is corrupt: " + e.what());
  }
}

Status StateStore::status(const ContainerRecord& rec) const {
  if (rec.pid <= 0 || process_start_time(rec.pid) != rec.start_time) return Status::kStopped;
  struct stat st {};
  if (::lstat((dir(rec.id) + "/exec.fifo").c_str(), &st) == 0) return Status::kCreated;
  return Status::kRunning;
}

std::vector<std::string> StateStore::list() const {
  std::vector<std::string> ids;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(root_, ec)) {
    if (e.is_directory() && exists(e.path().filename().string()))
      ids.push_back(e.path().filename().string());
  }
  std::sort(ids.begin(), ids.end());
  return ids;
}

void StateStore::remove(const std::string& id) const noexcept {
  std::error_code ec;
  std::filesystem::remove_all(dir(id), ec);
}

}  // namespace vmm::container
