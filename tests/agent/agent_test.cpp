// vmm-agent as the host's client meets it: the real binary on a Unix socket (no VM), driven
// through AgentConnection. Runs as root (uid/gid changes, chown).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <future>
#include <memory>
#include <mutex>
#include <random>
#include <thread>

#include "agent/agent_client.hpp"
#include "agent/frame_io.hpp"
#include "agent_process.hpp"

namespace vmm::agent {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

UniqueFd expect_ok(int fd) {
  EXPECT_GE(fd, 0) << std::strerror(errno);
  return UniqueFd(fd);
}

std::array<UniqueFd, 2> make_pipe() {
  std::array<int, 2> fds{};
  EXPECT_EQ(::pipe2(fds.data(), O_CLOEXEC), 0);
  return {UniqueFd(fds[0]), UniqueFd(fds[1])};
}

std::string read_all(int fd) {
  std::string out;
  std::array<char, 65536> buffer{};
  ::lseek(fd, 0, SEEK_SET);
  for (;;) {
    const ssize_t n = ::read(fd, buffer.data(), buffer.size());
    if (n <= 0) return out;
    out.append(buffer.data(), static_cast<size_t>(n));
  }
}

// Reads `fd` until `needle` shows up (true) or `timeout` passes; keeps what it read in `seen`.
bool wait_for_output(int fd, std::string& seen, const std::string& needle,
                     std::chrono::milliseconds timeout = 10s) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (seen.find(needle) == std::string::npos) {
    pollfd pfd{fd, POLLIN, 0};
    const int left = poll_timeout(deadline);
    if (left == 0 || ::poll(&pfd, 1, left) <= 0) return false;
    std::array<char, 4096> buffer{};
    const ssize_t n = ::read(fd, buffer.data(), buffer.size());
    if (n <= 0) return seen.find(needle) != std::string::npos;
    seen.append(buffer.data(), static_cast<size_t>(n));
  }
  return true;
}

class AgentTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    agent_ = std::make_unique<test::AgentProcess>();
    dir_ = agent_->dir();
    socket_ = agent_->socket();
  }
  static void TearDownTestSuite() { agent_.reset(); }
  void TearDown() override {
    // Whatever a test did, the agent must still be serving.
    ASSERT_TRUE(agent_->running()) << "the agent exited";
  }

  static AgentConnection connect() { return AgentConnection::open(connect_unix(socket_), 5s); }

  struct Result {
    int status = -1;
    std::string out;
    std::string err;
  };
  static Result run(const ExecRequest& request, const std::string& input = {}) {
    UniqueFd in = expect_ok(::memfd_create("stdin", MFD_CLOEXEC));
    UniqueFd out = expect_ok(::memfd_create("stdout", MFD_CLOEXEC));
    UniqueFd err = expect_ok(::memfd_create("stderr", MFD_CLOEXEC));
    EXPECT_EQ(::write(in.get(), input.data(), input.size()), static_cast<ssize_t>(input.size()));
    ::lseek(in.get(), 0, SEEK_SET);
    Result result;
    result.status = connect().exec(request, {in.get(), out.get(), err.get()});
    result.out = read_all(out.get());
    result.err = read_all(err.get());
    return result;
  }
  static Result run(std::vector<std::string> argv) {
    ExecRequest request;
    request.argv = std::move(argv);
    return run(request);
  }

  static inline std::unique_ptr<test::AgentProcess> agent_;
  static inline fs::path dir_;
  static inline fs::path socket_;
};

TEST_F(AgentTest, HelloNamesProtocolAndVersion) {
  const auto connection = connect();
  EXPECT_EQ(connection.info().protocol_version, kProtocolVersion);
  EXPECT_EQ(connection.info().agent_version, VMM_VERSION);
}

TEST_F(AgentTest, ExitStatuses) {
  EXPECT_EQ(run({"true"}).status, 0);
  EXPECT_EQ(run({"sh", "-c", "exit 7"}).status, 7);
  EXPECT_EQ(run({"sh", "-c", "kill -TERM $$"}).status, 128 + SIGTERM);

  const auto missing = run({"vmm-no-such-command"});
  EXPECT_EQ(missing.status, 127);
  EXPECT_EQ(missing.err, "vmm-agent: vmm-no-such-command: not found\n");
  EXPECT_EQ(run({"/no/such/dir/cmd"}).status, 127);

  const fs::path not_executable = dir_ / "not-executable";
  { std::ofstream(not_executable) << "#!/bin/sh\nexit 0\n"; }
  fs::permissions(not_executable, fs::perms::owner_read | fs::perms::owner_write);
  const auto denied = run({not_executable.string()});
  EXPECT_EQ(denied.status, 126);
  EXPECT_EQ(denied.err, "vmm-agent: " + not_executable.string() + ": Permission denied\n");
  EXPECT_EQ(run({dir_.string()}).status, 126);  // a directory
}

