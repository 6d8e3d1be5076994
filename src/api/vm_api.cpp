#include "api/vm_api.hpp"

#include <unistd.h>

#include <array>
#include <cstdio>
#include <exception>
#include <string_view>

#include "vmm/common/error.hpp"
#include "vmm/config/vm_config_json.hpp"

namespace vmm::api {
namespace {

using nlohmann::json;

constexpr std::string_view kPrefix = "/api/v1/";

enum class Method { kGet, kPut };

struct Route {
  std::string_view name;
  Method method;
  ApiResponse (*handle)(VmControl&);
};

ApiResponse json_response(const json& body) {
  return ApiResponse{
      .status = 200, .body = body.dump(), .allow = {}, .content_type = {}, .headers = {}};
}

ApiResponse no_content() {
  return ApiResponse{.status = 204, .body = {}, .allow = {}, .content_type = {}, .headers = {}};
}

ApiResponse ping(VmControl& /*vm*/) {
  return json_response({{"version", VMM_VERSION},
                        {"build_version", std::string("vmm ") + VMM_VERSION},
                        {"pid", static_cast<int64_t>(::getpid())},
                        {"features", json::array()}});
}

json devices_json(const std::vector<VmDeviceInfo>& devices) {
  json out = json::array();
  for (const auto& d : devices) {
    out.push_back({{"id", d.id}, {"kind", d.kind}, {"transport", d.transport}});
  }
  return out;
}

ApiResponse info(VmControl& vm) {
  json body = {{"state", api_state_name(vm.state())},
               {"config", vm.config()},
               {"devices", devices_json(vm.devices())},
               {"memory_actual_size", vm.memory_bytes()}};
  if (const std::optional<VsockConfig> vsock = vm.vsock()) {
    body["vsock"] = {{"cid", vsock->cid}, {"socket", vsock->socket.string()}};
  }
  return json_response(body);
}

ApiResponse counters(VmControl& vm) {
  json out = json::object();
  for (const auto& d : vm.devices()) {
    json c = json::object();
    for (const auto& [name, value] : d.counters) c[name] = value;
    out[d.id] = std::move(c);
  }
  // Not a device id: what the guest's exits to the VMM were, for finding what a boot costs.
  const ExitSummary exits = vm.exits();
  json by_kind = json::object();
  for (const auto& e : exits.by_kind) by_kind[e.kind] = e.count;
  json top = json::array();
  for (const auto& e : exits.by_address) {
    std::array<char, 24> hex{};
    std::snprintf(hex.data(), hex.size(), "0x%llx", static_cast<unsigned long long>(e.address));
    top.push_back({{"kind", e.kind}, {"address", hex.data()}, {"count", e.count}});
  }
  out["vcpu_exits"] = {
      {"total", exits.total}, {"by_kind", by_kind}, {"top", top}, {"untracked", exits.untracked}};
  return json_response(out);
}

ApiResponse pause(VmControl& vm) {
  vm.pause();
  return no_content();
}

ApiResponse resume(VmControl& vm) {
  vm.resume();
  return no_content();
}

ApiResponse power_button(VmControl& vm) {
  vm.power_button();
  return no_content();
}

ApiResponse shutdown(VmControl& vm) {
  vm.shutdown();
  return no_content();
}

constexpr std::array<Route, 7> kRoutes{{
    {"vmm.ping", Method::kGet, ping},
    {"vm.info", Method::kGet, info},
    {"vm.counters", Method::kGet, counters},
    {"vm.pause", Method::kPut, pause},
    {"vm.resume", Method::kPut, resume},
    {"vm.shutdown", Method::kPut, shutdown},
    {"vm.power-button", Method::kPut, power_button},
}};

const char* method_name(Method m) { return m == Method::kGet ? "GET" : "PUT"; }

// A body is optional; when present it must be a JSON object (no route takes fields yet).
bool body_acceptable(const std::string& body) {
  if (body.find_first_not_of(" \t\r\n") == std::string::npos) return true;
  const json parsed = json::parse(body, nullptr, /*allow_exceptions=*/false);
  return parsed.is_object();
}

}  // namespace

ApiResponse error_response(unsigned status, const std::string& message) {
  return ApiResponse{
      .status = status,
      .body = json{{"error", message}}.dump(-1, ' ', false, json::error_handler_t::replace),
      .allow = {},
      .content_type = {},
      .headers = {}};
}

const char* api_state_name(VmState state) noexcept {
  switch (state) {
    case VmState::kCreated:
      return "Created";
    case VmState::kRunning:
      return "Running";
    case VmState::kPaused:
      return "Paused";
    case VmState::kShutdown:
      return "Shutdown";
  }
  return "Unknown";
}

ApiResponse dispatch(VmControl& vm, const ApiRequest& request) {
  try {
    std::string_view target = request.target;
    if (const auto query = target.find('?'); query != std::string_view::npos) {
      target = target.substr(0, query);
    }
    if (!target.starts_with(kPrefix)) return error_response(404, "no such endpoint");
    const std::string_view name = target.substr(kPrefix.size());
    for (const Route& route : kRoutes) {
      if (route.name != name) continue;
      if (request.method != method_name(route.method)) {
        ApiResponse r =
            error_response(405, std::string(name) + " takes " + method_name(route.method));
        r.allow = method_name(route.method);
        return r;
      }
      if (!body_acceptable(request.body)) {
        return error_response(400, "the body must be empty or a JSON object");
      }
      return route.handle(vm);
    }
    return error_response(404, "no such endpoint: " + std::string(name));
  } catch (const Error& e) {
    switch (e.kind()) {
      case ErrorKind::kInvalidState:
        return error_response(409, e.what());
      case ErrorKind::kInvalidConfig:
        return error_response(400, e.what());
      case ErrorKind::kHostResource:
        return error_response(503, e.what());
      case ErrorKind::kNotFound:
        return error_response(404, e.what());
      case ErrorKind::kRuntime:
        break;
    }
    return error_response(500, e.what());
  } catch (const std::exception& e) {
    return error_response(500, e.what());
  }
}

namespace {

class RealVmControl final : public VmControl {
 public:
  explicit RealVmControl(Vm& vm) : vm_(vm) {}
  [[nodiscard]] VmState state() const override { return vm_.state(); }
  void pause() override { vm_.pause(); }
  void resume() override { vm_.resume(); }
  void shutdown() override { vm_.request_stop(); }
  void power_button() override { vm_.press_power_button(); }
  [[nodiscard]] json config() const override { return vm_config_to_json(vm_.config()); }
  [[nodiscard]] std::vector<VmDeviceInfo> devices() const override { return vm_.devices(); }
  [[nodiscard]] uint64_t memory_bytes() const override { return vm_.config().memory_bytes; }
  [[nodiscard]] std::optional<VsockConfig> vsock() const override { return vm_.vsock(); }
  [[nodiscard]] ExitSummary exits() const override { return vm_.exits(); }

 private:
  Vm& vm_;
};

}  // namespace

std::unique_ptr<VmControl> make_vm_control(Vm& vm) { return std::make_unique<RealVmControl>(vm); }

}  // namespace vmm::api
