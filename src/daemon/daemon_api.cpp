#include "daemon/daemon_api.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cctype>
#include <charconv>
#include <fstream>
#include <map>
#include <vector>

#include "daemon/error_status.hpp"
#include "instance/names.hpp"
#include "vmm/common/error.hpp"
#include "vmm/common/unique_fd.hpp"
#include "vmm/common/uuid.hpp"

namespace vmm::daemon {
namespace {

namespace fs = std::filesystem;
using api::ApiReply;
using api::ApiRequest;
using api::ApiResponse;
using instance::InstanceStatus;
using nlohmann::json;

constexpr auto kDefaultStopTimeout = std::chrono::seconds(30);
constexpr auto kMaxWait = std::chrono::hours(24);

std::string percent_decode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size() &&
        std::isxdigit(static_cast<unsigned char>(text[i + 1])) != 0 &&
        std::isxdigit(static_cast<unsigned char>(text[i + 2])) != 0) {
      unsigned value = 0;
      std::from_chars(text.data() + i + 1, text.data() + i + 3, value, 16);
      out.push_back(static_cast<char>(value));
      i += 2;
    } else {
      out.push_back(text[i]);
    }
  }
  return out;
}

struct Target {
  std::vector<std::string> segments;  // after /1.0
  std::map<std::string, std::string> query;
  bool api_root = false;  // "/" or "/1.0"
};

Target parse_target(const std::string& raw) {
  Target t;
  const auto q = raw.find('?');
  const std::string_view path = std::string_view(raw).substr(0, q);
  if (q != std::string::npos) {
    std::string_view rest = std::string_view(raw).substr(q + 1);
    while (!rest.empty()) {
      const auto amp = rest.find('&');
      const std::string_view pair = rest.substr(0, amp);
      const auto eq = pair.find('=');
      t.query[percent_decode(pair.substr(0, eq))] =
          eq == std::string_view::npos ? "" : percent_decode(pair.substr(eq + 1));
      if (amp == std::string_view::npos) break;
      rest.remove_prefix(amp + 1);
    }
  }
  std::vector<std::string> parts;
  size_t pos = 0;
  while (pos < path.size()) {
    const auto slash = path.find('/', pos);
    const auto part =
        path.substr(pos, slash == std::string_view::npos ? path.size() - pos : slash - pos);
    if (!part.empty()) parts.push_back(percent_decode(part));
    if (slash == std::string_view::npos) break;
    pos = slash + 1;
  }
  if (parts.empty() || (parts.size() == 1 && parts[0] == "1.0")) {
    t.api_root = true;
    return t;
  }
  if (parts[0] != "1.0") {
    t.segments = {"\x01"};  // matches no route
    return t;
  }
  t.segments.assign(parts.begin() + 1, parts.end());
  return t;
}

int recursion_of(const Target& t) {
  const auto it = t.query.find("recursion");
  if (it == t.query.end()) return 0;
  return it->second == "2" ? 2 : it->second == "1" ? 1 : 0;
}

json parse_body(const std::string& body) {
  if (body.empty()) return json::object();
  json j;
  try {
    j = json::parse(body);
  } catch (const json::exception& e) {
    throw ConfigError(std::string("malformed JSON body: ") + e.what());
  }
  if (!j.is_object()) throw ConfigError("the body must be a JSON object");
  return j;
}

// A string field of a JSON body, checked.
std::string string_field(const json& body, const char* key, bool required) {
  const auto it = body.find(key);
  if (it == body.end() || it->is_null()) {
    if (required) throw ConfigError(std::string(key) + ": missing");
    return {};
  }
  if (!it->is_string()) throw ConfigError(std::string(key) + ": must be a string");
  return it->get<std::string>();
}

