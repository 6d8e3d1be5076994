// The 9P2000.L server against a temporary share: data written through it is on the host and
// reads back equal; walks, symlinks (made by the guest or by the host) and `..` never reach
// outside the share; a read-only share refuses every change; broken or unknown requests and
// too many fids are answered with errors.
#include "vmm/virtio/p9_server.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "support/p9_messages.hpp"
#include "vmm/common/error.hpp"

namespace vmm::virtio::p9 {
namespace {

namespace fs = std::filesystem;
using test::P9Message;
using test::P9Reply;

constexpr uint32_t kRoot = 0;
constexpr uint32_t kLinuxOpenWrOnly = 1;
constexpr uint32_t kLinuxOpenRdWr = 2;
constexpr uint32_t kLinuxOpenDirectory = 0200000;

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class P9ServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "vmm-p9-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    base_ = tmpl;
    share_ = base_ / "share";
    outside_ = base_ / "outside";
    fs::create_directories(share_);
    fs::create_directories(outside_);
    std::ofstream(outside_ / "secret") << "host secret";
  }
  void TearDown() override { fs::remove_all(base_); }

  void start(bool read_only = false) {
    server_ = std::make_unique<Server>(share_, read_only);
    P9Reply v = call(P9Message(kTversion, kNoTag).u32(256 * 1024).str("9P2000.L"));
    ASSERT_EQ(v.type, kRversion);
    ASSERT_EQ(v.u32(), 256U * 1024);
    ASSERT_EQ(v.str(), "9P2000.L");
    P9Reply a = call(P9Message(kTattach, 1).u32(kRoot).u32(kNoFid).str("root").str("").u32(0));
    ASSERT_EQ(a.type, kRattach);
    root_qid_ = a.qid();
  }

  P9Reply call(const P9Message& m, uint32_t limit = kMaxMsize) {
    std::vector<uint8_t> reply;
    server_->handle(m.done(), limit, reply);
    return P9Reply(reply);
  }

  P9Reply walk(uint32_t fid, uint32_t newfid, const std::vector<std::string>& names) {
    P9Message m(kTwalk, 2);
    m.u32(fid).u32(newfid).u16(static_cast<uint16_t>(names.size()));
    for (const auto& n : names) m.str(n);
    return call(m);
  }

  // Whether a walk reply walked all `n` names (a partial walk is a failed one).
  static bool walk_reaches(P9Reply r, uint16_t n) { return r.type == kRwalk && r.u16() == n; }

  P9Reply lopen(uint32_t fid, uint32_t flags) {
    return call(P9Message(kTlopen, 3).u32(fid).u32(flags));
  }

  std::string read_all(uint32_t fid) {
    std::string out;
    for (;;) {
      P9Reply r = call(P9Message(kTread, 4).u32(fid).u64(out.size()).u32(100000));
      EXPECT_EQ(r.type, kRread) << r.error();
      if (r.type != kRread) return out;
      const uint32_t n = r.u32();
      if (n == 0) return out;
      const auto bytes = r.bytes(n);
      out.append(bytes.begin(), bytes.end());
    }
  }

  fs::path base_, share_, outside_;
  std::unique_ptr<Server> server_;
  Qid root_qid_;
};

TEST_F(P9ServerTest, MissingOrNonDirectoryRootIsAConfigError) {
  EXPECT_THROW(Server(base_ / "nope", false), ConfigError);
  EXPECT_THROW(Server(outside_ / "secret", false), ConfigError);
}

TEST_F(P9ServerTest, VersionClampsMsizeAndRefusesOtherDialects) {
  server_ = std::make_unique<Server>(share_, false);
  P9Reply big = call(P9Message(kTversion, kNoTag).u32(64U << 20).str("9P2000.L"));
  EXPECT_EQ(big.u32(), kMaxMsize);
  P9Reply other = call(P9Message(kTversion, kNoTag).u32(8192).str("9P2000.u"));
  other.u32();
  EXPECT_EQ(other.str(), "unknown");
}

