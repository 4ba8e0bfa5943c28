#pragma once
// Where an IMAP mailbox's processing stands, persisted under the connector's state directory so a
// restart (or a kill -9) neither loses nor re-routes mail: (mailbox, UIDVALIDITY, last processed
// UID). The session advances it only after the contact publisher reported the contact stored.
// Written atomically (temporary file, fsync, rename), so a crash leaves the old or the new state.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include "core/result.h"

namespace omni::connectors::imap {

struct mailbox_state {
  std::string mailbox;
  std::uint32_t uidvalidity = 0;
  std::uint32_t last_uid = 0;  // every UID up to this one is routed (or deliberately left)
  bool operator==(const mailbox_state&) const = default;
};

// The state file for one mailbox in `dir` (the name is made file-system safe).
std::filesystem::path state_path(const std::filesystem::path& dir, const std::string& mailbox);

// nullopt when there is no file yet; an error when it exists but cannot be read or is damaged.
core::result<std::optional<mailbox_state>> load_state(const std::filesystem::path& file);
core::result<bool> save_state(const std::filesystem::path& file, const mailbox_state& s);

}  // namespace omni::connectors::imap
