#pragma once

// The byte codec of the engine's state export (snapshot.cc), also used by the router's snapshot of
// its own per-domain maps: LEB128 varints (signed values zigzag-coded), length-prefixed strings,
// IEEE doubles as 8 little-endian bytes, id lists front-coded (each id as the length it shares
// with the previous one plus the rest: ids from one source share long prefixes), and an FNV-1a 64
// checksum. The reader never reads past its input: the first problem sticks (error()) and every
// later read returns zero.

#include <bit>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace omni::routing::engine::state_codec {

inline std::uint64_t fnv1a(std::string_view bytes, std::uint64_t h = 1469598103934665603ull) {
  for (unsigned char c : bytes) h = (h ^ c) * 1099511628211ull;
  return h;
}

class writer {
 public:
  void u(std::uint64_t v) {
    while (v >= 0x80) {
      out_.push_back(static_cast<char>(v | 0x80));
      v >>= 7;
    }
    out_.push_back(static_cast<char>(v));
  }
  void i(std::int64_t v) {
    u((static_cast<std::uint64_t>(v) << 1) ^ static_cast<std::uint64_t>(v >> 63));
  }
  void b(bool v) { u(v ? 1 : 0); }
  void s(std::string_view v) {
    u(v.size());
    out_.append(v);
  }
  void f(double v) {
    const auto bits = std::bit_cast<std::uint64_t>(v);
    for (int k = 0; k < 8; ++k) out_.push_back(static_cast<char>(bits >> (8 * k)));
  }
  void raw(std::string_view v) { out_.append(v); }
  // One id of a front-coded list: call in list order, after `ids(count)`.
  void id(std::string_view v) {
    std::size_t shared = 0;
    while (shared < v.size() && shared < last_.size() && v[shared] == last_[shared]) ++shared;
    u(shared);
    s(v.substr(shared));
    last_.assign(v);
  }
  void ids(std::size_t count) {
    u(count);
    last_.clear();
  }
  std::size_t size() const { return out_.size(); }
  // The bytes, with the checksum of everything before it appended.
  std::string finish() {
    const std::uint64_t h = fnv1a(out_);
    for (int k = 0; k < 8; ++k) out_.push_back(static_cast<char>(h >> (8 * k)));
    return std::move(out_);
  }

 private:
  std::string out_;
  std::string last_;
};

class reader {
 public:
  explicit reader(std::string_view in) : in_(in) {}

  // Splits `data` into the body before its 8-byte checksum; false when the checksum is wrong.
  static bool verify(std::string_view data, std::string_view& body) {
    if (data.size() < 8) return false;
    body = data.substr(0, data.size() - 8);
    std::uint64_t sum = 0;
    for (int k = 0; k < 8; ++k)
      sum |= static_cast<std::uint64_t>(static_cast<unsigned char>(data[body.size() + k]))
             << (8 * k);
    return fnv1a(body) == sum;
  }

  std::uint64_t u() {
    std::uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (pos_ >= in_.size()) return fail("truncated");
      const auto byte = static_cast<unsigned char>(in_[pos_++]);
      v |= static_cast<std::uint64_t>(byte & 0x7f) << shift;
      if ((byte & 0x80) == 0) return v;
    }
    return fail("a number is too long");
  }
  std::int64_t i() {
    const std::uint64_t z = u();
    return static_cast<std::int64_t>((z >> 1) ^ (~(z & 1) + 1));
  }
  bool b() { return u() != 0; }
  // A count of elements that each take at least one byte: bounded by what is left.
  std::size_t count() {
    const std::uint64_t n = u();
    if (n > in_.size() - pos_) return static_cast<std::size_t>(fail("a count exceeds the data"));
    return static_cast<std::size_t>(n);
  }
  std::string s() {
    const std::size_t n = count();
    if (!error_.empty()) return {};
    std::string v(in_.substr(pos_, n));
    pos_ += n;
    return v;
  }
  double f() {
    if (in_.size() - pos_ < 8) return static_cast<double>(fail("truncated"));
    std::uint64_t bits = 0;
    for (int k = 0; k < 8; ++k)
      bits |= static_cast<std::uint64_t>(static_cast<unsigned char>(in_[pos_ + k])) << (8 * k);
    pos_ += 8;
    return std::bit_cast<double>(bits);
  }
  template <typename E>
  E e(std::size_t limit) {
    const std::uint64_t v = u();
    if (v >= limit) return static_cast<E>(fail("a value is out of range"));
    return static_cast<E>(v);
  }
  int small(std::int64_t lo, std::int64_t hi) {
    const std::int64_t v = i();
    if (v < lo || v > hi) return static_cast<int>(fail("a value is out of range"));
    return static_cast<int>(v);
  }
  // A front-coded id list (writer::ids + writer::id).
  std::vector<std::string> ids() {
    std::vector<std::string> out(count());
    std::string last;
    for (auto& id : out) {
      const std::uint64_t shared = u();
      if (shared > last.size()) {
        fail("a front-coded id shares more than the previous one has");
        break;
      }
      id = last.substr(0, shared) + s();
      last = id;
    }
    return out;
  }
  std::uint64_t fail(std::string why) {
    if (error_.empty()) error_ = std::move(why) + " at byte " + std::to_string(pos_);
    pos_ = in_.size();
    return 0;
  }
  bool at_end() const { return pos_ == in_.size(); }
  const std::string& error() const { return error_; }

 private:
  std::string_view in_;
  std::size_t pos_ = 0;
  std::string error_;
};

}  // namespace omni::routing::engine::state_codec
