#include "connectors/webchat/reply_index.h"

#include <algorithm>
#include <charconv>
#include <fstream>
#include <string_view>

namespace omni::connectors::webchat {

namespace {

bool plain(std::string_view s) {
  return !s.empty() && s.find_first_of("\t\n\r") == std::string_view::npos;
}

template <class T>
bool number(std::string_view s, T& out) {
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && end == s.data() + s.size();
}

// "<at>\t<visitor>\t<chat>\t<partition>\t<offset>"; false for a damaged line.
bool parse_line(std::string_view line, std::string& visitor, reply_index::entry& e) {
  std::string_view f[5];
  for (int i = 0; i < 5; ++i) {
    auto tab = line.find('\t');
    if ((i < 4) != (tab != std::string_view::npos)) return false;
    f[i] = line.substr(0, tab);
    line.remove_prefix(tab == std::string_view::npos ? line.size() : tab + 1);
  }
  if (!number(f[0], e.at) || !plain(f[1]) || !plain(f[2]) || !number(f[3], e.partition) ||
      !number(f[4], e.offset) || e.partition < 0 || e.offset < 0)
    return false;
  visitor.assign(f[1]);
  e.chat.assign(f[2]);
  return true;
}

void write_line(std::FILE* f, const std::string& visitor, const reply_index::entry& e) {
  std::fprintf(f, "%lld\t%s\t%s\t%d\t%lld\n", static_cast<long long>(e.at), visitor.c_str(),
               e.chat.c_str(), static_cast<int>(e.partition), static_cast<long long>(e.offset));
}

}  // namespace

core::result<std::unique_ptr<reply_index>> reply_index::open(const std::filesystem::path& file,
                                                             std::chrono::milliseconds retention,
                                                             core::timestamp_ms now) {
  std::unique_ptr<reply_index> idx(new reply_index());
  std::error_code ec;
  std::filesystem::create_directories(file.parent_path(), ec);
  if (ec)
    return core::error{"cannot create " + file.parent_path().string() + ": " + ec.message(),
                       "state_dir"};
  {
    std::ifstream in(file);
    std::string line, visitor;
    while (std::getline(in, line)) {
      entry e;
      if (!parse_line(line, visitor, e)) continue;  // a line cut by a crash
      if (now - e.at > retention.count()) continue;
      idx->add(visitor, std::move(e));
    }
  }
  // Rewritten without the dropped lines, then appended to.
  const auto tmp = file.string() + ".tmp";
  std::FILE* out = std::fopen(tmp.c_str(), "w");
  if (!out) return core::error{"cannot write " + tmp, "state_dir"};
  for (const auto& [visitor, chats] : idx->by_visitor_)
    for (const auto& e : chats) write_line(out, visitor, e);
  if (std::fflush(out) != 0 || std::fclose(out) != 0)
    return core::error{"cannot write " + tmp, "state_dir"};
  std::filesystem::rename(tmp, file, ec);
  if (ec) return core::error{"cannot replace " + file.string() + ": " + ec.message(), "state_dir"};
  idx->out_ = std::fopen(file.c_str(), "a");
  if (!idx->out_) return core::error{"cannot append to " + file.string(), "state_dir"};
  return idx;
}

reply_index::~reply_index() {
  if (out_) std::fclose(out_);
}

bool reply_index::add(const std::string& visitor, entry e) {
  if (!visitor_of_chat_.emplace(e.chat, visitor).second) return false;
  by_visitor_[visitor].push_back(std::move(e));
  return true;
}

void reply_index::record(const std::string& visitor, const std::string& chat,
                         std::int32_t partition, std::int64_t offset, core::timestamp_ms now) {
  if (!plain(visitor) || !plain(chat) || partition < 0 || offset < 0) return;
  std::lock_guard lock(mutex_);
  if (visitor_of_chat_.count(chat)) return;
  entry e{chat, partition, offset, now};
  add(visitor, e);
  write_line(out_, visitor, e);
  std::fflush(out_);
}

std::vector<reply_index::entry> reply_index::chats_of(const std::string& visitor) const {
  std::lock_guard lock(mutex_);
  auto it = by_visitor_.find(visitor);
  if (it == by_visitor_.end()) return {};
  auto out = it->second;
  std::sort(out.begin(), out.end(), [](const entry& a, const entry& b) { return a.at > b.at; });
  return out;
}

std::size_t reply_index::size() const {
  std::lock_guard lock(mutex_);
  return visitor_of_chat_.size();
}

}  // namespace omni::connectors::webchat
