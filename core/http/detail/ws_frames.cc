#include "core/http/detail/ws_frames.h"

#include <algorithm>
#include <boost/beast/websocket/detail/frame.hpp>
#include <cstring>
#include <utility>

#include "core/http/websocket.h"

namespace omni::core::http::ws::detail {

using namespace opcodes;

void release_buffer(std::string& s) { std::string().swap(s); }

void append_frame(std::string& out, std::uint8_t op, std::string_view payload, bool fin,
                  const std::uint8_t* mask) {
  char head[14];
  std::size_t n = 0;
  head[n++] = static_cast<char>((fin ? 0x80 : 0) | op);
  const char masked = mask ? static_cast<char>(0x80) : 0;
  const std::uint64_t size = payload.size();
  if (size < 126) {
    head[n++] = static_cast<char>(masked | static_cast<char>(size));
  } else if (size <= 0xffff) {
    head[n++] = static_cast<char>(masked | 126);
    for (int shift = 8; shift >= 0; shift -= 8) head[n++] = static_cast<char>(size >> shift);
  } else {
    head[n++] = static_cast<char>(masked | 127);
    for (int shift = 56; shift >= 0; shift -= 8) head[n++] = static_cast<char>(size >> shift);
  }
  if (mask) {
    std::memcpy(head + n, mask, 4);
    n += 4;
  }
  out.append(head, n);
  const std::size_t at = out.size();
  out.append(payload);
  if (mask)
    for (std::size_t i = 0; i < payload.size(); ++i) out[at + i] ^= static_cast<char>(mask[i & 3]);
}

void frame_decoder::feed(const std::uint8_t* p, std::size_t n, frame_sink& sink) {
  while (n > 0 && !done_) {
    if (!in_frame_) {
      const std::size_t used = read_header(p, n, sink);
      p += used;
      n -= used;
    } else {
      const auto take = static_cast<std::size_t>(std::min<std::uint64_t>(remain_, n));
      payload(p, take, sink);
      p += take;
      n -= take;
      remain_ -= take;
    }
    if (in_frame_ && remain_ == 0 && !done_) end_frame(sink);
  }
}

void frame_decoder::release() {
  release_buffer(message_);
  release_buffer(control_);
}

std::size_t frame_decoder::header_size() const {
  if (head_size_ < 2) return 2;
  const std::uint8_t len = head_[1] & 0x7f;
  return 2 + (len == 126 ? 2 : len == 127 ? 8 : 0) + 4;
}

// Takes header bytes; once the header is complete, checks it and starts the frame.
std::size_t frame_decoder::read_header(const std::uint8_t* p, std::size_t n, frame_sink& sink) {
  std::size_t used = 0;
  while (used < n && head_size_ < header_size()) {
    head_[head_size_++] = p[used++];
    if (head_size_ == 2 && !first_bytes_valid(sink)) return used;
  }
  if (head_size_ < header_size()) return used;
  std::uint64_t len = head_[1] & 0x7f;
  std::size_t at = 2;
  if (len >= 126) {
    const std::size_t bytes = len == 126 ? 2 : 8;
    len = 0;
    for (std::size_t i = 0; i < bytes; ++i) len = len << 8 | head_[at++];
    // The shortest encoding only (RFC 6455 5.2), and no 64-bit length with its top bit set.
    if (len < (bytes == 2 ? 126u : 65536u) || (len >> 63) != 0) {
      fail(close_code::protocol_error, "protocol", sink);
      return used;
    }
  }
  std::memcpy(key_, head_ + at, 4);
  head_size_ = 0;
  key_at_ = 0;
  remain_ = len;
  frame_fin_ = (head_[0] & 0x80) != 0;
  frame_op_ = head_[0] & 0x0f;
  if (frame_op_ >= op_close) {
    control_.clear();
  } else {
    if (frame_op_ != op_continuation) {
      in_message_ = true;
      message_binary_ = frame_op_ == op_binary;
      utf8_.reset();
    }
    if (message_.size() + len > max_message_bytes_) {
      fail(close_code::too_big, "too_big", sink);
      return used;
    }
  }
  in_frame_ = true;
  return used;
}

// The checks the first two header bytes allow: no extension bits, a known opcode, a masked
// client frame, control frames unfragmented and short, fragments in order.
bool frame_decoder::first_bytes_valid(frame_sink& sink) {
  const std::uint8_t op = head_[0] & 0x0f;
  const bool fin = (head_[0] & 0x80) != 0;
  bool ok = (head_[0] & 0x70) == 0 && (head_[1] & 0x80) != 0;
  if (op >= op_close)
    ok = ok && op <= op_pong && fin && (head_[1] & 0x7f) <= 125;
  else if (op == op_continuation)
    ok = ok && in_message_;
  else
    ok = ok && op <= op_binary && !in_message_;
  if (!ok) fail(close_code::protocol_error, "protocol", sink);
  return ok;
}

void frame_decoder::payload(const std::uint8_t* p, std::size_t n, frame_sink& sink) {
  std::string& to = frame_op_ >= op_close ? control_ : message_;
  const std::size_t old = to.size();
  to.resize(old + n);
  char* d = to.data() + old;
  for (std::size_t i = 0; i < n; ++i) d[i] = static_cast<char>(p[i] ^ key_[(key_at_ + i) & 3]);
  key_at_ = static_cast<std::uint8_t>((key_at_ + n) & 3);
  if (frame_op_ < op_close && !message_binary_ &&
      !utf8_.write(reinterpret_cast<const std::uint8_t*>(d), n))
    fail(close_code::bad_payload, "bad_utf8", sink);
}

void frame_decoder::end_frame(frame_sink& sink) {
  in_frame_ = false;
  switch (frame_op_) {
    case op_ping:
      return sink.on_ping(control_);
    case op_pong:
      return;
    case op_close:
      return peer_close(sink);
    default:
      break;
  }
  if (!frame_fin_) return;
  in_message_ = false;
  if (!message_binary_ && !utf8_.finish()) return fail(close_code::bad_payload, "bad_utf8", sink);
  std::string message = std::move(message_);
  message_ = std::string();
  sink.on_message(std::move(message), message_binary_);
}

void frame_decoder::peer_close(frame_sink& sink) {
  std::uint16_t code = 0;  // a close frame without a code
  std::string_view reason;
  if (control_.size() == 1) return fail(close_code::protocol_error, "protocol", sink);
  if (control_.size() >= 2) {
    code = static_cast<std::uint16_t>(static_cast<std::uint8_t>(control_[0]) << 8 |
                                      static_cast<std::uint8_t>(control_[1]));
    reason = std::string_view(control_).substr(2);
    if (!boost::beast::websocket::detail::is_valid_close_code(code) ||
        !boost::beast::websocket::detail::check_utf8(reason.data(), reason.size()))
      return fail(close_code::protocol_error, "protocol", sink);
  }
  done_ = true;  // nothing after a close frame counts
  sink.on_close(code, reason);
}

void frame_decoder::fail(std::uint16_t code, std::string_view cause, frame_sink& sink) {
  done_ = true;  // the rest of the input is not parsed
  sink.on_error(code, cause);
}

}  // namespace omni::core::http::ws::detail