TEST_F(AgentTest, OutputsAreSeparate) {
  const auto result = run({"sh", "-c", "echo out; echo err >&2"});
  EXPECT_EQ(result.status, 0);
  EXPECT_EQ(result.out, "out\n");
  EXPECT_EQ(result.err, "err\n");
}

TEST_F(AgentTest, EnvironmentDirectoryAndIdentity) {
  ExecRequest request;
  request.argv = {"sh", "-c", "echo \"$FOO\"; pwd; id -u; id -g; id -G; echo \"$PATH\""};
  request.environment = {"FOO=bar baz"};
  request.cwd = dir_.string();
  request.uid = 1000;
  request.gid = 1001;
  const auto result = run(request);
  EXPECT_EQ(result.status, 0) << result.err;
  EXPECT_EQ(result.out, "bar baz\n" + dir_.string() + "\n1000\n1001\n1001\n" +
                            "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n");

  // The defaults: root's HOME, and the environment's PATH overridable.
  ExecRequest defaults;
  defaults.argv = {"sh", "-c", "echo \"$HOME:$PATH:$TERM\""};
  defaults.environment = {"PATH=/bin:/usr/bin"};
  EXPECT_EQ(run(defaults).out, "/root:/bin:/usr/bin:\n");
}

TEST_F(AgentTest, BadDirectoryIsAnError) {
  ExecRequest request;
  request.argv = {"true"};
  request.cwd = "/no/such/directory";
  try {
    (void)run(request);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("chdir /no/such/directory"), std::string::npos)
        << e.what();
  }
}

TEST_F(AgentTest, SixtyFourMebibytesThroughCat) {
  constexpr size_t kSize = size_t{64} << 20;
  // The same pseudo-random stream generated twice: once as input, once to check the output.
  const auto generate = [](std::mt19937_64& rng, std::vector<uint8_t>& block) {
    for (size_t i = 0; i < block.size(); i += 8) {
      const uint64_t value = rng();
      std::memcpy(block.data() + i, &value, 8);
    }
  };
  auto in = make_pipe();
  auto out = make_pipe();
  std::thread writer([&, fd = std::move(in[1])] {
    std::mt19937_64 rng(42);
    std::vector<uint8_t> block(1 << 16);
    for (size_t sent = 0; sent < kSize; sent += block.size()) {
      generate(rng, block);
      write_all(fd.get(), block);
    }
  });
  std::atomic<size_t> matched{0};
  std::atomic<bool> differs{false};
  std::thread reader([&, fd = std::move(out[0])] {
    std::mt19937_64 rng(42);
    std::vector<uint8_t> expected(1 << 16);
    std::vector<uint8_t> got;
    std::array<uint8_t, 65536> buffer{};
    for (;;) {
      const ssize_t n = ::read(fd.get(), buffer.data(), buffer.size());
      if (n <= 0) break;
      got.insert(got.end(), buffer.begin(), buffer.begin() + n);
      while (got.size() >= expected.size()) {
        generate(rng, expected);
        if (!std::equal(expected.begin(), expected.end(), got.begin())) differs = true;
        got.erase(got.begin(), got.begin() + static_cast<std::ptrdiff_t>(expected.size()));
        matched += expected.size();
      }
    }
    if (!got.empty()) differs = true;
  });
  ExecRequest request;
  request.argv = {"cat"};
  int status = -1;
  {
    UniqueFd out_write = std::move(out[1]);
    status = connect().exec(request, {in[0].get(), out_write.get(), -1});
  }
  writer.join();
  reader.join();
  EXPECT_EQ(status, 0);
  EXPECT_FALSE(differs);
  EXPECT_EQ(matched, kSize);
}

