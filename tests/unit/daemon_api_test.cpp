// The daemon's REST API against a real instance manager on a temporary state directory:
// envelopes, operations, and the status of every kind of bad request. (Running containers is
// the workflow test's part: tests/instances/workflow.sh.)
#include "daemon/daemon_api.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "daemon/operations.hpp"
#include "instance/instance_manager.hpp"
#include "vmm/common/error.hpp"

namespace vmm::daemon {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using namespace std::chrono_literals;

class DaemonApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "vmm-daemon-api-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    tree_ = dir_ / "tree";
    fs::create_directories(tree_ / "etc");
    fs::create_directories(tree_ / "bin");
    std::ofstream(tree_ / "bin/sh") << "#!fake\n";
    manager_.emplace(dir_ / "state", "/bin/false");
    operations_.emplace(4);
    api_.emplace(*manager_, *operations_);
  }
  void TearDown() override {
    api_.reset();
    operations_.reset();
    manager_.reset();
    fs::remove_all(dir_);
  }

  // The request, answered: status and parsed body.
  std::pair<unsigned, json> call(const std::string& method, const std::string& target,
                                 const std::string& body = {}) {
    return call_with_headers(method, target, body, {});
  }

  std::pair<unsigned, json> call_with_headers(const std::string& method, const std::string& target,
                                              const std::string& body,
                                              std::map<std::string, std::string> headers) {
    std::promise<api::ApiResponse> answer;
    auto future = answer.get_future();
    api_->handle(
        api::ApiRequest{
            .method = method, .target = target, .body = body, .headers = std::move(headers)},
        [&](api::ApiResponse r) { answer.set_value(std::move(r)); });
    EXPECT_EQ(future.wait_for(30s), std::future_status::ready) << method << " " << target;
    const api::ApiResponse r = future.get();
    return {r.status, r.body.empty() ? json() : json::parse(r.body)};
  }
  // An async request, waited for through /wait: the operation object.
  json run(const std::string& method, const std::string& target, const std::string& body) {
    const auto [status, envelope] = call(method, target, body);
    EXPECT_EQ(status, 202U) << envelope.dump();
    EXPECT_EQ(envelope.value("type", ""), "async");
    const std::string op = envelope.value("operation", "");
    EXPECT_TRUE(op.starts_with("/1.0/operations/"));
    const auto [wait_status, waited] = call("GET", op + "/wait?timeout=30");
    EXPECT_EQ(wait_status, 200U);
    return waited.value("metadata", json());
  }

  fs::path dir_;
  fs::path tree_;
  std::optional<instance::InstanceManager> manager_;
  std::optional<Operations> operations_;
  std::optional<DaemonApi> api_;
};

TEST_F(DaemonApiTest, ServerInfoIsASyncEnvelope) {
  const auto [status, body] = call("GET", "/1.0");
  EXPECT_EQ(status, 200U);
  EXPECT_EQ(body["type"], "sync");
  EXPECT_EQ(body["status"], "Success");
  EXPECT_EQ(body["status_code"], 200);
  EXPECT_EQ(body["metadata"]["api_version"], "1.0");
  EXPECT_EQ(body["metadata"]["environment"]["server"], "vmm");
}

TEST_F(DaemonApiTest, ErrorsCarryTheirStatusInAnErrorEnvelope) {
  const struct {
    const char* method;
    const char* target;
    const char* body;
    unsigned status;
  } cases[] = {
      {"GET", "/1.0/instances/nope", "", 404},
      {"GET", "/1.0/instances/nope/state", "", 404},
      {"GET", "/1.0/images/nope", "", 404},
      {"GET", "/1.0/operations/nope", "", 404},
      {"GET", "/1.0/operations/nope/wait", "", 404},
      {"GET", "/1.0/nothing", "", 404},
      {"GET", "/2.0/instances", "", 404},
      {"POST", "/1.0/instances", "{\"name\": ", 400},
      {"POST", "/1.0/instances", "[1, 2]", 400},
      {"POST", "/1.0/instances", "{\"source\": {\"alias\": \"x\"}}", 400},
      {"POST", "/1.0/instances", "{\"name\": \"9x\", \"source\": {\"alias\": \"x\"}}", 400},
      {"POST", "/1.0/instances", "{\"name\": \"ok\", \"source\": {\"alias\": \"nosuch\"}}", 404},
      {"POST", "/1.0/instances", "{\"name\": \"ok\"}", 400},
      {"POST", "/1.0/images", "{\"source\": {\"type\": \"url\"}}", 400},
      {"POST", "/1.0/images", "{\"source\": {\"type\": \"path\", \"path\": \"/no/such\"}}", 400},
      {"POST", "/1.0/images", "{\"source\": {\"type\": \"build\", \"name\": \"windows\"}}", 400},
      {"DELETE", "/1.0/images", "", 405},
      {"PUT", "/1.0", "", 405},
      {"DELETE", "/1.0/images/aliases/nope", "", 404},
  };
  for (const auto& c : cases) {
    const auto [status, body] = call(c.method, c.target, c.body);
    EXPECT_EQ(status, c.status) << c.method << " " << c.target << " " << c.body;
    EXPECT_EQ(body["type"], "error") << c.target;
    EXPECT_EQ(body["error_code"], c.status) << c.target;
    EXPECT_FALSE(body["error"].get<std::string>().empty()) << c.target;
  }
}

