// The command line as a user meets it: every user error gives one clear line on stderr and
// exit status 2, before anything is started. Runs the real binary; needs no KVM.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

namespace {

namespace fs = std::filesystem;

struct Result {
  int status = -1;
  std::string out;
  std::string err;
};

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class Cli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("vmm-cli-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  Result vmm(const std::string& args) {
    const fs::path out = dir_ / "stdout";
    const fs::path err = dir_ / "stderr";
    const std::string cmd =
        std::string(VMM_BIN) + " " + args + " </dev/null >" + out.string() + " 2>" + err.string();
    const int raw = std::system(cmd.c_str());
    Result r;
    r.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : 128 + WTERMSIG(raw);
    r.out = slurp(out);
    r.err = slurp(err);
    return r;
  }

  fs::path write_file(const std::string& name, const std::string& contents) {
    const fs::path p = dir_ / name;
    std::ofstream(p, std::ios::binary) << contents;
    return p;
  }

  static std::string kernel() {
    const char* k = std::getenv("VMM_TEST_KERNEL");
    return k != nullptr ? k : "";
  }

  fs::path dir_;
};

// One line, naming the problem, and exit status 2.
void expect_usage_error(const Result& r, const std::string& needle) {
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_NE(r.err.find(needle), std::string::npos) << "stderr: " << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << "stderr: " << r.err;
  EXPECT_TRUE(r.out.empty()) << "stdout must stay clean: " << r.out;
}

TEST_F(Cli, VersionAndHelp) {
  auto v = vmm("--version");
  EXPECT_EQ(v.status, 0);
  EXPECT_NE(v.out.find("vmm "), std::string::npos);
  auto h = vmm("run --help");
  EXPECT_EQ(h.status, 0);
  for (const char* s : {"--kernel", "--initrd", "--cmdline", "--cpus", "--memory", "--timeout",
                        "Exit status", "124", "0xf4", "Ctrl-a x", "--config", "--print-config"}) {
    EXPECT_NE(h.out.find(s), std::string::npos) << s;
  }
}

TEST_F(Cli, TopLevelHelpListsEveryCommandAndEachHasItsOwn) {
  auto h = vmm("--help");
  EXPECT_EQ(h.status, 0);
  for (const char* s : {"run", "container", "oci", "ctl"}) {
    EXPECT_NE(h.out.find(std::string("  ") + s + " "), std::string::npos) << s << "\n" << h.out;
    auto sub = vmm(std::string(s) + " --help");
    EXPECT_EQ(sub.status, 0) << s << ": " << sub.err;
    EXPECT_NE(sub.out.find("Usage"), std::string::npos) << s << ": " << sub.out;
  }
  auto oci = vmm("oci --version");
  EXPECT_EQ(oci.status, 0) << oci.err;
  EXPECT_EQ(oci.out.rfind("vmm-runc version ", 0), 0u) << oci.out;
  EXPECT_NE(oci.out.find("spec: "), std::string::npos) << oci.out;
}

TEST_F(Cli, CtlWithoutAnApiIsAClearError) {
  expect_usage_error(vmm("ctl --api-socket " + (dir_ / "none.sock").string() + " ping"),
                     "none.sock");
  expect_usage_error(vmm("ctl --api-socket x reboot"), "reboot");
  expect_usage_error(vmm("ctl ping"), "--api-socket");
}

TEST_F(Cli, CtlExecMistakesAreClearErrors) {
  const std::string none = (dir_ / "none.sock").string();
  expect_usage_error(vmm("ctl --api-socket " + none + " exec"), "no command given");
  expect_usage_error(vmm("ctl --api-socket " + none + " exec -t -T -- true"), "exclude");
  expect_usage_error(vmm("ctl --api-socket " + none + " exec --user -1 -- true"), "--user");
  expect_usage_error(vmm("ctl --api-socket " + none + " exec --user 1:2:3 -- true"), "--user");
  expect_usage_error(vmm("ctl --api-socket " + none + " ping extra"), "takes no arguments");
  // A well-formed exec against a socket nobody serves names the socket.
  expect_usage_error(vmm("ctl --api-socket " + none + " exec --user 1000:1000 -- true"),
                     "none.sock");
  expect_usage_error(vmm("ctl --api-socket " + none + " wait-agent --timeout 1"), "none.sock");
}