// Runs a pty exec on a thread, with its input and output as pipes the test drives.
struct Interactive {
  std::array<UniqueFd, 2> in = make_pipe();
  std::array<UniqueFd, 2> out = make_pipe();
  std::array<UniqueFd, 2> control = make_pipe();
  std::future<int> status;
  std::string seen;

  Interactive(AgentConnection connection, ExecRequest request,
              std::function<void(ExecChannel&, char)> on_control) {
    status = std::async(std::launch::async, [this, request = std::move(request), on_control,
                                             connection = std::move(connection)]() mutable {
      UniqueFd out_write = std::move(out[1]);
      ExecControl exec_control;
      exec_control.fd = control[0].get();
      exec_control.on_ready = [&](ExecChannel& channel) {
        char command = 0;
        if (::read(control[0].get(), &command, 1) == 1) on_control(channel, command);
      };
      return connection.exec(request, {in[0].get(), out_write.get(), out_write.get()},
                             exec_control);
    });
  }
  void type(const std::string& text) {
    write_all(in[1].get(), {reinterpret_cast<const uint8_t*>(text.data()), text.size()});
  }
  void command(char c) { ASSERT_EQ(::write(control[1].get(), &c, 1), 1); }
  bool expect(const std::string& needle) { return wait_for_output(out[0].get(), seen, needle); }
  int wait() {
    if (status.wait_for(20s) != std::future_status::ready) return -1;
    return status.get();
  }
};

TEST_F(AgentTest, PtySizeResizeTypingAndExit) {
  ExecRequest request;
  request.argv = {"sh"};
  request.pty = true;
  request.rows = 30;
  request.cols = 100;
  Interactive session(connect(), request, [](ExecChannel& channel, char c) {
    if (c == 'r') channel.resize(40, 120);
  });
  session.type("stty size; tty\n");
  EXPECT_TRUE(session.expect("30 100")) << session.seen;
  EXPECT_TRUE(session.expect("/dev/pts/")) << session.seen;
  session.command('r');
  session.type("stty size\n");
  EXPECT_TRUE(session.expect("40 120")) << session.seen;
  session.type("echo typed-$((6*7))\n");
  EXPECT_TRUE(session.expect("typed-42")) << session.seen;
  session.type("exit 5\n");
  EXPECT_EQ(session.wait(), 5);
}

TEST_F(AgentTest, PtyCtrlCInterruptsSleep) {
  ExecRequest request;
  request.argv = {"sleep", "100"};
  request.pty = true;
  Interactive session(connect(), request, [](ExecChannel&, char) {});
  session.type("\x03");
  EXPECT_EQ(session.wait(), 128 + SIGINT);
}

TEST_F(AgentTest, PtyEndOfInputEndsARead) {
  ExecRequest request;
  request.argv = {"sh", "-c", "cat; echo after-eof"};
  request.pty = true;
  Interactive session(connect(), request, [](ExecChannel&, char) {});
  session.type("line\n");
  EXPECT_TRUE(session.expect("line"));
  session.in[1].reset();
  EXPECT_TRUE(session.expect("after-eof")) << session.seen;
  EXPECT_EQ(session.wait(), 0);
}

TEST_F(AgentTest, SignalWithoutPty) {
  ExecRequest request;
  request.argv = {"sh", "-c",
                  "trap 'echo got-term; exit 3' TERM; echo ready; while :; do sleep 0.05; done"};
  Interactive session(connect(), request, [](ExecChannel& channel, char c) {
    if (c == 't') channel.signal(SIGTERM);
    if (c == 'k') channel.signal(SIGKILL);
  });
  EXPECT_TRUE(session.expect("ready"));
  session.command('t');
  EXPECT_TRUE(session.expect("got-term")) << session.seen;
  EXPECT_EQ(session.wait(), 3);

  request.argv = {"sleep", "100"};
  Interactive killed(connect(), request,
                     [](ExecChannel& channel, char) { channel.signal(SIGKILL); });
  killed.command('k');
  EXPECT_EQ(killed.wait(), 128 + SIGKILL);
}

TEST_F(AgentTest, TenExecsAtOnce) {
  std::vector<std::future<Result>> runs;
  runs.reserve(10);
  for (int i = 0; i < 10; ++i) {
    runs.push_back(std::async(std::launch::async, [i] {
      ExecRequest request;
      request.argv = {"sh", "-c", "sleep 0.2; echo out-$1; exit $1", "sh", std::to_string(i)};
      return run(request);
    }));
  }
  for (int i = 0; i < 10; ++i) {
    const auto result = runs[static_cast<size_t>(i)].get();
    EXPECT_EQ(result.status, i);
    EXPECT_EQ(result.out, "out-" + std::to_string(i) + "\n");
  }
}