std::map<std::string, std::string> config_field(const json& body) {
  std::map<std::string, std::string> config;
  const auto it = body.find("config");
  if (it == body.end() || it->is_null()) return config;
  if (!it->is_object()) throw ConfigError("config: must be an object of strings");
  for (const auto& [key, value] : it->items()) {
    if (!value.is_string()) throw ConfigError("config." + key + ": must be a string");
    config[key] = value.get<std::string>();
  }
  return config;
}

std::string instance_url(const std::string& name) { return "/1.0/instances/" + name; }

unsigned lxd_status_code(InstanceStatus s) {
  switch (s) {
    case InstanceStatus::kRunning:
      return 103;
    case InstanceStatus::kFrozen:
      return 110;
    case InstanceStatus::kStopped:
      break;
  }
  return 102;
}

json instance_json(const instance::InstanceView& v) {
  json config = v.record.config;
  config["volatile.base_image"] = v.record.image;
  if (!v.record.mac.empty()) config["volatile.eth0.hwaddr"] = v.record.mac;
  if (v.record.vsock_cid != 0) config["volatile.vsock_id"] = std::to_string(v.record.vsock_cid);
  json out{{"name", v.record.name},
           {"type", instance::type_name(v.record.type)},
           {"status", instance::status_name(v.status)},
           {"status_code", lxd_status_code(v.status)},
           {"architecture", "x86_64"},
           {"created_at", v.record.created_at},
           {"config", config},
           {"description", ""},
           {"ephemeral", false},
           {"profiles", json::array({"default"})},
           {"stateful", false},
           {"location", "none"},
           {"snapshots", v.snapshots}};
  // Where the guest agent is reached (Firecracker's CONNECT convention), for interactive exec.
  if (!v.vsock_socket.empty()) out["vsock_socket"] = v.vsock_socket;
  // Where a root caller on this host execs into a running container with its own terminal.
  if (!v.runtime_root.empty()) out["runtime_root"] = v.runtime_root;
  return out;
}

json state_json(const instance::InstanceView& v) {
  json network = json::object();
  if (!v.host_interface.empty()) {
    json addresses = json::array();
    if (!v.ipv4.empty()) {
      addresses.push_back(json{{"family", "inet"}, {"address", v.ipv4}, {"scope", "global"}});
    }
    network["eth0"] = json{{"addresses", addresses},
                           {"hwaddr", v.record.mac},
                           {"host_name", v.host_interface},
                           {"state", "up"},
                           {"type", "broadcast"}};
  }
  return json{{"status", instance::status_name(v.status)},
              {"status_code", lxd_status_code(v.status)},
              {"pid", v.pid},
              {"network", network}};
}

json image_json(const instance::ImageInfo& i) {
  json aliases = json::array();
  for (const auto& a : i.aliases) aliases.push_back(json{{"name", a}, {"description", ""}});
  return json{{"fingerprint", i.fingerprint},
              {"aliases", aliases},
              {"architecture", i.architecture},
              {"created_at", i.created_at},
              {"uploaded_at", i.created_at},
              {"size", i.size_bytes},
              {"type", "container"},
              {"public", false},
              {"auto_update", false},
              {"properties", json{{"description", i.description},
                                  {"os", i.os},
                                  {"release", i.release},
                                  {"source", i.source}}}};
}

ApiResponse not_allowed(const std::string& allow) {
  ApiResponse r = lxd_error(405, "method not allowed");
  r.allow = allow;
  return r;
}

ApiResponse raw_text(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw NotFoundError("log " + file.filename().string() + " not found");
  ApiResponse r;
  r.body.assign(std::istreambuf_iterator<char>(in), {});
  r.content_type = "application/octet-stream";
  return r;
}

std::chrono::milliseconds seconds_field(const json& body, const char* key,
                                        std::chrono::milliseconds fallback) {
  const auto it = body.find(key);
  if (it == body.end() || it->is_null()) return fallback;
  if (!it->is_number()) throw ConfigError(std::string(key) + ": must be a number of seconds");
  const double seconds = it->get<double>();
  if (seconds < 0) return fallback;  // LXD's -1: the default
  if (seconds > 86400) throw ConfigError(std::string(key) + ": at most 86400 seconds");
  return std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000));
}

}  // namespace

