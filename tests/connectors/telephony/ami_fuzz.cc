// Fuzzes the AMI framer and protocol: split anywhere, the framer yields exactly the messages it
// yields for the whole stream; logged in or not, every mapped contact and agent event survives the
// wire codec. Never a crash, a hang or an exception.
#include <cstdlib>

#include "connectors/telephony/ami.h"
#include "tests/connectors/telephony/telephony_fuzz.h"

using namespace omni::connectors::telephony;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  ami_framer whole(4096), split(4096);
  std::vector<ami_message> a, b;
  whole.feed(in, a);
  for (std::size_t i = 0; i < in.size(); i += 3) split.feed(in.substr(i, 3), b);
  if (a.size() != b.size() || whole.bad_frames() != split.bad_frames()) std::abort();
  for (std::size_t i = 0; i < a.size(); ++i)
    if (a[i].fields != b[i].fields) std::abort();

  ami_protocol fresh({"u", "s", true, "call", {}, true, 4096}, fuzz::settings("asterisk"), "fuzz");
  fuzz::run(fresh, in);  // from the banner on: login paths
  ami_protocol ready({"u", "s", false, "call", {}, true, 4096}, fuzz::settings("asterisk"), "fuzz");
  call_output ignored;
  (void)ready.feed("Asterisk Call Manager/6.0.0\r\nResponse: Success\r\n\r\n", 0, ignored);
  fuzz::run(ready, in);  // logged in: event mapping
  return 0;
}