TEST_F(AgentTest, BackgroundChildHoldingOutputDoesNotHang) {
  const auto start = std::chrono::steady_clock::now();
  const auto result = run({"sh", "-c", "sleep 10 & echo done"});
  EXPECT_EQ(result.status, 0);
  EXPECT_EQ(result.out, "done\n");
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
}

TEST_F(AgentTest, HostDisconnectKillsTheCommand) {
  UniqueFd stream = connect_unix(socket_);
  FrameDecoder decoder;
  ASSERT_EQ(read_frame(stream.get(), decoder, std::chrono::steady_clock::now() + 5s)->type,
            FrameType::kHello);
  ExecRequest request;
  request.argv = {"sh", "-c", "echo $$; exec sleep 100"};
  send_frame(stream.get(), FrameType::kExec, encode_exec(request));
  const auto frame = read_frame(stream.get(), decoder, std::chrono::steady_clock::now() + 5s);
  ASSERT_TRUE(frame && frame->type == FrameType::kStdout);
  const pid_t pid = std::stoi(std::string(frame->text()));
  ASSERT_EQ(::kill(pid, 0), 0);
  stream.reset();
  bool gone = false;
  for (int i = 0; i < 200 && !gone; ++i) {
    gone = ::kill(pid, 0) != 0 && errno == ESRCH;
    if (!gone) std::this_thread::sleep_for(25ms);
  }
  EXPECT_TRUE(gone) << "sleep " << pid << " outlived the connection";
}

TEST_F(AgentTest, ProtocolErrorsAreReportedNotFatal) {
  const auto expect_error = [](const std::vector<uint8_t>& bytes, const std::string& needle) {
    UniqueFd stream = connect_unix(socket_);
    FrameDecoder decoder;
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    ASSERT_EQ(read_frame(stream.get(), decoder, deadline)->type, FrameType::kHello);
    write_all(stream.get(), bytes);
    const auto frame = read_frame(stream.get(), decoder, deadline);
    ASSERT_TRUE(frame.has_value());
    ASSERT_EQ(frame->type, FrameType::kError);
    EXPECT_NE(parse_error(*frame).message.find(needle), std::string::npos)
        << parse_error(*frame).message;
  };
  expect_error({0, 0, 0, 0, 0x7e}, "unknown frame type 126");
  expect_error({0xff, 0xff, 0xff, 0xff, 0x10}, "over the limit");
  expect_error(encode_frame(FrameType::kStdin, std::vector<uint8_t>{1}), "expected a request");
  std::vector<uint8_t> bad_exec;
  encode_frame(FrameType::kExec, std::string_view(R"({"argv":[]})"), bad_exec);
  expect_error(bad_exec, "argv");
  // And the agent serves the next connection as before.
  EXPECT_EQ(run({"true"}).status, 0);
}

std::vector<uint8_t> bytes(std::string_view text) { return {text.begin(), text.end()}; }

TEST_F(AgentTest, PushPullDeleteFile) {
  const std::string path = (dir_ / "pushed").string();
  FileInfo info;
  info.mode = 0640;
  info.uid = 1000;
  info.gid = 1001;
  std::vector<uint8_t> content(3 * kDataChunk + 17);
  for (size_t i = 0; i < content.size(); ++i) content[i] = static_cast<uint8_t>(i * 7);
  connect().push_file(path, info, content);

  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0640U);
  EXPECT_EQ(st.st_uid, 1000U);
  EXPECT_EQ(st.st_gid, 1001U);

  std::vector<uint8_t> pulled;
  const auto pulled_info = connect().pull_file(path, pulled, content.size());
  EXPECT_EQ(pulled, content);
  EXPECT_EQ(pulled_info.type, FileType::kFile);
  EXPECT_EQ(pulled_info.mode, 0640U);
  EXPECT_EQ(pulled_info.uid, 1000U);
  EXPECT_EQ(pulled_info.gid, 1001U);
  EXPECT_THROW((void)connect().pull_file(path, pulled, content.size() - 1), Error);

  // Replacing keeps no stale bytes; an empty file is a file.
  connect().push_file(path, FileInfo{}, {});
  EXPECT_EQ(fs::file_size(path), 0U);
  EXPECT_EQ(fs::status(path).permissions(), fs::perms(0644));

  connect().delete_file(path);
  EXPECT_FALSE(fs::exists(path));
  EXPECT_THROW(connect().delete_file(path), NotFoundError);
}