// Envelopes are dumped with invalid UTF-8 replaced: an error message may quote the request.
ApiResponse sync_response(const json& metadata, unsigned status) {
  return ApiResponse{.status = status,
                     .body = json{{"type", "sync"},
                                  {"status", "Success"},
                                  {"status_code", 200},
                                  {"operation", ""},
                                  {"error_code", 0},
                                  {"error", ""},
                                  {"metadata", metadata}}
                                 .dump(-1, ' ', false, json::error_handler_t::replace),
                     .allow = {},
                     .content_type = {},
                     .headers = {}};
}

ApiResponse async_response(const OperationSnapshot& op) {
  return ApiResponse{.status = 202,
                     .body = json{{"type", "async"},
                                  {"status", "Operation created"},
                                  {"status_code", 100},
                                  {"operation", "/1.0/operations/" + op.id},
                                  {"error_code", 0},
                                  {"error", ""},
                                  {"metadata", to_json(op)}}
                                 .dump(-1, ' ', false, json::error_handler_t::replace),
                     .allow = {},
                     .content_type = {},
                     .headers = {}};
}

ApiResponse lxd_error(unsigned status, const std::string& message) {
  return ApiResponse{.status = status,
                     .body = json{{"type", "error"},
                                  {"status", ""},
                                  {"status_code", 0},
                                  {"operation", ""},
                                  {"error_code", status},
                                  {"error", message},
                                  {"metadata", nullptr}}
                                 .dump(-1, ' ', false, json::error_handler_t::replace),
                     .allow = {},
                     .content_type = {},
                     .headers = {}};
}

// A numeric X-LXD-* header: absent, or a number in `base` up to `max`.
std::optional<uint32_t> numeric_header(const ApiRequest& request, const char* name, int base,
                                       uint32_t max) {
  const auto it = request.headers.find(name);
  if (it == request.headers.end() || it->second.empty()) return std::nullopt;
  const std::string& text = it->second;
  uint64_t value = 0;
  for (const char c : text) {
    const int digit = c - '0';
    if (digit < 0 || digit >= base) throw ConfigError(std::string(name) + ": \"" + text + "\"");
    value = value * static_cast<uint64_t>(base) + static_cast<uint64_t>(digit);
    if (value > max) throw ConfigError(std::string(name) + ": \"" + text + "\" is too large");
  }
  return static_cast<uint32_t>(value);
}

// /1.0/instances/NAME/files?path=P, as LXD has it: GET a file (its bytes) or a directory (its
// names), with X-LXD-uid, -gid, -mode and -type; POST writes one (the same headers, and
// X-LXD-write: overwrite or append); DELETE removes one.
ApiResponse files_endpoint(instance::InstanceManager& mgr, const std::string& name, const Target& t,
                           const ApiRequest& request) {
  const auto query = t.query.find("path");
  if (query == t.query.end()) throw ConfigError("path: missing (files?path=/ABSOLUTE/PATH)");
  const std::string& path = query->second;
  const std::string& m = request.method;
  if (m == "GET") {
    const instance::FileEntry entry = mgr.read_file(name, path);
    ApiResponse response;
    if (entry.type == instance::FileType::kDirectory) {
      response = sync_response(entry.entries);
    } else {
      response.body = entry.content;
      response.content_type = "application/octet-stream";
    }
    char mode[8];
    std::snprintf(mode, sizeof(mode), "%04o", static_cast<unsigned>(entry.mode));
    response.headers = {{"X-LXD-uid", std::to_string(entry.uid)},
                        {"X-LXD-gid", std::to_string(entry.gid)},
                        {"X-LXD-mode", mode},
                        {"X-LXD-type", instance::file_type_name(entry.type)}};
    return response;
  }
  if (m == "POST") {
    instance::FileWrite write;
    constexpr uint32_t kMaxId = 0xfffffffeU;  // (uid_t)-1 means "unchanged" to chown
    write.uid = numeric_header(request, "x-lxd-uid", 10, kMaxId);
    write.gid = numeric_header(request, "x-lxd-gid", 10, kMaxId);
    write.mode = numeric_header(request, "x-lxd-mode", 8, 07777);
    if (const auto it = request.headers.find("x-lxd-type"); it != request.headers.end()) {
      write.type = instance::parse_file_type(it->second);
    }
    if (const auto it = request.headers.find("x-lxd-write"); it != request.headers.end()) {
      if (it->second != "overwrite" && it->second != "append") {
        throw ConfigError("X-LXD-write: \"" + it->second + "\" (overwrite or append)");
      }
      write.append = it->second == "append";
    }
    write.content = request.body;
    mgr.write_file(name, path, write);
    return sync_response(json::object());
  }
  if (m == "DELETE") {
    mgr.delete_file(name, path);
    return sync_response(json::object());
  }
  return not_allowed("GET, POST, DELETE");
}

