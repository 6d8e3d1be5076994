#include "vmm/virtio/p9_protocol.hpp"

#include <cstring>

namespace vmm::virtio::p9 {
namespace {

// A cursor over one message body. Every read checks the bytes left first; after a failed read
// ok() stays false and later reads return zeros, so a parser can read a whole body and check
// once at the end.
class Cursor final {
 public:
  explicit Cursor(std::span<const uint8_t> data) noexcept : data_(data) {}

  uint8_t u8() noexcept { return static_cast<uint8_t>(take(1)); }
  uint16_t u16() noexcept { return static_cast<uint16_t>(take(2)); }
  uint32_t u32() noexcept { return static_cast<uint32_t>(take(4)); }
  uint64_t u64() noexcept { return take(8); }

  // A string of at most `max` bytes, without NUL bytes (no name or path on Linux has one).
  std::string_view str(size_t max) noexcept {
    const uint16_t len = u16();
    if (!ok_ || len > max || len > left()) {
      ok_ = false;
      return {};
    }
    const std::string_view s(reinterpret_cast<const char*>(data_.data() + pos_), len);
    pos_ += len;
    if (s.find('\0') != std::string_view::npos) ok_ = false;
    return s;
  }

  std::span<const uint8_t> bytes(uint32_t n) noexcept {
    if (!ok_ || n > left()) {
      ok_ = false;
      return {};
    }
    auto s = data_.subspan(pos_, n);
    pos_ += n;
    return s;
  }

  [[nodiscard]] size_t left() const noexcept { return data_.size() - pos_; }
  // Every field was present and nothing is left over.
  [[nodiscard]] bool complete() const noexcept { return ok_ && pos_ == data_.size(); }
  [[nodiscard]] bool ok() const noexcept { return ok_; }

 private:
  uint64_t take(size_t n) noexcept {
    if (!ok_ || n > left()) {
      ok_ = false;
      return 0;
    }
    uint64_t v = 0;
    for (size_t i = 0; i < n; ++i) v |= uint64_t{data_[pos_ + i]} << (8 * i);
    pos_ += n;
    return v;
  }