TEST_F(AgentTest, DirectoriesAndSymlinks) {
  const fs::path directory = dir_ / "tree";
  FileInfo info;
  info.type = FileType::kDirectory;
  info.mode = 0750;
  info.uid = 1000;
  info.gid = 1000;
  connect().push_file(directory.string(), info, {});
  struct stat st {};
  ASSERT_EQ(::stat(directory.c_str(), &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0750U);
  EXPECT_EQ(st.st_uid, 1000U);

  connect().push_file((directory / "b").string(), FileInfo{}, bytes("bee"));
  FileInfo link;
  link.type = FileType::kSymlink;
  link.target = "b";
  connect().push_file((directory / "a").string(), link, {});
  EXPECT_EQ(fs::read_symlink(directory / "a"), "b");

  std::vector<uint8_t> content;
  const auto listing = connect().pull_file(directory.string(), content, 1024);
  EXPECT_EQ(listing.type, FileType::kDirectory);
  EXPECT_EQ(listing.mode, 0750U);
  EXPECT_EQ(listing.entries, (std::vector<std::string>{"a", "b"}));
  EXPECT_TRUE(content.empty());

  const auto symlink = connect().pull_file((directory / "a").string(), content, 1024);
  EXPECT_EQ(symlink.type, FileType::kSymlink);
  EXPECT_EQ(symlink.target, "b");

  // A directory with entries is not deleted; emptied, it is.
  EXPECT_THROW(connect().delete_file(directory.string()), Error);
  connect().delete_file((directory / "a").string());
  connect().delete_file((directory / "b").string());
  connect().delete_file(directory.string());
  EXPECT_FALSE(fs::exists(directory));
}

TEST_F(AgentTest, FileErrors) {
  std::vector<uint8_t> content;
  EXPECT_THROW((void)connect().pull_file((dir_ / "missing").string(), content, 10), NotFoundError);
  EXPECT_THROW(connect().push_file((dir_ / "missing" / "x").string(), FileInfo{}, bytes("x")),
               NotFoundError);
  try {
    connect().push_file("relative/path", FileInfo{}, bytes("x"));
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("not absolute"), std::string::npos) << e.what();
  }
  FileInfo directory;
  directory.type = FileType::kDirectory;
  EXPECT_THROW(connect().push_file((dir_ / "d").string(), directory, bytes("data")), Error);
  // One request per connection.
  auto connection = connect();
  EXPECT_THROW((void)connection.pull_file((dir_ / "missing").string(), content, 10), NotFoundError);
  EXPECT_THROW((void)connection.pull_file((dir_ / "missing").string(), content, 10), StateError);
}

TEST_F(AgentTest, NoTemporaryFilesLeftBehind) {
  connect().push_file((dir_ / "clean").string(), FileInfo{}, bytes("x"));
  EXPECT_THROW(connect().push_file((dir_ / "clean-dir").string(),
                                   FileInfo{FileType::kDirectory, 0755, 0, 0, {}, {}}, bytes("x")),
               Error);
  for (const auto& entry : fs::directory_iterator(dir_)) {
    EXPECT_FALSE(entry.path().filename().string().starts_with(".vmm-agent-")) << entry.path();
  }
}

