// Fuzzes the ESL framer, the event-plain decoder and the protocol: split anywhere, the framer
// yields exactly what it yields for the whole stream (or the same error); every mapped contact
// and agent event survives the wire codec. Never a crash, a hang or an exception.
#include <cstdlib>

#include "connectors/telephony/esl.h"
#include "tests/connectors/telephony/telephony_fuzz.h"

using namespace omni::connectors::telephony;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  esl_framer whole(4096, 65536), split(4096, 65536);
  std::vector<esl_frame> a, b;
  whole.feed(in, a);
  for (std::size_t i = 0; i < in.size(); i += 5) split.feed(in.substr(i, 5), b);
  if (whole.error().empty() != split.error().empty()) std::abort();
  if (whole.error().empty()) {
    if (a.size() != b.size()) std::abort();
    for (std::size_t i = 0; i < a.size(); ++i)
      if (a[i].headers.fields != b[i].headers.fields || a[i].body != b[i].body) std::abort();
  }
  std::uint64_t bad = 0;
  (void)parse_event_plain(in, bad);

  esl_protocol fresh({"ClueCon", {}, true}, fuzz::settings("freeswitch"), "fuzz");
  fuzz::run(fresh, in);
  esl_protocol ready({"ClueCon", {}, true}, fuzz::settings("freeswitch"), "fuzz");
  call_output ignored;
  (void)ready.feed(
      "Content-Type: auth/request\n\nContent-Type: command/reply\nReply-Text: +OK\n\n"
      "Content-Type: command/reply\nReply-Text: +OK\n\n",
      0, ignored);
  fuzz::run(ready, in);
  return 0;
}