TEST_F(Cli, ApiSocketPathThatIsNotASocketIsRefused) {
  // Refused before any VM is built (so no /dev/kvm is needed to see it).
  const auto file = write_file("not-a-socket", "x");
  if (kernel().empty()) GTEST_FAIL() << "VMM_TEST_KERNEL is not set: cannot run this test";
  expect_usage_error(vmm("run --kernel " + kernel() + " --api-socket " + file.string()),
                     "not-a-socket exists and is not a socket");
  EXPECT_TRUE(fs::exists(file)) << "a file that is not a socket is never removed";
}

TEST_F(Cli, NoSubcommandOrUnknownFlag) {
  EXPECT_EQ(vmm("").status, 2);
  expect_usage_error(vmm("run --kernel x --bogus"), "--bogus");
  expect_usage_error(vmm("run"), "--kernel");
}

TEST_F(Cli, MissingKernel) {
  expect_usage_error(vmm("run --kernel " + (dir_ / "nope").string()), "nope");
}

TEST_F(Cli, NeitherBzImageNorElf) {
  auto junk = write_file("junk", std::string(8192, 'x'));
  expect_usage_error(vmm("run --kernel " + junk.string()), "junk");
}

TEST_F(Cli, TruncatedBzImage) {
  ASSERT_FALSE(kernel().empty()) << "VMM_TEST_KERNEL is not set: cannot run this test";
  auto full = slurp(kernel());
  ASSERT_GT(full.size(), 1u << 20);
  auto cut = write_file("cut", full.substr(0, full.size() / 2));
  auto r = vmm("run --kernel " + cut.string());
  expect_usage_error(r, "truncated");
}

TEST_F(Cli, BadCpusAndMemory) {
  expect_usage_error(vmm("run --kernel k --cpus 0"), "--cpus");
  expect_usage_error(vmm("run --kernel k --cpus 100000"), "--cpus");
  expect_usage_error(vmm("run --kernel k --memory 1M"), "too small");
  expect_usage_error(vmm("run --kernel k --memory 64T"), "more than the host");
  expect_usage_error(vmm("run --kernel k --memory lots"), "--memory");
  expect_usage_error(vmm("run --kernel k --timeout -3"), "--timeout");
}

TEST_F(Cli, InitrdThatDoesNotFit) {
  ASSERT_FALSE(kernel().empty()) << "VMM_TEST_KERNEL is not set: cannot run this test";
  auto big = dir_ / "big.cpio";
  fs::resize_file(write_file("big.cpio", ""), 200ULL << 20);
  auto r = vmm("run --kernel " + kernel() + " --memory 128M --initrd " + big.string());
  expect_usage_error(r, "initrd");
}

TEST_F(Cli, CommandLineTooLong) {
  ASSERT_FALSE(kernel().empty()) << "VMM_TEST_KERNEL is not set: cannot run this test";
  auto r = vmm("run --kernel " + kernel() + " --cmdline " + std::string(5000, 'a'));
  expect_usage_error(r, "command line");
}

TEST_F(Cli, MissingKvmDeviceIsExplained) {
  ASSERT_FALSE(kernel().empty()) << "VMM_TEST_KERNEL is not set: cannot run this test";
  auto r = vmm("run --kernel " + kernel() + " --kvm-device " + (dir_ / "kvm").string());
  expect_usage_error(r, "does not exist");
}

TEST_F(Cli, BadUuidAndOnRebootAreUsageErrors) {
  const auto kernel = write_file("vmlinux", "not a kernel");
  expect_usage_error(vmm("run --kernel " + kernel.string() + " --uuid 1234 --print-config"),
                     "--uuid");
  expect_usage_error(vmm("run --kernel " + kernel.string() + " --on-reboot sometimes"),
                     "--on-reboot");
}