// A stand-in for a VMM's vsock Unix socket (Firecracker's convention): answers "CONNECT <port>"
// with "OK <hostport>" and relays the stream to the agent's Unix socket; or refuses the port by
// closing, as a VMM does when nothing listens on it in the guest.
class FakeVsockSocket final {
 public:
  FakeVsockSocket(fs::path path, fs::path agent_socket, bool refuse)
      : path_(std::move(path)), agent_socket_(std::move(agent_socket)), refuse_(refuse) {
    listener_.reset(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::strncpy(address.sun_path, path_.c_str(), sizeof address.sun_path - 1);
    EXPECT_EQ(::bind(listener_.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address),
              0);
    EXPECT_EQ(::listen(listener_.get(), 8), 0);
    stop_ = make_pipe();
    thread_ = std::thread([this] { serve(); });
  }
  FakeVsockSocket(const FakeVsockSocket&) = delete;
  FakeVsockSocket& operator=(const FakeVsockSocket&) = delete;
  ~FakeVsockSocket() {
    stop_[1].reset();
    thread_.join();
    ::unlink(path_.c_str());
  }
  [[nodiscard]] std::string last_request() const {
    const std::lock_guard lock(mutex_);
    return last_request_;
  }

 private:
  // Polls `fds` (the stop pipe last); false when asked to stop.
  bool wait(std::vector<pollfd>& fds) {
    fds.push_back({stop_[0].get(), POLLIN, 0});
    while (::poll(fds.data(), fds.size(), -1) < 0) {
    }
    const bool stop = fds.back().revents != 0;
    fds.pop_back();
    return !stop;
  }
  void serve() {
    for (;;) {
      std::vector<pollfd> fds{{listener_.get(), POLLIN, 0}};
      if (!wait(fds)) return;
      UniqueFd client(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
      std::string line;
      char c = 0;
      while (::read(client.get(), &c, 1) == 1 && c != '\n') line.push_back(c);
      {
        const std::lock_guard lock(mutex_);
        last_request_ = line;
      }
      if (refuse_) continue;
      const std::string ok = "OK 1073741824\n";
      if (::write(client.get(), ok.data(), ok.size()) != static_cast<ssize_t>(ok.size())) continue;
      UniqueFd agent = connect_unix(agent_socket_);
      if (!relay(client.get(), agent.get())) return;
    }
  }
  // Copies both ways until either side ends; false when asked to stop.
  bool relay(int a, int b) {
    std::array<char, 65536> buffer{};
    for (;;) {
      std::vector<pollfd> fds{{a, POLLIN, 0}, {b, POLLIN, 0}};
      if (!wait(fds)) return false;
      for (size_t i = 0; i < 2; ++i) {
        if (fds[i].revents == 0) continue;
        const ssize_t n = ::read(fds[i].fd, buffer.data(), buffer.size());
        if (n <= 0) return true;
        write_all(i == 0 ? b : a,
                  {reinterpret_cast<const uint8_t*>(buffer.data()), static_cast<size_t>(n)});
      }
    }
  }

  fs::path path_;
  fs::path agent_socket_;
  bool refuse_;
  UniqueFd listener_;
  std::array<UniqueFd, 2> stop_;
  mutable std::mutex mutex_;
  std::string last_request_;
  std::thread thread_;
};

TEST_F(AgentTest, ThroughAVmmVsockSocket) {
  const fs::path vsock = dir_ / "vsock.sock";
  FakeVsockSocket vmm(vsock, socket_, /*refuse=*/false);
  auto connection = AgentConnection::open(connect_through_vsock(vsock, kAgentPort, 5s), 5s);
  EXPECT_EQ(vmm.last_request(), "CONNECT 1024");
  EXPECT_EQ(connection.info().protocol_version, kProtocolVersion);
  UniqueFd out = expect_ok(::memfd_create("stdout", MFD_CLOEXEC));
  ExecRequest request;
  request.argv = {"echo", "through vsock"};
  EXPECT_EQ(connection.exec(request, {-1, out.get(), -1}), 0);
  EXPECT_EQ(read_all(out.get()), "through vsock\n");
  EXPECT_TRUE(wait_for_agent(vsock, 5s));
}

TEST_F(AgentTest, RefusedOrMissingVsockSocket) {
  const fs::path vsock = dir_ / "refusing.sock";
  {
    FakeVsockSocket vmm(vsock, socket_, /*refuse=*/true);
    try {
      (void)connect_through_vsock(vsock, 52, 5s);
      FAIL() << "no error";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(vsock.string()), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("refused vsock port 52"), std::string::npos) << e.what();
    }
    EXPECT_EQ(vmm.last_request(), "CONNECT 52");
    EXPECT_FALSE(wait_for_agent(vsock, 300ms));
  }
  const fs::path missing = dir_ / "no-such-vm.sock";
  try {
    (void)connect_through_vsock(missing, kAgentPort, 1s);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(missing.string()), std::string::npos) << e.what();
  }
  const auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(wait_for_agent(missing, 300ms));
  EXPECT_GE(std::chrono::steady_clock::now() - start, 300ms);
}

}  // namespace
}  // namespace vmm::agent