TEST_F(P9ServerTest, WriteThenReadRoundTripMatchesTheHost) {
  start();
  ASSERT_EQ(walk(kRoot, 10, {}).type, kRwalk);
  P9Reply c =
      call(P9Message(kTlcreate, 5).u32(10).str("data.bin").u32(kLinuxOpenRdWr).u32(0644).u32(0));
  ASSERT_EQ(c.type, kRlcreate) << c.error();
  std::vector<uint8_t> payload(300000);
  for (size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<uint8_t>(i * 7 + 3);
  // In pieces no larger than what fits a 256 KiB message.
  for (size_t off = 0; off < payload.size();) {
    const size_t n = std::min<size_t>(100000, payload.size() - off);
    P9Reply w = call(P9Message(kTwrite, 6)
                         .u32(10)
                         .u64(off)
                         .u32(static_cast<uint32_t>(n))
                         .raw(std::span<const uint8_t>(payload).subspan(off, n)));
    ASSERT_EQ(w.type, kRwrite) << w.error();
    ASSERT_EQ(w.u32(), n);
    off += n;
  }
  ASSERT_EQ(call(P9Message(kTclunk, 7).u32(10)).type, kRclunk);

  const std::string host = read_file(share_ / "data.bin");
  ASSERT_EQ(host.size(), payload.size());
  EXPECT_TRUE(std::equal(payload.begin(), payload.end(), host.begin(),
                         [](uint8_t a, char b) { return a == static_cast<uint8_t>(b); }));

  std::ofstream(share_ / "from-host.txt") << "written on the host";
  ASSERT_EQ(walk(kRoot, 11, {"from-host.txt"}).type, kRwalk);
  ASSERT_EQ(lopen(11, 0).type, kRlopen);
  EXPECT_EQ(read_all(11), "written on the host");

  P9Reply g = call(P9Message(kTgetattr, 8).u32(11).u64(0x7ff));
  ASSERT_EQ(g.type, kRgetattr);
  g.u64();
  EXPECT_EQ(g.qid().type, kQidFile);
  const uint32_t mode = g.u32();
  EXPECT_TRUE(S_ISREG(mode));
  g.u32();
  g.u32();
  g.u64();
  g.u64();
  EXPECT_EQ(g.u64(), std::string("written on the host").size());
}

TEST_F(P9ServerTest, ReadIsBoundedByTheReplyLimit) {
  start();
  std::ofstream(share_ / "big") << std::string(10000, 'x');
  ASSERT_EQ(walk(kRoot, 10, {"big"}).type, kRwalk);
  ASSERT_EQ(lopen(10, 0).type, kRlopen);
  std::vector<uint8_t> reply;
  server_->handle(P9Message(kTread, 4).u32(10).u64(0).u32(10000).done(), 1000, reply);
  ASSERT_EQ(reply.size(), 1000U);
  P9Reply r(reply);
  EXPECT_EQ(r.u32(), 1000U - kIoHeaderSize);
}

TEST_F(P9ServerTest, DirectoriesListRenameAndRemove) {
  start();
  P9Reply m = call(P9Message(kTmkdir, 5).u32(kRoot).str("dir").u32(0755).u32(0));
  ASSERT_EQ(m.type, kRmkdir) << m.error();
  EXPECT_EQ(m.qid().type, kQidDir);
  EXPECT_TRUE(fs::is_directory(share_ / "dir"));
  for (int i = 0; i < 50; ++i) std::ofstream(share_ / "dir" / ("f" + std::to_string(i))) << i;

  ASSERT_EQ(walk(kRoot, 10, {"dir"}).type, kRwalk);
  ASSERT_EQ(lopen(10, kLinuxOpenDirectory).type, kRlopen);
  std::set<std::string> names;
  uint64_t offset = 0;
  for (int round = 0; round < 100; ++round) {
    // A small count forces several Treaddir rounds that resume at the last offset.
    P9Reply r = call(P9Message(kTreaddir, 6).u32(10).u64(offset).u32(200));
    ASSERT_EQ(r.type, kRreaddir) << r.error();
    uint32_t count = r.u32();
    if (count == 0) break;
    while (count > 0) {
      r.qid();
      offset = r.u64();
      r.u8();
      const std::string name = r.str();
      names.insert(name);
      count -= static_cast<uint32_t>(kQidSize + 8 + 1 + 2 + name.size());
    }
  }
  EXPECT_EQ(names.size(), 52U);  // 50 files, "." and ".."
  EXPECT_TRUE(names.contains("f49"));

  ASSERT_EQ(walk(kRoot, 11, {"dir", "f1"}).type, kRwalk);
  P9Reply rn = call(P9Message(kTrenameat, 7).u32(kRoot).str("dir").u32(kRoot).str("moved"));
  ASSERT_EQ(rn.type, kRrenameat) << rn.error();
  EXPECT_TRUE(fs::exists(share_ / "moved" / "f1"));
  // fid 11 followed the rename.
  ASSERT_EQ(lopen(11, 0).type, kRlopen);
  EXPECT_EQ(read_all(11), "1");

  ASSERT_EQ(walk(kRoot, 12, {"moved"}).type, kRwalk);
  P9Reply u = call(P9Message(kTunlinkat, 8).u32(12).str("f2").u32(0));
  ASSERT_EQ(u.type, kRunlinkat) << u.error();
  EXPECT_FALSE(fs::exists(share_ / "moved" / "f2"));
}

TEST_F(P9ServerTest, DotDotStopsAtTheShareRoot) {
  start();
  P9Reply up = walk(kRoot, 10, {"..", ".."});
  ASSERT_EQ(up.type, kRwalk);
  ASSERT_EQ(up.u16(), 2);
  EXPECT_EQ(up.qid(), root_qid_);
  EXPECT_EQ(up.qid(), root_qid_);
  P9Reply out = walk(kRoot, 11, {"..", "outside", "secret"});
  // `..` stays at the root, where no "outside" exists: the walk stops after one step.
  ASSERT_EQ(out.type, kRwalk);
  EXPECT_EQ(out.u16(), 1);
  P9Reply gone = walk(10, 12, {"outside"});
  EXPECT_EQ(gone.error(), static_cast<uint32_t>(ENOENT));
}

TEST_F(P9ServerTest, HostSymlinksPointingOutsideAreNeverFollowed) {
  fs::create_directory_symlink(outside_, share_ / "link-dir");
  fs::create_symlink(outside_ / "secret", share_ / "link-file");
  fs::create_symlink("/etc/passwd", share_ / "passwd");
  fs::create_directory_symlink("../outside", share_ / "relative");
  start();

  // The link itself can be looked at (the guest reads it and resolves it on its side)...
  P9Reply l = walk(kRoot, 10, {"link-file"});
  ASSERT_EQ(l.type, kRwalk);
  ASSERT_EQ(l.u16(), 1);
  EXPECT_EQ(l.qid().type, kQidSymlink);
  P9Reply target = call(P9Message(kTreadlink, 3).u32(10));
  ASSERT_EQ(target.type, kRreadlink);
  EXPECT_EQ(target.str(), (outside_ / "secret").string());
  // ...but never opened through, nor walked through.
  EXPECT_EQ(lopen(10, 0).error(), static_cast<uint32_t>(ELOOP));
  ASSERT_EQ(walk(kRoot, 11, {"passwd"}).type, kRwalk);
  EXPECT_EQ(lopen(11, 0).error(), static_cast<uint32_t>(ELOOP));
  EXPECT_FALSE(walk_reaches(walk(kRoot, 12, {"link-dir", "secret"}), 2));
  EXPECT_FALSE(walk_reaches(walk(kRoot, 12, {"relative", "secret"}), 2));
  EXPECT_EQ(server_->fid_count(), 3U);  // kRoot, 10, 11: the failed walks made no fid

  // Creating through a symlinked directory fails and leaves the outside untouched.
  ASSERT_EQ(walk(kRoot, 13, {"link-dir"}).type, kRwalk);
  EXPECT_EQ(call(P9Message(kTlcreate, 4).u32(13).str("planted").u32(1).u32(0644).u32(0)).type,
            kRlerror);
  EXPECT_EQ(call(P9Message(kTmkdir, 4).u32(13).str("planted").u32(0755).u32(0)).type, kRlerror);
  EXPECT_EQ(call(P9Message(kTunlinkat, 4).u32(13).str("secret").u32(0)).type, kRlerror);
  EXPECT_EQ(call(P9Message(kTsetattr, 4)
                     .u32(10)
                     .u32(0x8)
                     .u32(0)
                     .u32(0)
                     .u32(0)
                     .u64(0)
                     .u64(0)
                     .u64(0)
                     .u64(0)
                     .u64(0))
                .type,
            kRlerror);
  EXPECT_FALSE(fs::exists(outside_ / "planted"));
  EXPECT_EQ(read_file(outside_ / "secret"), "host secret");
}

TEST_F(P9ServerTest, GuestSymlinksAreStoredButNotFollowed) {
  start();
  P9Reply s = call(P9Message(kTsymlink, 5).u32(kRoot).str("etc").str("/etc").u32(0));
  ASSERT_EQ(s.type, kRsymlink) << s.error();
  EXPECT_EQ(fs::read_symlink(share_ / "etc"), "/etc");
  EXPECT_FALSE(walk_reaches(walk(kRoot, 10, {"etc", "passwd"}), 2));
  ASSERT_EQ(call(P9Message(kTsymlink, 5).u32(kRoot).str("up").str("..").u32(0)).type, kRsymlink);
  EXPECT_FALSE(walk_reaches(walk(kRoot, 11, {"up", "outside"}), 2));
}

TEST_F(P9ServerTest, NamesWithSlashesOrDotsAreRefused) {
  start();
  EXPECT_EQ(walk(kRoot, 10, {"../outside"}).error(), static_cast<uint32_t>(EINVAL));
  EXPECT_EQ(walk(kRoot, 10, {"/etc"}).error(), static_cast<uint32_t>(EINVAL));
  EXPECT_EQ(call(P9Message(kTmkdir, 4).u32(kRoot).str("..").u32(0755).u32(0)).error(),
            static_cast<uint32_t>(EINVAL));
  EXPECT_EQ(call(P9Message(kTlcreate, 4).u32(kRoot).str("a/b").u32(1).u32(0644).u32(0)).error(),
            static_cast<uint32_t>(EINVAL));
  EXPECT_EQ(call(P9Message(kTrenameat, 4).u32(kRoot).str("x").u32(kRoot).str("../x")).error(),
            static_cast<uint32_t>(EINVAL));
}

TEST_F(P9ServerTest, ReadOnlyShareRefusesEveryChange) {
  std::ofstream(share_ / "file") << "original";
  fs::create_directory(share_ / "dir");
  start(/*read_only=*/true);
  const auto erofs = static_cast<uint32_t>(EROFS);
  ASSERT_EQ(walk(kRoot, 10, {"file"}).type, kRwalk);
  EXPECT_EQ(lopen(10, kLinuxOpenWrOnly).error(), erofs);
  EXPECT_EQ(lopen(10, kLinuxOpenRdWr).error(), erofs);
  EXPECT_EQ(lopen(10, 01000 /*O_TRUNC*/).error(), erofs);
  EXPECT_EQ(call(P9Message(kTlcreate, 4).u32(kRoot).str("new").u32(1).u32(0644).u32(0)).error(),
            erofs);
  EXPECT_EQ(call(P9Message(kTmkdir, 4).u32(kRoot).str("new").u32(0755).u32(0)).error(), erofs);
  EXPECT_EQ(call(P9Message(kTsymlink, 4).u32(kRoot).str("new").str("x").u32(0)).error(), erofs);
  EXPECT_EQ(
      call(P9Message(kTmknod, 4).u32(kRoot).str("new").u32(S_IFIFO | 0644).u32(0).u32(0).u32(0))
          .error(),
      erofs);
  EXPECT_EQ(call(P9Message(kTunlinkat, 4).u32(kRoot).str("file").u32(0)).error(), erofs);
  EXPECT_EQ(call(P9Message(kTrenameat, 4).u32(kRoot).str("file").u32(kRoot).str("x")).error(),
            erofs);
  EXPECT_EQ(call(P9Message(kTsetattr, 4)
                     .u32(10)
                     .u32(0x8)
                     .u32(0)
                     .u32(0)
                     .u32(0)
                     .u64(0)
                     .u64(0)
                     .u64(0)
                     .u64(0)
                     .u64(0))
                .error(),
            erofs);
  EXPECT_EQ(call(P9Message(kTsetattr, 4)
                     .u32(10)
                     .u32(0x1)
                     .u32(0777)
                     .u32(0)
                     .u32(0)
                     .u64(0)
                     .u64(0)
                     .u64(0)
                     .u64(0)
                     .u64(0))
                .error(),
            erofs);
  ASSERT_EQ(walk(kRoot, 11, {"file"}).type, kRwalk);
  EXPECT_EQ(call(P9Message(kTremove, 4).u32(11)).error(), erofs);
  // Reading still works.
  ASSERT_EQ(lopen(10, 0).type, kRlopen);
  EXPECT_EQ(read_all(10), "original");
  const uint8_t b[] = {'x'};
  EXPECT_NE(call(P9Message(kTwrite, 5).u32(10).u64(0).u32(1).raw(b)).type, kRwrite);
  EXPECT_EQ(read_file(share_ / "file"), "original");
  EXPECT_FALSE(fs::exists(share_ / "new"));
}

TEST_F(P9ServerTest, DeviceNodesAndSetIdBitsAreRefused) {
  start();
  EXPECT_EQ(
      call(P9Message(kTmknod, 4).u32(kRoot).str("sda").u32(S_IFBLK | 0600).u32(8).u32(0).u32(0))
          .error(),
      static_cast<uint32_t>(EPERM));
  EXPECT_EQ(
      call(P9Message(kTmknod, 4).u32(kRoot).str("fifo").u32(S_IFIFO | 0600).u32(0).u32(0).u32(0))
          .type,
      kRmknod);
  ASSERT_EQ(walk(kRoot, 30, {}).type, kRwalk);  // Tlcreate turns the fid into the new file
  ASSERT_EQ(call(P9Message(kTlcreate, 4).u32(30).str("suid").u32(1).u32(04755).u32(0)).type,
            kRlcreate);
  struct stat st {};
  ASSERT_EQ(::stat((share_ / "suid").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 06000, 0U);
  ASSERT_EQ(walk(kRoot, 10, {"suid"}).type, kRwalk);
  ASSERT_EQ(call(P9Message(kTsetattr, 4)
                     .u32(10)
                     .u32(0x1)
                     .u32(06755)
                     .u32(0)
                     .u32(0)
                     .u64(0)
                     .u64(0)
                     .u64(0)
                     .u64(0)
                     .u64(0))
                .type,
            kRsetattr);
  ASSERT_EQ(::stat((share_ / "suid").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0755U);
}

TEST_F(P9ServerTest, SetattrTruncatesAndUnknownFidsFail) {
  std::ofstream(share_ / "file") << "0123456789";
  start();
  ASSERT_EQ(walk(kRoot, 10, {"file"}).type, kRwalk);
  P9Reply s = call(P9Message(kTsetattr, 4)
                       .u32(10)
                       .u32(0x8)
                       .u32(0)
                       .u32(0)
                       .u32(0)
                       .u64(4)
                       .u64(0)
                       .u64(0)
                       .u64(0)
                       .u64(0));
  ASSERT_EQ(s.type, kRsetattr) << s.error();
  EXPECT_EQ(read_file(share_ / "file"), "0123");
  EXPECT_EQ(call(P9Message(kTclunk, 4).u32(999)).error(), static_cast<uint32_t>(EBADF));
  EXPECT_EQ(lopen(999, 0).error(), static_cast<uint32_t>(EBADF));
  EXPECT_EQ(walk(kRoot, kRoot + 10, {}).error(), static_cast<uint32_t>(EBADF));  // in use
}

TEST_F(P9ServerTest, FidTableIsBounded) {
  start();
  uint32_t made = 1;  // the root
  for (uint32_t fid = 1; fid < kMaxFids + 10; ++fid) {
    P9Reply r = walk(kRoot, fid, {});
    if (r.type != kRwalk) {
      EXPECT_EQ(r.error(), static_cast<uint32_t>(EMFILE));
      break;
    }
    ++made;
  }
  EXPECT_EQ(made, kMaxFids);
  EXPECT_EQ(server_->fid_count(), kMaxFids);
  // A new session forgets them all.
  call(P9Message(kTversion, kNoTag).u32(8192).str("9P2000.L"));
  EXPECT_EQ(server_->fid_count(), 0U);
}

TEST_F(P9ServerTest, BrokenAndUnknownMessagesGetRlerror) {
  start();
  P9Reply unknown = call(P9Message(99, 77).u32(1));
  EXPECT_EQ(unknown.tag, 77);
  EXPECT_EQ(unknown.error(), static_cast<uint32_t>(EOPNOTSUPP));
  P9Reply bad = call(P9Message(kTwalk, 78).u32(0).u32(1).u16(40));
  EXPECT_EQ(bad.tag, 78);
  EXPECT_EQ(bad.error(), static_cast<uint32_t>(EPROTO));
  std::vector<uint8_t> reply;
  server_->handle(std::vector<uint8_t>{1, 2, 3}, kMaxMsize, reply);
  EXPECT_TRUE(reply.empty());  // no header, no tag to answer
  EXPECT_EQ(call(P9Message(kTauth, 79).u32(5).str("u").str("").u32(0)).error(),
            static_cast<uint32_t>(EOPNOTSUPP));
}

TEST_F(P9ServerTest, XattrsAreEmptyAndStatfsAnswers) {
  start();
  P9Reply x = call(P9Message(kTxattrwalk, 4).u32(kRoot).u32(20).str(""));
  ASSERT_EQ(x.type, kRxattrwalk);
  EXPECT_EQ(x.u64(), 0U);
  EXPECT_EQ(call(P9Message(kTxattrwalk, 4).u32(kRoot).u32(21).str("security.capability")).error(),
            static_cast<uint32_t>(ENODATA));
  P9Reply st = call(P9Message(kTstatfs, 4).u32(kRoot));
  ASSERT_EQ(st.type, kRstatfs);
  st.u32();
  EXPECT_GT(st.u32(), 0U);  // block size
}

}  // namespace
}  // namespace vmm::virtio::p9
