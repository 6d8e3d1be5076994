#pragma once
// Builds 9P2000.L requests as a client would send them, and reads replies field by field, for
// the codec, server and device tests.
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "vmm/virtio/p9_protocol.hpp"

namespace vmm::test {

class P9Message {
 public:
  P9Message(uint8_t type, uint16_t tag) {
    u32(0);
    u8(type);
    u16(tag);
  }
  P9Message& u8(uint8_t v) {
    bytes_.push_back(v);
    return *this;
  }
  P9Message& u16(uint16_t v) { return le(v, 2); }
  P9Message& u32(uint32_t v) { return le(v, 4); }
  P9Message& u64(uint64_t v) { return le(v, 8); }
  P9Message& str(std::string_view s) {
    u16(static_cast<uint16_t>(s.size()));
    bytes_.insert(bytes_.end(), s.begin(), s.end());
    return *this;
  }
  P9Message& raw(std::span<const uint8_t> data) {
    bytes_.insert(bytes_.end(), data.begin(), data.end());
    return *this;
  }
  // The finished message, its size field set.
  [[nodiscard]] std::vector<uint8_t> done() const {
    std::vector<uint8_t> out = bytes_;
    const auto n = static_cast<uint32_t>(out.size());
    for (size_t i = 0; i < 4; ++i) out[i] = static_cast<uint8_t>(n >> (8 * i));
    return out;
  }

 private:
  P9Message& le(uint64_t v, size_t n) {
    for (size_t i = 0; i < n; ++i) bytes_.push_back(static_cast<uint8_t>(v >> (8 * i)));
    return *this;
  }
  std::vector<uint8_t> bytes_;
};

// Reads a reply: header first (size, type, tag), then fields in order.
class P9Reply {
 public:
  explicit P9Reply(std::span<const uint8_t> data) : data_(data.begin(), data.end()) {
    size = u32();
    type = u8();
    tag = u16();
  }
  uint8_t u8() { return static_cast<uint8_t>(take(1)); }
  uint16_t u16() { return static_cast<uint16_t>(take(2)); }
  uint32_t u32() { return static_cast<uint32_t>(take(4)); }
  uint64_t u64() { return take(8); }
  std::string str() {
    const uint16_t n = u16();
    std::string s;
    for (uint16_t i = 0; i < n && pos_ < data_.size(); ++i) s += static_cast<char>(data_[pos_++]);
    return s;
  }
  virtio::p9::Qid qid() {
    virtio::p9::Qid q;
    q.type = u8();
    q.version = u32();
    q.path = u64();
    return q;
  }
  std::vector<uint8_t> bytes(size_t n) {
    std::vector<uint8_t> out;
    for (size_t i = 0; i < n && pos_ < data_.size(); ++i) out.push_back(data_[pos_++]);
    return out;
  }
  [[nodiscard]] size_t left() const { return data_.size() - pos_; }
  // The errno of an Rlerror, or 0 for any other reply.
  [[nodiscard]] uint32_t error() const {
    if (type != virtio::p9::kRlerror || data_.size() < 11) return 0;
    return static_cast<uint32_t>(data_[7]) | static_cast<uint32_t>(data_[8]) << 8 |
           static_cast<uint32_t>(data_[9]) << 16 | static_cast<uint32_t>(data_[10]) << 24;
  }

  uint32_t size = 0;
  uint8_t type = 0;
  uint16_t tag = 0;

 private:
  uint64_t take(size_t n) {
    uint64_t v = 0;
    for (size_t i = 0; i < n && pos_ < data_.size(); ++i) v |= uint64_t{data_[pos_++]} << (8 * i);
    return v;
  }
  std::vector<uint8_t> data_;
  size_t pos_ = 0;
};

}  // namespace vmm::test
