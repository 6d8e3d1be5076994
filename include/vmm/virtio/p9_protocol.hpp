#pragma once
// The 9P2000.L wire format (the dialect of the Linux v9fs client): requests parsed from the
// bytes a guest put in a virtqueue, replies built into a bounded buffer. Every message is
// size[4] type[1] tag[2] and a body of little-endian integers, strings (len[2] + bytes) and
// qids (type[1] version[4] path[8]).
//
// The parser trusts nothing: each field is read through a cursor that refuses to run past the
// message, strings and walk element counts have fixed upper bounds, and a message whose size
// field disagrees with its bytes, whose body is short or long, or whose type is unknown gives
// an error, never a read out of bounds.
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace vmm::virtio::p9 {

// Message types (9P2000.L; 9P2000 numbers for version/attach/walk/... which .L keeps).
enum MessageType : uint8_t {
  kTlerror = 6,
  kRlerror = 7,
  kTstatfs = 8,
  kRstatfs = 9,
  kTlopen = 12,
  kRlopen = 13,
  kTlcreate = 14,
  kRlcreate = 15,
  kTsymlink = 16,
  kRsymlink = 17,
  kTmknod = 18,
  kRmknod = 19,
  kTrename = 20,
  kRrename = 21,
  kTreadlink = 22,
  kRreadlink = 23,
  kTgetattr = 24,
  kRgetattr = 25,
  kTsetattr = 26,
  kRsetattr = 27,
  kTxattrwalk = 30,
  kRxattrwalk = 31,
  kTxattrcreate = 32,
  kRxattrcreate = 33,
  kTreaddir = 40,
  kRreaddir = 41,
  kTfsync = 50,
  kRfsync = 51,
  kTlock = 52,
  kRlock = 53,
  kTgetlock = 54,
  kRgetlock = 55,
  kTlink = 70,
  kRlink = 71,
  kTmkdir = 72,
  kRmkdir = 73,
  kTrenameat = 74,
  kRrenameat = 75,
  kTunlinkat = 76,
  kRunlinkat = 77,
  kTversion = 100,
  kRversion = 101,
  kTauth = 102,
  kRauth = 103,
  kTattach = 104,
  kRattach = 105,
  kTflush = 108,
  kRflush = 109,
  kTwalk = 110,
  kRwalk = 111,
  kTread = 116,
  kRread = 117,
  kTwrite = 118,
  kRwrite = 119,
  kTclunk = 120,
  kRclunk = 121,
  kTremove = 122,
  kRremove = 123,
};

inline constexpr uint32_t kHeaderSize = 7;  // size[4] type[1] tag[2]
// The largest message either side may send: Linux's virtio transport moves at most 128 pages
// per request, and a cap keeps one request's host buffer small.
inline constexpr uint32_t kMaxMsize = 512 * 1024;
// Smaller than this cannot carry a useful Rgetattr plus a path element.
inline constexpr uint32_t kMinMsize = 4096;
// Twalk carries at most 16 names (MAXWELEM in the 9P specification).
inline constexpr uint16_t kMaxWalkElements = 16;
// A single path element or xattr name; Linux limits names to 255 bytes, symlink targets to
// PATH_MAX.
inline constexpr size_t kMaxNameLength = 255;
inline constexpr size_t kMaxPathLength = 4096;
inline constexpr uint32_t kNoFid = 0xffffffffU;
inline constexpr uint16_t kNoTag = 0xffff;
// Rread/Rreaddir: size[4] type[1] tag[2] count[4] before the data.
inline constexpr uint32_t kIoHeaderSize = kHeaderSize + 4;
inline constexpr std::string_view kVersion9p2000L = "9P2000.L";

// qid.type bits.
inline constexpr uint8_t kQidDir = 0x80;
inline constexpr uint8_t kQidSymlink = 0x02;
inline constexpr uint8_t kQidFile = 0x00;

struct Qid {
  uint8_t type = 0;
  uint32_t version = 0;
  uint64_t path = 0;
  friend bool operator==(const Qid&, const Qid&) = default;
};
inline constexpr uint32_t kQidSize = 13;

// Request bodies. Strings are views into the message buffer: valid while it is.
struct Tversion {
  uint32_t msize;
  std::string_view version;
};
struct Tauth {
  uint32_t afid;
};
struct Tattach {
  uint32_t fid;
  uint32_t afid;
  std::string_view uname;
  std::string_view aname;
  uint32_t n_uname;
};
struct Tflush {
  uint16_t oldtag;
};
struct Twalk {
  uint32_t fid;
  uint32_t newfid;
  std::vector<std::string_view> names;  // at most kMaxWalkElements
};
struct Tread {
  uint32_t fid;
  uint64_t offset;
  uint32_t count;
};
struct Twrite {
  uint32_t fid;
  uint64_t offset;
  std::span<const uint8_t> data;
};
struct Tclunk {
  uint32_t fid;
};
struct Tremove {
  uint32_t fid;
};
struct Tstatfs {
  uint32_t fid;
};
struct Tlopen {
  uint32_t fid;
  uint32_t flags;
};
struct Tlcreate {
  uint32_t fid;
  std::string_view name;
  uint32_t flags;
  uint32_t mode;
  uint32_t gid;
};
struct Tsymlink {
  uint32_t fid;
  std::string_view name;
  std::string_view target;
  uint32_t gid;
};
struct Tmknod {
  uint32_t dfid;
  std::string_view name;
  uint32_t mode;
  uint32_t major;
  uint32_t minor;
  uint32_t gid;
};
struct Trename {
  uint32_t fid;
  uint32_t dfid;
  std::string_view name;
};
struct Treadlink {
  uint32_t fid;
};
struct Tgetattr {
  uint32_t fid;
  uint64_t request_mask;
};
struct Tsetattr {
  uint32_t fid;
  uint32_t valid;
  uint32_t mode;
  uint32_t uid;
  uint32_t gid;
  uint64_t size;
  uint64_t atime_sec;
  uint64_t atime_nsec;
  uint64_t mtime_sec;
  uint64_t mtime_nsec;
};
struct Txattrwalk {
  uint32_t fid;
  uint32_t newfid;
  std::string_view name;
};
struct Txattrcreate {
  uint32_t fid;
  std::string_view name;
  uint64_t attr_size;
  uint32_t flags;
};
struct Treaddir {
  uint32_t fid;
  uint64_t offset;
  uint32_t count;
};
struct Tfsync {
  uint32_t fid;
  uint32_t datasync;  // absent in older clients: 0
};
struct Tlock {
  uint32_t fid;
  uint8_t type;
  uint32_t flags;
  uint64_t start;
  uint64_t length;
  uint32_t proc_id;
  std::string_view client_id;
};
struct Tgetlock {
  uint32_t fid;
  uint8_t type;
  uint64_t start;
  uint64_t length;
  uint32_t proc_id;
  std::string_view client_id;
};
struct Tlink {
  uint32_t dfid;
  uint32_t fid;
  std::string_view name;
};
struct Tmkdir {
  uint32_t dfid;
  std::string_view name;
  uint32_t mode;
  uint32_t gid;
};
struct Trenameat {
  uint32_t olddirfid;
  std::string_view oldname;
  uint32_t newdirfid;
  std::string_view newname;
};
struct Tunlinkat {
  uint32_t dirfid;
  std::string_view name;
  uint32_t flags;
};

using RequestBody = std::variant<Tversion, Tauth, Tattach, Tflush, Twalk, Tread, Twrite, Tclunk,
                                 Tremove, Tstatfs, Tlopen, Tlcreate, Tsymlink, Tmknod, Trename,
                                 Treadlink, Tgetattr, Tsetattr, Txattrwalk, Txattrcreate, Treaddir,
                                 Tfsync, Tlock, Tgetlock, Tlink, Tmkdir, Trenameat, Tunlinkat>;

struct Request {
  uint8_t type = 0;
  uint16_t tag = kNoTag;
  RequestBody body;
};

// Why a message could not be parsed. With kUnknownType and kMalformed the header was read, so
// the server can still answer the tag with Rlerror; kTruncated has no usable header.
enum class ParseError : uint8_t { kTruncated, kUnknownType, kMalformed };

struct ParseResult {
  std::optional<Request> request;
  ParseError error = ParseError::kMalformed;
  uint16_t tag = kNoTag;  // the header's tag when it could be read
};

// Parses one message that must fill `message` exactly (its size field equal to the span's
// length) and be no larger than `msize`.
[[nodiscard]] ParseResult parse_request(std::span<const uint8_t> message, uint32_t msize);

// Builds one reply in a buffer no larger than `limit` bytes. Appending past the limit marks
// the writer overflowed (nothing more is written); finish() then reports failure so the caller
// answers with Rlerror instead.
class ReplyWriter final {
 public:
  ReplyWriter(std::vector<uint8_t>& out, uint32_t limit, uint8_t type, uint16_t tag);

  void u8(uint8_t v) { append(&v, 1); }
  void u16(uint16_t v);
  void u32(uint32_t v);
  void u64(uint64_t v);
  void str(std::string_view s);  // s.size() <= 65535
  void qid(const Qid& q);
  void bytes(std::span<const uint8_t> data) { append(data.data(), data.size()); }
  // Room for `n` bytes written in place later (e.g. by read(2)); nullptr on overflow.
  [[nodiscard]] uint8_t* reserve(size_t n);
  // Gives back the end of the last reserve() that was not used.
  void shrink(size_t unused) noexcept;
  [[nodiscard]] size_t size() const noexcept { return out_.size() - start_; }
  [[nodiscard]] size_t room() const noexcept;
  // Patches a u32 written earlier at `offset` from the message start.
  void patch_u32(size_t offset, uint32_t v) noexcept;
  // Writes the size field; false when something did not fit.
  [[nodiscard]] bool finish() noexcept;

 private:
  void append(const void* data, size_t n);

  std::vector<uint8_t>& out_;
  size_t start_;
  uint32_t limit_;
  bool overflow_ = false;
};

// Rlerror with a Linux errno value (always fits: 11 bytes).
void build_rlerror(std::vector<uint8_t>& out, uint16_t tag, uint32_t ecode);

[[nodiscard]] const char* message_name(uint8_t type) noexcept;

}  // namespace vmm::virtio::p9