// --print-config shows the whole command line in the config file's schema, and starts nothing
// (the kernel need not even be a kernel).
TEST_F(Cli, PrintConfigOfFlags) {
  const auto kernel = write_file("vmlinux", "not a kernel");
  const auto disk = write_file("disk.img", std::string(4096, '\0'));
  auto r = vmm("run --kernel " + kernel.string() +
               " --cpus 2 --memory 256M --cmdline 'console=hvc0 quiet' --cmdline-append "
               "loglevel=3 --uuid 0F6E2F8C-53A4-4A59-B1D2-7C0E5D9A3B11 --disk " +
               disk.string() +
               ",readonly=on,serial=D1 --net user,hostfwd=tcp::2222-:22,mac=02:00:00:00:00:09"
               " --console virtio --transport mmio --print-config");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(r.err.empty()) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["boot-source"]["kernel_image_path"], kernel.string());
  // --cmdline-append adds to --cmdline; the first disk becomes root (read-only: ro).
  EXPECT_EQ(j["boot-source"]["boot_args"], "console=hvc0 quiet loglevel=3 root=/dev/vda ro");
  EXPECT_EQ(j["vmm"]["uuid"], "0f6e2f8c-53a4-4a59-b1d2-7c0e5d9a3b11");
  EXPECT_EQ(j["machine-config"]["vcpu_count"], 2);
  EXPECT_EQ(j["machine-config"]["mem_size_mib"], 256);
  ASSERT_EQ(j["drives"].size(), 1u);
  EXPECT_EQ(j["drives"][0]["path_on_host"], disk.string());
  EXPECT_EQ(j["drives"][0]["is_read_only"], true);
  EXPECT_EQ(j["drives"][0]["serial"], "D1");
  ASSERT_EQ(j["network-interfaces"].size(), 1u);
  EXPECT_EQ(j["network-interfaces"][0]["kind"], "user");
  EXPECT_EQ(j["network-interfaces"][0]["guest_mac"], "02:00:00:00:00:09");
  EXPECT_EQ(j["network-interfaces"][0]["host_forwards"][0]["host_port"], 2222);
  EXPECT_EQ(j["network-interfaces"][0]["host_forwards"][0]["guest_port"], 22);
  EXPECT_EQ(j["vmm"]["console"], "virtio");
  EXPECT_EQ(j["vmm"]["transport"], "mmio");
}

// --agent is part of the configuration (vmm.agent); the agent starts from the initramfs, so
// it is refused without one, before anything is read or started.
TEST_F(Cli, AgentNeedsAnInitrd) {
  const auto kernel = write_file("vmlinux", "not a kernel");
  const auto initrd = write_file("initrd", "cpio");
  auto r = vmm("run --kernel " + kernel.string() + " --initrd " + initrd.string() +
               " --agent --print-config");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["vmm"]["agent"], true);
  auto without = vmm("run --kernel " + kernel.string() + " --print-config");
  ASSERT_EQ(without.status, 0) << without.err;
  EXPECT_FALSE(nlohmann::json::parse(without.out)["vmm"].contains("agent"));
  const std::string line = "vmm: --agent needs --initrd: the agent starts from the initramfs\n";
  auto refused = vmm("run --kernel " + kernel.string() + " --agent");
  expect_usage_error(refused, "--agent needs --initrd");
  EXPECT_EQ(refused.err, line);
  // The same from a config file.
  const auto file = write_file("vm.json", R"({"boot-source": {"kernel_image_path": ")" +
                                              kernel.string() + R"("}, "vmm": {"agent": true}})");
  expect_usage_error(vmm("run --config " + file.string()), "--agent needs --initrd");
}

