#pragma once
// Where each web chat's replies start on omni.outbound, kept on disk so that a restarted node can
// read a returning visitor's replies back from Kafka from that offset, at a cost bounded by the
// chat and not by the age of the topic.
//
// A chat is indexed when the first outbound record for it (a reply, a notice, "joined") reaches
// this node: every later record of the chat has a larger offset in the same partition (records
// are keyed by conversation). One line per chat, appended (no fsync: a crash loses at most the
// newest lines, i.e. recovery of the chats they name):
//   <at ms>\t<visitor>\t<chat>\t<partition>\t<offset>\n
// open() loads the file, drops chats older than `retention` (the sessions' own retention) and
// rewrites it, so it stays bounded by the chats of that period. Thread-safe.

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/events/events.h"
#include "core/result.h"

namespace omni::connectors::webchat {

class reply_index {
 public:
  struct entry {
    std::string chat;
    std::int32_t partition = 0;
    std::int64_t offset = 0;
    core::timestamp_ms at = 0;  // when the chat's first record reached this node
  };

  static core::result<std::unique_ptr<reply_index>> open(const std::filesystem::path& file,
                                                         std::chrono::milliseconds retention,
                                                         core::timestamp_ms now);
  ~reply_index();
  reply_index(const reply_index&) = delete;
  reply_index& operator=(const reply_index&) = delete;

  // The first outbound record of `chat` (the visitor's) is at partition/offset: remembered and
  // appended to the file, unless the chat is indexed already.
  void record(const std::string& visitor, const std::string& chat, std::int32_t partition,
              std::int64_t offset, core::timestamp_ms now);
  // The visitor's indexed chats, newest first.
  std::vector<entry> chats_of(const std::string& visitor) const;
  std::size_t size() const;

 private:
  reply_index() = default;
  bool add(const std::string& visitor, entry e);  // under mutex_; false if known

  mutable std::mutex mutex_;
  std::unordered_map<std::string, std::vector<entry>> by_visitor_;
  std::unordered_map<std::string, std::string> visitor_of_chat_;
  std::FILE* out_ = nullptr;
};

}  // namespace omni::connectors::webchat