TEST_F(DaemonApiTest, ImportCreateConfigureAndDeleteThroughOperations) {
  const json imported = run("POST", "/1.0/images",
                            json{{"source", {{"type", "path"}, {"path", tree_.string()}}},
                                 {"aliases", {{{"name", "tiny"}}}}}
                                .dump());
  ASSERT_EQ(imported["status"], "Success") << imported.dump();
  const std::string fp = imported["metadata"]["fingerprint"];
  EXPECT_EQ(fp.size(), 64U);
  {
    const auto [status, body] = call("GET", "/1.0/images?recursion=1");
    ASSERT_EQ(body["metadata"].size(), 1U);
    EXPECT_EQ(body["metadata"][0]["aliases"][0]["name"], "tiny");
  }
  const json created = run("POST", "/1.0/instances",
                           R"({"name": "c1", "source": {"type": "image", "alias": "tiny"},
                               "config": {"limits.cpu": "1"}})");
  EXPECT_EQ(created["status"], "Success") << created.dump();
  EXPECT_EQ(created["resources"]["instances"][0], "/1.0/instances/c1");
  {
    const auto [status, body] = call("GET", "/1.0/instances");
    EXPECT_EQ(body["metadata"], json::array({"/1.0/instances/c1"}));
    const auto [s2, c1] = call("GET", "/1.0/instances/c1");
    EXPECT_EQ(c1["metadata"]["status"], "Stopped");
    EXPECT_EQ(c1["metadata"]["status_code"], 102);
    EXPECT_EQ(c1["metadata"]["type"], "container");
    EXPECT_EQ(c1["metadata"]["config"]["limits.cpu"], "1");
    EXPECT_EQ(c1["metadata"]["config"]["volatile.base_image"], fp);
  }
  // A duplicate is refused before any operation exists.
  EXPECT_EQ(call("POST", "/1.0/instances", R"({"name": "c1", "source": {"alias": "tiny"}})").first,
            409U);
  EXPECT_EQ(call("PATCH", "/1.0/instances/c1", R"({"config": {"limits.memory": "512MiB"}})").first,
            200U);
  EXPECT_EQ(call("PATCH", "/1.0/instances/c1", R"({"config": {"limits.cpu": "x"}})").first, 400U);
  EXPECT_EQ(call("GET", "/1.0/instances/c1").second["metadata"]["config"]["limits.memory"],
            "512MiB");
  // State changes the instance's state does not allow.
  EXPECT_EQ(call("PUT", "/1.0/instances/c1/state", R"({"action": "stop"})").first, 409U);
  EXPECT_EQ(call("PUT", "/1.0/instances/c1/state", R"({"action": "jump"})").first, 400U);
  EXPECT_EQ(call("POST", "/1.0/instances/c1/exec", R"({"command": ["true"]})").first, 409U);
  EXPECT_EQ(call("POST", "/1.0/instances/c1/exec", R"({"command": []})").first, 400U);
  // Waiting for a guest agent: only a running instance has one to wait for.
  EXPECT_EQ(call("POST", "/1.0/instances/c1/agent", R"({"timeout": 1})").first, 409U);
  EXPECT_EQ(call("GET", "/1.0/instances/c1/agent").first, 405U);
  EXPECT_EQ(call("POST", "/1.0/instances/c1/agent", R"({"timeout": "soon"})").first, 400U);
  EXPECT_EQ(call("GET", "/1.0/instances/c1/snapshots/none").first, 404U);
  // Files: a clear 400 for a missing or relative path and for malformed X-LXD headers, before
  // anything of the instance is touched.
  EXPECT_EQ(call("GET", "/1.0/instances/c1/files").first, 400U);
  EXPECT_EQ(call("GET", "/1.0/instances/c1/files?path=etc/hosts").first, 400U);
  EXPECT_EQ(call("GET", "/1.0/instances/c1/files?path=/").first, 400U);
  EXPECT_EQ(call("PUT", "/1.0/instances/c1/files?path=/x").first, 405U);
  for (const auto& [header, value] :
       std::vector<std::pair<std::string, std::string>>{{"x-lxd-mode", "0999"},
                                                        {"x-lxd-mode", "77777"},
                                                        {"x-lxd-mode", "-1"},
                                                        {"x-lxd-uid", "4294967295"},
                                                        {"x-lxd-uid", "12a"},
                                                        {"x-lxd-gid", "99999999999999999999"},
                                                        {"x-lxd-type", "symlink"},
                                                        {"x-lxd-write", "truncate"}}) {
    EXPECT_EQ(
        call_with_headers("POST", "/1.0/instances/c1/files?path=/x", "data", {{header, value}})
            .first,
        400U)
        << header << ": " << value;
  }
  // An image in use is not deleted: the operation fails and the image stays.
  const json refused = run("DELETE", "/1.0/images/tiny", "");
  EXPECT_EQ(refused["status"], "Failure");
  EXPECT_NE(refused["err"].get<std::string>().find("used by instance c1"), std::string::npos);
  const json deleted = run("DELETE", "/1.0/instances/c1", "");
  EXPECT_EQ(deleted["status"], "Success") << deleted.dump();
  EXPECT_EQ(call("GET", "/1.0/instances/c1").first, 404U);
  EXPECT_FALSE(fs::exists(dir_ / "state/instances/c1"));
  EXPECT_EQ(run("DELETE", "/1.0/images/tiny", "")["status"], "Success");
  EXPECT_TRUE(call("GET", "/1.0/images").second["metadata"].empty());
}