  std::span<const uint8_t> data_;
  size_t pos_ = 0;
  bool ok_ = true;
};

std::optional<RequestBody> parse_body(uint8_t type, Cursor& c) {
  switch (type) {
    case kTversion: {
      Tversion t{};
      t.msize = c.u32();
      t.version = c.str(kMaxNameLength);
      return t;
    }
    case kTauth: {
      Tauth t{};
      t.afid = c.u32();
      (void)c.str(kMaxNameLength);
      (void)c.str(kMaxPathLength);
      (void)c.u32();
      return t;
    }
    case kTattach: {
      Tattach t{};
      t.fid = c.u32();
      t.afid = c.u32();
      t.uname = c.str(kMaxNameLength);
      t.aname = c.str(kMaxPathLength);
      t.n_uname = c.u32();
      return t;
    }
    case kTflush:
      return Tflush{.oldtag = c.u16()};
    case kTwalk: {
      Twalk t{};
      t.fid = c.u32();
      t.newfid = c.u32();
      const uint16_t n = c.u16();
      if (n > kMaxWalkElements) return std::nullopt;
      t.names.reserve(n);
      for (uint16_t i = 0; i < n && c.ok(); ++i) t.names.push_back(c.str(kMaxNameLength));
      return t;
    }
    case kTread: {
      Tread t{};
      t.fid = c.u32();
      t.offset = c.u64();
      t.count = c.u32();
      return t;
    }
    case kTwrite: {
      Twrite t{};
      t.fid = c.u32();
      t.offset = c.u64();
      const uint32_t count = c.u32();
      t.data = c.bytes(count);
      return t;
    }
    case kTclunk:
      return Tclunk{.fid = c.u32()};
    case kTremove:
      return Tremove{.fid = c.u32()};
    case kTstatfs:
      return Tstatfs{.fid = c.u32()};
    case kTlopen: {
      Tlopen t{};
      t.fid = c.u32();
      t.flags = c.u32();
      return t;
    }
    case kTlcreate: {
      Tlcreate t{};
      t.fid = c.u32();
      t.name = c.str(kMaxNameLength);
      t.flags = c.u32();
      t.mode = c.u32();
      t.gid = c.u32();
      return t;
    }
    case kTsymlink: {
      Tsymlink t{};
      t.fid = c.u32();
      t.name = c.str(kMaxNameLength);
      t.target = c.str(kMaxPathLength);
      t.gid = c.u32();
      return t;
    }
    case kTmknod: {
      Tmknod t{};
      t.dfid = c.u32();
      t.name = c.str(kMaxNameLength);
      t.mode = c.u32();
      t.major = c.u32();
      t.minor = c.u32();
      t.gid = c.u32();
      return t;
    }
    case kTrename: {
      Trename t{};
      t.fid = c.u32();
      t.dfid = c.u32();
      t.name = c.str(kMaxNameLength);
      return t;
    }
    case kTreadlink:
      return Treadlink{.fid = c.u32()};
    case kTgetattr: {
      Tgetattr t{};
      t.fid = c.u32();
      t.request_mask = c.u64();
      return t;
    }
    case kTsetattr: {
      Tsetattr t{};
      t.fid = c.u32();
      t.valid = c.u32();
      t.mode = c.u32();
      t.uid = c.u32();
      t.gid = c.u32();
      t.size = c.u64();
      t.atime_sec = c.u64();
      t.atime_nsec = c.u64();
      t.mtime_sec = c.u64();
      t.mtime_nsec = c.u64();
      return t;
    }
    case kTxattrwalk: {
      Txattrwalk t{};
      t.fid = c.u32();
      t.newfid = c.u32();
      t.name = c.str(kMaxNameLength);
      return t;
    }
    case kTxattrcreate: {
      Txattrcreate t{};
      t.fid = c.u32();
      t.name = c.str(kMaxNameLength);
      t.attr_size = c.u64();
      t.flags = c.u32();
      return t;
    }
    case kTreaddir: {
      Treaddir t{};
      t.fid = c.u32();
      t.offset = c.u64();
      t.count = c.u32();
      return t;
    }
    case kTfsync: {
      Tfsync t{};
      t.fid = c.u32();
      // Linux before 5.x sent only the fid; newer clients add datasync[4].
      if (c.left() == 4) t.datasync = c.u32();
      return t;
    }
    case kTlock: {
      Tlock t{};
      t.fid = c.u32();
      t.type = c.u8();
      t.flags = c.u32();
      t.start = c.u64();
      t.length = c.u64();
      t.proc_id = c.u32();
      t.client_id = c.str(kMaxNameLength);
      return t;
    }
    case kTgetlock: {
      Tgetlock t{};
      t.fid = c.u32();
      t.type = c.u8();
      t.start = c.u64();
      t.length = c.u64();
      t.proc_id = c.u32();
      t.client_id = c.str(kMaxNameLength);
      return t;
    }
    case kTlink: {
      Tlink t{};
      t.dfid = c.u32();
      t.fid = c.u32();
      t.name = c.str(kMaxNameLength);
      return t;
    }
    case kTmkdir: {
      Tmkdir t{};
      t.dfid = c.u32();
      t.name = c.str(kMaxNameLength);
      t.mode = c.u32();
      t.gid = c.u32();
      return t;
    }
    case kTrenameat: {
      Trenameat t{};
      t.olddirfid = c.u32();
      t.oldname = c.str(kMaxNameLength);
      t.newdirfid = c.u32();
      t.newname = c.str(kMaxNameLength);
      return t;
    }
    case kTunlinkat: {
      Tunlinkat t{};
      t.dirfid = c.u32();
      t.name = c.str(kMaxNameLength);
      t.flags = c.u32();
      return t;
    }
    default:
      return std::nullopt;
  }
}

bool known_request(uint8_t type) noexcept {
  switch (type) {
    case kTversion:
    case kTauth:
    case kTattach:
    case kTflush:
    case kTwalk:
    case kTread:
    case kTwrite:
    case kTclunk:
    case kTremove:
    case kTstatfs:
    case kTlopen:
    case kTlcreate:
    case kTsymlink:
    case kTmknod:
    case kTrename:
    case kTreadlink:
    case kTgetattr:
    case kTsetattr:
    case kTxattrwalk:
    case kTxattrcreate:
    case kTreaddir:
    case kTfsync:
    case kTlock:
    case kTgetlock:
    case kTlink:
    case kTmkdir:
    case kTrenameat:
    case kTunlinkat:
      return true;
    default:
      return false;
  }
}

}  // namespace

ParseResult parse_request(std::span<const uint8_t> message, uint32_t msize) {
  ParseResult result;
  if (message.size() < kHeaderSize) {
    result.error = ParseError::kTruncated;
    return result;
  }
  Cursor header(message.first(kHeaderSize));
  const uint32_t size = header.u32();
  const uint8_t type = header.u8();
  result.tag = header.u16();
  if (size != message.size()) {
    result.error = ParseError::kTruncated;
    return result;
  }
  if (size > msize || size > kMaxMsize) {
    result.error = ParseError::kMalformed;
    return result;
  }
  if (!known_request(type)) {
    result.error = ParseError::kUnknownType;
    return result;
  }
  Cursor body(message.subspan(kHeaderSize));
  auto parsed = parse_body(type, body);
  if (!parsed || !body.complete()) {
    result.error = ParseError::kMalformed;
    return result;
  }
  result.request = Request{.type = type, .tag = result.tag, .body = std::move(*parsed)};
  return result;
}

ReplyWriter::ReplyWriter(std::vector<uint8_t>& out, uint32_t limit, uint8_t type, uint16_t tag)
    : out_(out), start_(out.size()), limit_(limit) {
  u32(0);  // size, patched by finish()
  u8(type);
  u16(tag);
}

void ReplyWriter::u16(uint16_t v) {
  const uint8_t b[2] = {static_cast<uint8_t>(v), static_cast<uint8_t>(v >> 8)};
  append(b, sizeof b);
}

void ReplyWriter::u32(uint32_t v) {
  uint8_t b[4];
  for (size_t i = 0; i < sizeof b; ++i) b[i] = static_cast<uint8_t>(v >> (8 * i));
  append(b, sizeof b);
}

void ReplyWriter::u64(uint64_t v) {
  uint8_t b[8];
  for (size_t i = 0; i < sizeof b; ++i) b[i] = static_cast<uint8_t>(v >> (8 * i));
  append(b, sizeof b);
}

void ReplyWriter::str(std::string_view s) {
  if (s.size() > 0xffff) {
    overflow_ = true;
    return;
  }
  u16(static_cast<uint16_t>(s.size()));
  append(s.data(), s.size());
}

void ReplyWriter::qid(const Qid& q) {
  u8(q.type);
  u32(q.version);
  u64(q.path);
}

size_t ReplyWriter::room() const noexcept {
  return overflow_ || size() >= limit_ ? 0 : limit_ - size();
}

uint8_t* ReplyWriter::reserve(size_t n) {
  if (overflow_ || n > room()) {
    overflow_ = true;
    return nullptr;
  }
  const size_t at = out_.size();
  out_.resize(at + n);
  return out_.data() + at;
}

void ReplyWriter::shrink(size_t unused) noexcept {
  const size_t keep = size() >= unused ? out_.size() - unused : start_;
  out_.resize(keep);
}

void ReplyWriter::patch_u32(size_t offset, uint32_t v) noexcept {
  if (overflow_ || offset > size() || size() - offset < 4) return;
  for (size_t i = 0; i < 4; ++i) out_[start_ + offset + i] = static_cast<uint8_t>(v >> (8 * i));
}

bool ReplyWriter::finish() noexcept {
  if (overflow_) {
    out_.resize(start_);
    return false;
  }
  patch_u32(0, static_cast<uint32_t>(size()));
  return true;
}

void ReplyWriter::append(const void* data, size_t n) {
  if (overflow_ || n > room()) {
    overflow_ = true;
    return;
  }
  const auto* p = static_cast<const uint8_t*>(data);
  out_.insert(out_.end(), p, p + n);
}

void build_rlerror(std::vector<uint8_t>& out, uint16_t tag, uint32_t ecode) {
  ReplyWriter w(out, kIoHeaderSize, kRlerror, tag);
  w.u32(ecode);
  (void)w.finish();
}

const char* message_name(uint8_t type) noexcept {
  switch (type) {
    case kTversion:
      return "Tversion";
    case kTauth:
      return "Tauth";
    case kTattach:
      return "Tattach";
    case kTflush:
      return "Tflush";
    case kTwalk:
      return "Twalk";
    case kTread:
      return "Tread";
    case kTwrite:
      return "Twrite";
    case kTclunk:
      return "Tclunk";
    case kTremove:
      return "Tremove";
    case kTstatfs:
      return "Tstatfs";
    case kTlopen:
      return "Tlopen";
    case kTlcreate:
      return "Tlcreate";
    case kTsymlink:
      return "Tsymlink";
    case kTmknod:
      return "Tmknod";
    case kTrename:
      return "Trename";
    case kTreadlink:
      return "Treadlink";
    case kTgetattr:
      return "Tgetattr";
    case kTsetattr:
      return "Tsetattr";
    case kTxattrwalk:
      return "Txattrwalk";
    case kTxattrcreate:
      return "Txattrcreate";
    case kTreaddir:
      return "Treaddir";
    case kTfsync:
      return "Tfsync";
    case kTlock:
      return "Tlock";
    case kTgetlock:
      return "Tgetlock";
    case kTlink:
      return "Tlink";
    case kTmkdir:
      return "Tmkdir";
    case kTrenameat:
      return "Trenameat";
    case kTunlinkat:
      return "Tunlinkat";
    default:
      return "unknown";
  }
}

}  // namespace vmm::virtio::p9