TEST_F(Cli, ShareFlag) {
  const auto kernel = write_file("vmlinux", "not a kernel");
  const fs::path share = dir_ / "share";
  fs::create_directories(share);
  const std::string run = "run --kernel " + kernel.string();
  auto r = vmm(run + " --share " + share.string() + ",tag=data,readonly=on --share " +
               share.string() + ",tag=rw --print-config");
  ASSERT_EQ(r.status, 0) << r.err;
  const auto shares = nlohmann::json::parse(r.out)["shares"];
  ASSERT_EQ(shares.size(), 2U);
  EXPECT_EQ(shares[0],
            (nlohmann::json{{"path", share.string()}, {"tag", "data"}, {"read_only", true}}));
  EXPECT_EQ(shares[1]["read_only"], false);
  expect_usage_error(vmm(run + " --share " + share.string()), "--share: tag=NAME is required");
  expect_usage_error(vmm(run + " --share " + (dir_ / "none").string() + ",tag=x"),
                     "--share: " + (dir_ / "none").string() + ": no such directory");
  expect_usage_error(vmm(run + " --share " + share.string() + ",tag=" + std::string(65, 't')),
                     "the tag is longer than 64 characters");
  expect_usage_error(
      vmm(run + " --share " + share.string() + ",tag=a --share " + share.string() + ",tag=a"),
      "--share: tag 'a' is used by two shares");
}

TEST_F(Cli, VsockFlag) {
  const auto kernel = write_file("vmlinux", "not a kernel");
  const std::string sock = (dir_ / "v.sock").string();
  auto r =
      vmm("run --kernel " + kernel.string() + " --vsock cid=3,socket=" + sock + " --print-config");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["vsock"], (nlohmann::json{{"cid", 3}, {"socket", sock}}));
  expect_usage_error(vmm("run --kernel " + kernel.string() + " --vsock cid=2,socket=" + sock),
                     "--vsock: cid=2: must be at least 3");
  expect_usage_error(vmm("run --kernel " + kernel.string() +
                         " --vsock cid=3,socket=" + (dir_ / "no" / "v.sock").string()),
                     "does not exist");
  expect_usage_error(
      vmm("run --kernel " + kernel.string() + " --vsock cid=3,socket=" + kernel.string()),
      kernel.string() + " exists and is not a socket");
  expect_usage_error(vmm("run --kernel " + kernel.string() + " --vsock cid=3"),
                     "--vsock: socket=PATH is required");
  auto help = vmm("run --help");
  EXPECT_NE(help.out.find("--vsock"), std::string::npos);
  EXPECT_NE(help.out.find("CONNECT"), std::string::npos);
}

// Feeding the printed configuration back prints the same configuration.
TEST_F(Cli, PrintedConfigRoundTrips) {
  const auto kernel = write_file("vmlinux", "not a kernel");
  const auto initrd = write_file("initrd", "cpio");
  const auto disk = write_file("disk.img", std::string(4096, '\0'));
  auto first = vmm("run --kernel " + kernel.string() + " --initrd " + initrd.string() +
                   " --cpus 3 --memory 300M --disk " + disk.string() +
                   ",cache=none --net tap=vmmtest0 --net user --vsock cid=9,socket=" +
                   (dir_ / "v.sock").string() + " --print-config");
  ASSERT_EQ(first.status, 0) << first.err;
  const auto file = write_file("vm.json", first.out);
  auto second = vmm("run --config " + file.string() + " --print-config");
  ASSERT_EQ(second.status, 0) << second.err;
  EXPECT_EQ(second.out, first.out);
}

TEST_F(Cli, FlagsOverrideTheConfigFile) {
  const auto kernel = write_file("vmlinux", "not a kernel");
  const auto file =
      write_file("vm.json", R"({"boot-source": {"kernel_image_path": ")" + kernel.string() + R"("},
      "machine-config": {"vcpu_count": 2, "mem_size_mib": 384}})");
  auto r = vmm("run --config " + file.string() + " --cpus 3 --print-config");
  ASSERT_EQ(r.status, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["machine-config"]["vcpu_count"], 3);
  EXPECT_EQ(j["machine-config"]["mem_size_mib"], 384);  // from the file: no --memory given
  EXPECT_EQ(j["boot-source"]["kernel_image_path"], kernel.string());
}

