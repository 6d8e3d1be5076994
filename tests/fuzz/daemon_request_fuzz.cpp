// Fuzzes the daemon's request path: raw bytes through the HTTP parser (with the daemon's
// limits) and, when they make a request, through the LXD-style router against a real instance
// manager holding one stopped container instance "f" (so /files and its X-LXD headers are
// reached). Nothing may crash or hang, and every answer is a valid
// HTTP status with an LXD envelope (or a raw log). Image imports and builds are left out: they
// read host paths and run tools, which is the workflow test's part.
#include <unistd.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <optional>
#include <string_view>

#include "api/api_server.hpp"
#include "daemon/daemon_api.hpp"
#include "daemon/operations.hpp"
#include "instance/instance_manager.hpp"

namespace {

struct Daemon {
  Daemon() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "vmm-daemon-fuzz-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) std::abort();
    manager.emplace(tmpl, "/bin/false");
    const std::filesystem::path tree = std::filesystem::path(tmpl) / "tree";
    std::filesystem::create_directories(tree / "etc");
    std::filesystem::create_directories(tree / "sbin");
    std::filesystem::create_directories(tree / "bin");
    std::ofstream(tree / "bin/sh") << "";
    std::ofstream(tree / "etc/hostname") << "f\n";
    std::ofstream(tree / "sbin/init") << "";
    (void)manager->images().import(tree, {"img"});
    (void)manager->create(vmm::instance::CreateRequest{
        .name = "f", .type = {}, .image = "img", .config = {}, .network = "none"});
    operations.emplace(2);
    api.emplace(*manager, *operations);
  }
  std::optional<vmm::instance::InstanceManager> manager;
  std::optional<vmm::daemon::Operations> operations;
  std::optional<vmm::daemon::DaemonApi> api;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Daemon daemon;
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  vmm::api::ApiLimits limits;
  limits.max_body_bytes = size_t{1} << 20;
  const vmm::api::ParsedRequest parsed = vmm::api::parse_http_request(bytes, limits);
  if (!parsed.request) return 0;
  const auto& r = *parsed.request;
  if (r.method == "POST" && r.target.find("images") != std::string::npos) return 0;
  auto answer = std::make_shared<std::promise<vmm::api::ApiResponse>>();
  auto future = answer->get_future();
  daemon.api->handle(
      r, [answer](vmm::api::ApiResponse response) { answer->set_value(std::move(response)); });
  if (future.wait_for(std::chrono::seconds(10)) != std::future_status::ready) std::abort();
  const vmm::api::ApiResponse response = future.get();
  if (response.status < 200 || response.status > 599) std::abort();
  if (response.content_type.empty() && !response.body.empty()) {
    const auto j = nlohmann::json::parse(response.body, nullptr, false);
    if (j.is_discarded() || !j.contains("type")) std::abort();
  }
  return 0;
}
