#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "container/hooks.hpp"
#include "container/state_store.hpp"
#include "vmm/common/error.hpp"

namespace vmm::container {
namespace {

namespace fs = std::filesystem;

class ContainerStateStore : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "vmm-state-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

TEST_F(ContainerStateStore, DuplicateIdsAreUserErrors) {
  const StateStore store((dir_ / "root").string());
  store.create("web");
  EXPECT_THROW(store.create("web"), ConfigError);
  EXPECT_THROW(store.create("../escape"), ConfigError);
  EXPECT_THROW((void)store.load("missing"), ConfigError);
}

TEST_F(ContainerStateStore, SavesLoadsAndDerivesStatus) {
  const StateStore store((dir_ / "root").string());
  store.create("a");
  ContainerRecord rec;
  rec.id = "a";
  rec.pid = ::getpid();
  rec.start_time = process_start_time(::getpid());
  rec.bundle = "/b";
  rec.annotations = {{"k", "v"}};
  store.save(rec);
  const ContainerRecord back = store.load("a");
  EXPECT_EQ(back.pid, rec.pid);
  EXPECT_EQ(back.annotations.at("k"), "v");
  EXPECT_EQ(store.status(back), Status::kRunning);
  std::ofstream(store.dir("a") + "/exec.fifo") << "";
  EXPECT_EQ(store.status(back), Status::kCreated);
  ContainerRecord reused = back;
  reused.start_time += 1;  // same pid, different process: must read as stopped
  EXPECT_EQ(store.status(reused), Status::kStopped);
  EXPECT_EQ(store.list(), std::vector<std::string>{"a"});
  const auto state = nlohmann::json::parse(state_json(back, Status::kCreated));
  EXPECT_EQ(state["status"], "created");
  EXPECT_EQ(state["ociVersion"], "1.2.0");
  EXPECT_EQ(state["pid"], ::getpid());
  store.remove("a");
  EXPECT_TRUE(store.list().empty());
}

TEST(ContainerProcessStartTime, ZombiesAndMissingProcessesAreZero) {
  const pid_t pid = ::fork();
  if (pid == 0) ::_exit(0);
  for (int i = 0; i < 100 && process_start_time(pid) != 0; ++i) ::usleep(10000);
  EXPECT_EQ(process_start_time(pid), 0U);  // a zombie now
  ::waitpid(pid, nullptr, 0);
  EXPECT_EQ(process_start_time(pid), 0U);
  EXPECT_GT(process_start_time(::getpid()), 0U);
}

TEST(ContainerHooks, StateArrivesOnStdinAndFailuresAreReported) {
  const fs::path out = fs::temp_directory_path() / ("vmm-hook-" + std::to_string(::getpid()));
  Hook h{"/bin/sh", {"sh", "-c", "cat > " + out.string()}, {}, 5};
  run_hooks({h}, "{\"id\":\"x\"}", "prestart");
  std::ifstream in(out);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text, "{\"id\":\"x\"}");
  fs::remove(out);
  Hook fail{"/bin/sh", {"sh", "-c", "exit 3"}, {}, std::nullopt};
  try {
    run_hooks({fail}, "{}", "createRuntime");
    ADD_FAILURE() << "a failing hook must throw";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("createRuntime hook /bin/sh failed with status 3"),
              std::string::npos);
  }
  Hook slow{"/bin/sh", {"sh", "-c", "sleep 10"}, {}, 1};
  EXPECT_THROW(run_hooks({slow}, "{}", "poststart"), Error);
  EXPECT_NO_THROW(run_hooks_logged({fail}, "{}", "poststop"));
}

}  // namespace
}  // namespace vmm::container