// A bad config file is one line naming the JSON path, exit status 2.
TEST_F(Cli, ConfigFileErrorsNameTheJsonPath) {
  const auto kernel = write_file("vmlinux", "not a kernel");
  const std::string boot =
      R"("boot-source": {"kernel_image_path": ")" + kernel.string() + R"("}, )";
  auto unknown = write_file("unknown.json", "{" + boot + R"("drives": [
      {"path_on_host": ")" + kernel.string() + R"("}, {"pth_on_host": "x"}]})");
  expect_usage_error(vmm("run --config " + unknown.string()),
                     "drives[1].pth_on_host: unknown field");
  auto type = write_file("type.json", "{" + boot + R"("machine-config": {"vcpu_count": "2"}})");
  expect_usage_error(vmm("run --config " + type.string() + " --print-config"),
                     "machine-config.vcpu_count: expected an integer");
  auto missing = write_file("missing.json", "{" + boot + R"("drives": [{"path_on_host": ")" +
                                                (dir_ / "nope.img").string() + R"("}]})");
  expect_usage_error(vmm("run --config " + missing.string()),
                     "drives[0].path_on_host: no such file");
  auto syntax = write_file("syntax.json", "{\n  \"drives\": [,]\n}\n");
  expect_usage_error(vmm("run --config " + syntax.string()), "syntax.json: invalid JSON");
  expect_usage_error(vmm("run --config " + (dir_ / "absent.json").string()), "absent.json");
  // Without a kernel anywhere, the flag is named.
  auto no_kernel = write_file("no-kernel.json", R"({"machine-config": {"vcpu_count": 2}})");
  expect_usage_error(vmm("run --config " + no_kernel.string()), "--kernel");
}

}  // namespace

TEST_F(Cli, ExecMistakesAreOneLineUserErrors) {
  const auto kernel = write_file("vmlinux", "not a kernel");
  const fs::path root = dir_ / "root";
  fs::create_directories(root);
  const std::string run = "run --kernel " + kernel.string();
  expect_usage_error(vmm(run + " --exec true"),
                     "--exec: needs the guest's root as a share tagged root");
  expect_usage_error(vmm(run + " --share " + root.string() + ",tag=data --exec true"),
                     "share tagged root");
  const std::string with_root = run + " --share " + root.string() + ",tag=root,readonly=on";
  expect_usage_error(vmm(with_root + " --exec ''"), "--exec: the command is empty");
  expect_usage_error(vmm(with_root + " --exec true --print-config"), "--exec:");
  expect_usage_error(vmm(with_root + " --exec true --on-reboot restart"), "--exec:");
  const auto initrd = write_file("initrd", "cpio");
  expect_usage_error(vmm(with_root + " --initrd " + initrd.string() + " --exec true"),
                     "--exec: makes its own initramfs");
  expect_usage_error(vmm(with_root + " --cmdline 'rdinit=/x' --exec true"), "rdinit=");
}

// A bzImage header that names its release, beside a kernel config without 9p: refused before
// anything boots, naming the missing option.
TEST_F(Cli, ExecWithAKernelWithout9pIsRefused) {
  const fs::path dir = dir_ / "kernel";
  fs::create_directories(dir);
  std::string image(0x1000, '\0');
  image.replace(0x202, 4, "HdrS");
  image[0x206] = 0x0f;
  image[0x207] = 0x02;
  image[0x20e] = 0x00;
  image[0x20f] = 0x01;  // the version string at 0x300
  image.replace(0x300, 20, "6.1.999-test (x) #1");
  std::ofstream(dir / "bzImage", std::ios::binary) << image;
  std::ofstream(dir / "config") << "CONFIG_VIRTIO_PCI=y\nCONFIG_VIRTIO_CONSOLE=y\n"
                                   "# CONFIG_NET_9P is not set\n";
  const fs::path root = dir_ / "root";
  fs::create_directories(root);
  const auto r = vmm("run --kernel " + (dir / "bzImage").string() + " --share " + root.string() +
                     ",tag=root --exec true");
  expect_usage_error(r, "the kernel 6.1.999-test lacks CONFIG_NET_9P_VIRTIO");
}