void DaemonApi::handle(const ApiRequest& request, const ApiReply& reply) {
  try {
    const Target t = parse_target(request.target);
    const std::string& m = request.method;
    const auto& s = t.segments;
    auto& mgr = manager_;
    auto& ops = operations_;
    const auto submit = [&](std::string description, json resources, Operations::Task task) {
      reply(async_response(
          ops.submit(std::move(description), std::move(resources), std::move(task))));
    };

    if (t.api_root) {
      if (m != "GET") return reply(not_allowed("GET"));
      return reply(sync_response(json{{"api_extensions", json::array()},
                                      {"api_status", "stable"},
                                      {"api_version", "1.0"},
                                      {"auth", "trusted"},
                                      {"public", false},
                                      {"environment",
                                       {{"server", "vmm"},
                                        {"server_name", "vmm"},
                                        {"server_version", VMM_VERSION},
                                        {"architectures", json::array({"x86_64"})},
                                        {"storage", "dir"},
                                        {"driver", "vmm"}}}}));
    }

    // /1.0/instances
    if (s.size() == 1 && s[0] == "instances") {
      if (m == "GET") {
        json out = json::array();
        for (const auto& v : mgr.list()) {
          if (recursion_of(t) == 0) {
            out.push_back(instance_url(v.record.name));
          } else {
            json j = instance_json(v);
            if (recursion_of(t) == 2) j["state"] = state_json(v);
            out.push_back(std::move(j));
          }
        }
        return reply(sync_response(out));
      }
      if (m == "POST") {
        const json body = parse_body(request.body);
        instance::CreateRequest create;
        create.name = string_field(body, "name", true);
        create.type = instance::parse_type(string_field(body, "type", false));
        create.config = config_field(body);
        create.network = string_field(body, "network", false);
        if (!create.network.empty() && create.network != "bridge" && create.network != "none") {
          throw ConfigError("network: \"" + create.network + "\" is neither bridge nor none");
        }
        const auto source = body.find("source");
        if (source == body.end() || !source->is_object()) {
          throw ConfigError("source: missing (an object with an alias or a fingerprint)");
        }
        const std::string source_type = string_field(*source, "type", false);
        if (!source_type.empty() && source_type != "image") {
          throw ConfigError("source.type: only \"image\" is supported");
        }
        create.image = string_field(*source, "alias", false);
        if (create.image.empty()) create.image = string_field(*source, "fingerprint", false);
        if (create.image.empty()) throw ConfigError("source: an alias or a fingerprint is needed");
        // Checked now, so a bad request fails at once and not in the operation.
        instance::validate_instance_name(create.name);
        mgr.validate_request(create);
        (void)mgr.images().get(create.image);
        if (mgr.exists(create.name)) {
          throw StateError("instance \"" + create.name + "\" already exists");
        }
        return submit("Creating instance", json{{"instances", {instance_url(create.name)}}},
                      [&mgr, create] {
                        (void)mgr.create(create);
                        return json::object();
                      });
      }
      return reply(not_allowed("GET, POST"));
    }

    // /1.0/instances/NAME[/...]
    if (s.size() >= 2 && s[0] == "instances") {
      const std::string name = s[1];
      const json resources{{"instances", {instance_url(name)}}};
      const instance::InstanceView view = mgr.get(name);  // 404 for an unknown instance
      if (s.size() == 2) {
        if (m == "GET") return reply(sync_response(instance_json(view)));
        if (m == "PATCH" || m == "PUT") {
          const json body = parse_body(request.body);
          if (m == "PUT" && body.contains("restore")) {
            const std::string snap = string_field(body, "restore", true);
            instance::validate_snapshot_name(snap);
            return submit("Restoring snapshot", resources, [&mgr, name, snap] {
              mgr.restore(name, snap);
              return json::object();
            });
          }
          (void)mgr.update_config(name, config_field(body));
          return reply(sync_response(json::object()));
        }
        if (m == "DELETE") {
          if (view.status != InstanceStatus::kStopped) {
            throw StateError("instance " + name + " is running: stop it first");
          }
          return submit("Deleting instance", resources, [&mgr, name] {
            mgr.remove(name, false);
            return json::object();
          });
        }
        return reply(not_allowed("GET, PUT, PATCH, DELETE"));
      }
      const std::string& what = s[2];
      if (what == "state" && s.size() == 3) {
        if (m == "GET") return reply(sync_response(state_json(view)));
        if (m != "PUT") return reply(not_allowed("GET, PUT"));
        const json body = parse_body(request.body);
        const std::string action = string_field(body, "action", true);
        const auto timeout = seconds_field(body, "timeout", kDefaultStopTimeout);
        const bool force = body.value("force", false);
        if (action == "start") {
          if (view.status != InstanceStatus::kStopped) {
            throw StateError("instance " + name + " is already running");
          }
          const auto agent_wait = seconds_field(body, "agent_timeout", instance::kDefaultAgentWait);
          return submit("Starting instance", resources, [&mgr, name, agent_wait] {
            mgr.start(name);
            // A virtual machine is ready once its guest agent answers (at once for containers).
            mgr.wait_agent(name, agent_wait);
            return json::object();
          });
        }
        if (action == "stop" || action == "restart") {
          if (action == "stop" && view.status == InstanceStatus::kStopped) {
            throw StateError("instance " + name + " is already stopped");
          }
          return submit(action == "stop" ? "Stopping instance" : "Restarting instance", resources,
                        [&mgr, name, timeout, force, action] {
                          if (action == "stop") {
                            mgr.stop(name, timeout, force);
                          } else {
                            mgr.restart(name, timeout, force);
                            mgr.wait_agent(name, instance::kDefaultAgentWait);
                          }
                          return json::object();
                        });
        }
        if (action == "freeze" || action == "unfreeze") {
          return submit(action == "freeze" ? "Freezing instance" : "Unfreezing instance", resources,
                        [&mgr, name, action] {
                          if (action == "freeze") {
                            mgr.freeze(name);
                          } else {
                            mgr.unfreeze(name);
                          }
                          return json::object();
                        });
        }
        throw ConfigError("action: \"" + action +
                          "\" is not one of start, stop, restart, freeze, unfreeze");
      }
      if (what == "exec" && s.size() == 3) {
        if (m != "POST") return reply(not_allowed("POST"));
        const json body = parse_body(request.body);
        instance::ExecOptions options;
        const auto command = body.find("command");
        if (command == body.end() || !command->is_array() || command->empty()) {
          throw ConfigError("command: must be a non-empty array of strings");
        }
        for (const auto& arg : *command) {
          if (!arg.is_string()) throw ConfigError("command: must be an array of strings");
          options.command.push_back(arg.get<std::string>());
        }
        if (const auto env = body.find("environment"); env != body.end() && env->is_object()) {
          for (const auto& [k, v] : env->items()) {
            if (!v.is_string()) throw ConfigError("environment." + k + ": must be a string");
            options.environment.push_back(k + "=" + v.get<std::string>());
          }
        }
        options.cwd = string_field(body, "cwd", false);
        if (const auto user = body.find("user"); user != body.end() && user->is_number_unsigned()) {
          options.user = std::to_string(user->get<uint32_t>());
          if (const auto group = body.find("group");
              group != body.end() && group->is_number_unsigned()) {
            options.user += ":" + std::to_string(group->get<uint32_t>());
          }
        }
        if (body.value("wait-for-websocket", false) || body.value("interactive", false)) {
          throw ConfigError(
              "interactive exec over websockets is not supported: use "
              "record-output");
        }
        if (view.status != InstanceStatus::kRunning) {
          throw StateError("instance " + name + " is not running");
        }
        const bool record = body.value("record-output", false);
        const fs::path logs = mgr.instance_dir(name) / "logs";
        const std::string id = "exec_" + to_string(random_uuid());
        return submit("Executing command", resources,
                      [&mgr, name, options, record, logs, id]() mutable {
                        json output = json::object();
                        UniqueFd out;
                        UniqueFd err;
                        if (record) {
                          fs::create_directories(logs);
                          const auto open_log = [&](const std::string& file) {
                            UniqueFd fd(::open((logs / file).c_str(),
                                               O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
                            if (!fd) throw system_error("cannot create " + file, errno);
                            return fd;
                          };
                          out = open_log(id + ".stdout");
                          err = open_log(id + ".stderr");
                          output["1"] = instance_url(name) + "/logs/" + id + ".stdout";
                          output["2"] = instance_url(name) + "/logs/" + id + ".stderr";
                        }
                        options.out_fd = out.get();
                        options.err_fd = err.get();
                        const int status = mgr.exec(name, options);
                        return json{{"return", status}, {"output", output}};
                      });
      }
      if (what == "files" && s.size() == 3) return reply(files_endpoint(mgr, name, t, request));
      if (what == "agent" && s.size() == 3) {
        // Waits for a VM's guest agent, as `incus wait NAME agent` does.
        if (m != "POST") return reply(not_allowed("POST"));
        const json body = request.body.empty() ? json::object() : parse_body(request.body);
        const auto wait = seconds_field(body, "timeout", instance::kDefaultAgentWait);
        if (view.status == InstanceStatus::kStopped) {
          throw StateError("instance " + name + " is not running");
        }
        return submit("Waiting for the guest agent", resources, [&mgr, name, wait] {
          mgr.wait_agent(name, wait);
          return json::object();
        });
      }
      if (what == "logs") {
        const fs::path logs = mgr.instance_dir(name) / "logs";
        if (s.size() == 3) {
          if (m != "GET") return reply(not_allowed("GET"));
          json out = json::array();
          std::error_code ec;
          for (const auto& e : fs::directory_iterator(logs, ec)) {
            out.push_back(instance_url(name) + "/logs/" + e.path().filename().string());
          }
          return reply(sync_response(out));
        }
        if (s.size() == 4) {
          const std::string& file = s[3];
          if (file.empty() || file.find('/') != std::string::npos || file[0] == '.') {
            throw NotFoundError("log " + file + " not found");
          }
          if (m == "GET") return reply(raw_text(logs / file));
          if (m == "DELETE") {
            if (!fs::remove(logs / file)) throw NotFoundError("log " + file + " not found");
            return reply(sync_response(json::object()));
          }
          return reply(not_allowed("GET, DELETE"));
        }
      }
      if (what == "console" && s.size() == 3) {
        if (m != "GET") return reply(not_allowed("GET"));
        const fs::path log = mgr.instance_dir(name) / "console.log";
        if (!fs::exists(log)) {
          ApiResponse empty;
          empty.content_type = "application/octet-stream";
          return reply(empty);
        }
        return reply(raw_text(log));
      }
      if (what == "snapshots") {
        if (s.size() == 3) {
          if (m == "GET") {
            json out = json::array();
            for (const auto& snap : view.snapshots) {
              if (recursion_of(t) == 0) {
                out.push_back(instance_url(name) + "/snapshots/" + snap);
              } else {
                out.push_back(json{{"name", snap}});
              }
            }
            return reply(sync_response(out));
          }
          if (m == "POST") {
            const json body = parse_body(request.body);
            const std::string snap = string_field(body, "name", true);
            instance::validate_snapshot_name(snap);
            if (std::find(view.snapshots.begin(), view.snapshots.end(), snap) !=
                view.snapshots.end()) {
              throw StateError("snapshot " + name + "/" + snap + " already exists");
            }
            return submit("Snapshotting instance", resources, [&mgr, name, snap] {
              mgr.snapshot(name, snap);
              return json::object();
            });
          }
          return reply(not_allowed("GET, POST"));
        }
        if (s.size() == 4) {
          const std::string& snap = s[3];
          if (std::find(view.snapshots.begin(), view.snapshots.end(), snap) ==
              view.snapshots.end()) {
            throw NotFoundError("snapshot " + name + "/" + snap + " not found");
          }
          if (m == "GET") return reply(sync_response(json{{"name", snap}}));
          if (m == "DELETE") {
            return submit("Deleting snapshot", resources, [&mgr, name, snap] {
              mgr.delete_snapshot(name, snap);
              return json::object();
            });
          }
          return reply(not_allowed("GET, DELETE"));
        }
      }
      throw NotFoundError("no such endpoint: " + request.target);
    }

    // /1.0/images
    if (!s.empty() && s[0] == "images") {
      auto& images = mgr.images();
      if (s.size() == 1) {
        if (m == "GET") {
          json out = json::array();
          for (const auto& i : images.list()) {
            out.push_back(recursion_of(t) == 0 ? json("/1.0/images/" + i.fingerprint)
                                               : image_json(i));
          }
          return reply(sync_response(out));
        }
        if (m == "POST") {
          const json body = parse_body(request.body);
          std::vector<std::string> aliases;
          if (const auto a = body.find("aliases"); a != body.end() && a->is_array()) {
            for (const auto& alias : *a) {
              const std::string n = alias.is_object()   ? string_field(alias, "name", true)
                                    : alias.is_string() ? alias.get<std::string>()
                                                        : "";
              instance::validate_image_alias(n);
              aliases.push_back(n);
            }
          }
          const auto source = body.find("source");
          if (source == body.end() || !source->is_object()) {
            throw ConfigError(
                "source: missing ({\"type\": \"path\", \"path\": ...} or "
                "{\"type\": \"build\", \"name\": ...})");
          }
          const std::string type = string_field(*source, "type", true);
          const std::string description = string_field(body, "description", false);
          if (type == "path") {
            const std::string path = string_field(*source, "path", true);
            if (!fs::exists(path)) throw ConfigError("source.path: " + path + " does not exist");
            return submit("Importing image", json::object(), [&images, path, aliases, description] {
              const auto info = images.import(path, aliases, description);
              return json{{"fingerprint", info.fingerprint}};
            });
          }
          if (type == "build") {
            const std::string what = string_field(*source, "name", true);
            const auto known = instance::ImageStore::buildable();
            if (std::find(known.begin(), known.end(), what) == known.end()) {
              throw ConfigError("source.name: cannot build \"" + what + "\"");
            }
            return submit("Building image", json::object(), [&images, what, aliases] {
              auto info = images.build(what);
              for (const auto& alias : aliases) images.add_alias(alias, info.fingerprint);
              return json{{"fingerprint", info.fingerprint}};
            });
          }
          throw ConfigError("source.type: \"" + type + "\" is neither path nor build");
        }
        return reply(not_allowed("GET, POST"));
      }
      if (s[1] == "aliases") {
        if (s.size() == 2) {
          if (m == "GET") {
            json out = json::array();
            for (const auto& i : images.list()) {
              for (const auto& a : i.aliases) {
                out.push_back(recursion_of(t) == 0 ? json("/1.0/images/aliases/" + a)
                                                   : json{{"name", a}, {"target", i.fingerprint}});
              }
            }
            return reply(sync_response(out));
          }
          if (m == "POST") {
            const json body = parse_body(request.body);
            images.add_alias(string_field(body, "name", true), string_field(body, "target", true));
            return reply(sync_response(json::object()));
          }
          return reply(not_allowed("GET, POST"));
        }
        if (s.size() == 3) {
          if (m == "GET") {
            const auto info = images.get(s[2]);
            if (std::find(info.aliases.begin(), info.aliases.end(), s[2]) == info.aliases.end()) {
              throw NotFoundError("image alias \"" + s[2] + "\" not found");
            }
            return reply(sync_response(json{{"name", s[2]}, {"target", info.fingerprint}}));
          }
          if (m == "DELETE") {
            images.remove_alias(s[2]);
            return reply(sync_response(json::object()));
          }
          return reply(not_allowed("GET, DELETE"));
        }
      }
      if (s.size() == 2) {
        const auto info = images.get(s[1]);
        if (m == "GET") return reply(sync_response(image_json(info)));
        if (m == "DELETE") {
          return submit("Deleting image", json::object(), [&mgr, fp = info.fingerprint] {
            mgr.remove_image(fp);
            return json::object();
          });
        }
        return reply(not_allowed("GET, DELETE"));
      }
      throw NotFoundError("no such endpoint: " + request.target);
    }

    // /1.0/operations
    if (!s.empty() && s[0] == "operations") {
      if (s.size() == 1) {
        if (m != "GET") return reply(not_allowed("GET"));
        json out{
            {"running", json::array()}, {"success", json::array()}, {"failure", json::array()}};
        for (const auto& op : ops.list()) {
          const char* bucket = op.status == OperationStatus::kRunning   ? "running"
                               : op.status == OperationStatus::kSuccess ? "success"
                                                                        : "failure";
          out[bucket].push_back(recursion_of(t) == 0 ? json("/1.0/operations/" + op.id)
                                                     : to_json(op));
        }
        return reply(sync_response(out));
      }
      const std::string& id = s[1];
      if (s.size() == 2) {
        if (m != "GET") return reply(not_allowed("GET"));
        const auto op = ops.get(id);
        if (!op) throw NotFoundError("operation " + id + " not found");
        return reply(sync_response(to_json(*op)));
      }
      if (s.size() == 3 && s[2] == "wait") {
        if (m != "GET") return reply(not_allowed("GET"));
        std::chrono::milliseconds timeout = kMaxWait;
        if (const auto it = t.query.find("timeout"); it != t.query.end()) {
          double seconds = 0;
          try {
            seconds = std::stod(it->second);
          } catch (const std::exception&) {
            throw ConfigError("timeout: \"" + it->second + "\" is not a number of seconds");
          }
          if (seconds >= 0 && seconds < 86400) {
            timeout = std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000));
          }
        }
        const bool known = ops.wait(id, timeout, [reply](const OperationSnapshot& op) {
          reply(sync_response(to_json(op)));
        });
        if (!known) throw NotFoundError("operation " + id + " not found");
        return;
      }
    }
    throw NotFoundError("no such endpoint: " + request.target);
  } catch (const std::exception& e) {
    reply(lxd_error(http_status_of(e), e.what()));
  }
}

}  // namespace vmm::daemon