// Every VM instance gets a vsock context ID of its own (3 and up), kept for its life and freed
// by its deletion, and its vsock socket in the instance's directory.
TEST_F(DaemonApiTest, VmInstancesGetDistinctVsockContextIds) {
  api_.reset();
  manager_.emplace(
      dir_ / "state", "/bin/false", std::nullopt,
      instance::VmBootConfig{.kernel = "/boot/vmlinuz", .initrd = {}, .cmdline_append = {}});
  api_.emplace(*manager_, *operations_);
  ASSERT_EQ(run("POST", "/1.0/images",
                json{{"source", {{"type", "path"}, {"path", tree_.string()}}},
                     {"aliases", {{{"name", "tiny"}}}}}
                    .dump())["status"],
            "Success");
  const auto create = [&](const std::string& name) {
    const json body{{"name", name},
                    {"type", "virtual-machine"},
                    {"source", {{"type", "image"}, {"alias", "tiny"}}},
                    {"config", {{"root.size", "128MiB"}}}};
    const json op = run("POST", "/1.0/instances", body.dump());
    EXPECT_EQ(op["status"], "Success") << op.dump();
    return call("GET", "/1.0/instances/" + name).second["metadata"];
  };
  const json vm1 = create("vm1");
  const json vm2 = create("vm2");
  EXPECT_EQ(vm1["config"]["volatile.vsock_id"], "3");
  EXPECT_EQ(vm2["config"]["volatile.vsock_id"], "4");
  EXPECT_EQ(vm1["vsock_socket"], (dir_ / "state/instances/vm1/vsock.sock").string());
  EXPECT_EQ(run("DELETE", "/1.0/instances/vm1", "")["status"], "Success");
  EXPECT_EQ(create("vm3")["config"]["volatile.vsock_id"], "3");
  // Stopped: nothing answers for it yet.
  EXPECT_EQ(call("POST", "/1.0/instances/vm2/agent", "{}").first, 409U);
  EXPECT_EQ(call("POST", "/1.0/instances/vm2/exec", R"({"command": ["true"]})").first, 409U);
}

TEST(Operations, WaitEndsWithTheResultOrTheTimeout) {
  Operations ops(2);
  std::promise<void> release;
  auto released = release.get_future().share();
  const OperationSnapshot op = ops.submit("slow", json::object(), [released] {
    released.wait();
    return json{{"answer", 42}};
  });
  EXPECT_EQ(op.status, OperationStatus::kRunning);
  // A short wait ends with the operation still running.
  std::promise<OperationSnapshot> early;
  ASSERT_TRUE(ops.wait(op.id, 50ms, [&](const OperationSnapshot& s) { early.set_value(s); }));
  EXPECT_EQ(early.get_future().get().status, OperationStatus::kRunning);
  // A long one ends when it does, once.
  std::promise<OperationSnapshot> late;
  ASSERT_TRUE(ops.wait(op.id, 30s, [&](const OperationSnapshot& s) { late.set_value(s); }));
  release.set_value();
  const OperationSnapshot done = late.get_future().get();
  EXPECT_EQ(done.status, OperationStatus::kSuccess);
  EXPECT_EQ(done.metadata["answer"], 42);
  EXPECT_EQ(to_json(done)["status_code"], 200);
  EXPECT_FALSE(ops.wait("unknown", 1s, [](const OperationSnapshot&) { FAIL(); }));

  const OperationSnapshot bad =
      ops.submit("bad", json::object(), []() -> json { throw ConfigError("no good"); });
  const auto failed = ops.wait_blocking(bad.id, 30s);
  ASSERT_TRUE(failed.has_value());
  EXPECT_EQ(failed->status, OperationStatus::kFailure);
  EXPECT_EQ(failed->error, "no good");
  EXPECT_EQ(failed->error_code, 400U);
  EXPECT_EQ(to_json(*failed)["status"], "Failure");
}

}  // namespace
}  // namespace vmm::daemon
