#pragma once
// Internal: the byte-level RFC 6455 frame decoder of the compact WebSocket socket (websocket.cc),
// without sockets so that it can be unit-tested and fuzzed on its own
// (tests/fuzz/ws_frames_fuzz.cc). Client frames only (masked), no extensions. Bytes go in in any
// split; out come complete data messages, pings and the peer's close, or one violation with its
// close code. After a close or a violation the decoder is done and ignores the rest of its input.

#include <boost/beast/websocket/detail/utf8_checker.hpp>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace omni::core::http::ws::detail {

namespace opcodes {
enum opcode : std::uint8_t {
  op_continuation = 0,
  op_text = 1,
  op_binary = 2,
  op_close = 8,
  op_ping = 9,
  op_pong = 10
};
}  // namespace opcodes

// Appends one frame (RFC 6455 5.2) to `out`: unmasked as a server sends it, or masked with the
// 4-byte `mask` as a client does (tests and the fuzz target build their input with it).
void append_frame(std::string& out, std::uint8_t op, std::string_view payload, bool fin = true,
                  const std::uint8_t* mask = nullptr);

// Frees the string's buffer (clearing or assigning an empty string would keep its capacity).
void release_buffer(std::string& s);

// What the decoder yields, called from inside feed().
class frame_sink {
 public:
  // A complete data message, within the size cap; text is valid UTF-8.
  virtual void on_message(std::string message, bool binary) = 0;
  virtual void on_ping(std::string_view payload) = 0;
  // The peer's close frame; code 0 when it carried none. The decoder is done.
  virtual void on_close(std::uint16_t code, std::string_view reason) = 0;
  // A violation: the close code to answer with and its cause ("protocol", "too_big",
  // "bad_utf8"). The decoder is done.
  virtual void on_error(std::uint16_t code, std::string_view cause) = 0;

 protected:
  ~frame_sink() = default;
};

class frame_decoder {
 public:
  explicit frame_decoder(std::size_t max_message_bytes) : max_message_bytes_(max_message_bytes) {}

  // Header bytes gather until the header is complete (a header may be split between calls),
  // payload bytes are unmasked into the message (or the control frame's payload).
  void feed(const std::uint8_t* p, std::size_t n, frame_sink& sink);
  // A close frame or a violation was seen: nothing more is decoded.
  bool done() const { return done_; }
  // Frees the buffers (the decoder is not used again).
  void release();

 private:
  std::size_t header_size() const;
  std::size_t read_header(const std::uint8_t* p, std::size_t n, frame_sink& sink);
  bool first_bytes_valid(frame_sink& sink);
  void payload(const std::uint8_t* p, std::size_t n, frame_sink& sink);
  void end_frame(frame_sink& sink);
  void peer_close(frame_sink& sink);
  void fail(std::uint16_t code, std::string_view cause, frame_sink& sink);

  std::string message_;  // the data message being read
  std::string control_;  // the control frame being read
  std::size_t max_message_bytes_;
  std::uint64_t remain_ = 0;  // payload bytes of the current frame still to come
  boost::beast::websocket::detail::utf8_checker utf8_;
  std::uint8_t head_[14];
  std::uint8_t head_size_ = 0;
  std::uint8_t key_[4];
  std::uint8_t key_at_ = 0;
  std::uint8_t frame_op_ = 0;
  bool frame_fin_ = false;
  bool in_frame_ = false;
  bool in_message_ = false;
  bool message_binary_ = false;
  bool done_ = false;
};

}  // namespace omni::core::http::ws::detail
