// Telephony benchmarks: PBX call events parsed and mapped per second (AMI and ESL protocols fed
// the byte stream in 4 KiB reads, as the socket delivers it: framing, URL-decoding, phone
// normalization with libphonenumber, the call tracker), and the same AMI stream parsed and
// published to the embedded Kafka cluster (every contact and agent event acknowledged).
// "items" are PBX events. Run: build/bench/tests/bench/telephony_bench.
//
// Each call is 4 events: a new inbound channel from a distinct number, the dial to an agent,
// the answer, the hangup (1 contact + accept + complete); every 4th call hangs up unanswered
// instead (contact + abandoned).

#include <benchmark/benchmark.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>

#include "connectors/publisher.h"
#include "connectors/telephony/ami.h"
#include "connectors/telephony/esl.h"
#include "core/bus/bus.h"
#include "core/bus/embedded_cluster.h"

namespace omni::connectors::telephony {
namespace {

constexpr int calls_per_stream = 2000;
constexpr int events_per_call = 4;

call_settings settings(const char* provider) {
  call_settings cs;
  cs.provider = provider;
  cs.connector = "bench";
  cs.agents = {{"101", "alice"}};
  return cs;
}

std::string number(int i) {
  std::string n("8 (912) ");
  n.append(std::to_string(1000000 + i));
  return n;
}

std::string ami_stream() {
  std::string s;
  for (int i = 0; i < calls_per_stream; ++i) {
    std::string id("1795405068.");
    id.append(std::to_string(i));
    std::string ids = "Uniqueid: " + id + "\r\nLinkedid: " + id + "\r\n";
    s += "Event: Newchannel\r\nPrivilege: call,all\r\nChannel: PJSIP/trunk-00000001\r\n"
         "ChannelState: 0\r\nChannelStateDesc: Down\r\nCallerIDNum: " +
         number(i) +
         "\r\nCallerIDName: Ivan Petrov\r\nConnectedLineNum: <unknown>\r\nLanguage: ru\r\n"
         "Context: from-trunk\r\nExten: 74951234567\r\nPriority: 1\r\n" +
         ids + "\r\n";
    s += "Event: DialBegin\r\nPrivilege: call,all\r\n" + ids +
         "DestChannel: PJSIP/101-00000002\r\nDestCallerIDNum: 101\r\nDialString: 101\r\n\r\n";
    if (i % 4 != 3)
      s += "Event: DialEnd\r\nPrivilege: call,all\r\n" + ids +
           "DestChannel: PJSIP/101-00000002\r\nDestCallerIDNum: 101\r\nDialStatus: ANSWER\r\n\r\n";
    else
      s += "Event: VarSet\r\nPrivilege: dialplan,all\r\n" + ids + "Variable: X\r\nValue: 1\r\n\r\n";
    s += "Event: Hangup\r\nPrivilege: call,all\r\nChannel: PJSIP/trunk-00000001\r\n" + ids +
         "Cause: 16\r\nCause-txt: Normal Clearing\r\n\r\n";
  }
  return s;
}

std::string esl_event(const std::string& body) {
  std::string s("Content-Length: ");
  s.append(std::to_string(body.size()));
  s.append("\nContent-Type: text/event-plain\n\n");
  s.append(body);
  return s;
}

std::string esl_stream() {
  std::string s;
  for (int i = 0; i < calls_per_stream; ++i) {
    std::string uuid("call-");
    uuid.append(std::to_string(i));
    s += esl_event("Event-Name: CHANNEL_CREATE\nCore-UUID: 6d5f1f4e\nUnique-ID: " + uuid +
                   "\nCall-Direction: inbound\nCaller-Caller-ID-Number: %2B7912" +
                   std::to_string(1000000 + i) +
                   "\nCaller-Caller-ID-Name: %D0%98%D0%B2%D0%B0%D0%BD\n"
                   "Caller-Destination-Number: 74951234567\nCaller-Context: public\n\n");
    s += esl_event("Event-Name: CHANNEL_ANSWER\nUnique-ID: " + uuid +
                   "\nCall-Direction: inbound\n\n");
    if (i % 4 != 3)
      s += esl_event("Event-Name: CHANNEL_ANSWER\nUnique-ID: leg-" + uuid +
                     "\nCall-Direction: outbound\nOther-Leg-Unique-ID: " + uuid +
                     "\nvariable_dialed_user: 101\n\n");
    else
      s += esl_event("Event-Name: HEARTBEAT\nUp-Time: 1\n\n");
    s += esl_event("Event-Name: CHANNEL_HANGUP_COMPLETE\nUnique-ID: " + uuid +
                   "\nCall-Direction: inbound\nHangup-Cause: NORMAL_CLEARING\n\n");
  }
  return s;
}

template <class Protocol>
void feed_all(Protocol& p, const std::string& stream, call_output& out) {
  std::string_view in(stream);
  for (std::size_t i = 0; i < in.size(); i += 4096) (void)p.feed(in.substr(i, 4096), 0, out);
}

void ami_parse(benchmark::State& state) {
  const std::string stream = ami_stream();
  std::size_t contacts = 0;
  for (auto _ : state) {
    ami_protocol p({"u", "s", false}, settings("asterisk"), "bench");
    call_output out;
    (void)p.feed("Asterisk Call Manager/6.0.0\r\nResponse: Success\r\n\r\n", 0, out);
    feed_all(p, stream, out);
    contacts += out.contacts.size();
    benchmark::DoNotOptimize(out);
  }
  if (contacts != static_cast<std::size_t>(state.iterations()) * calls_per_stream * 5 / 4)
    state.SkipWithError("wrong number of contacts mapped");
  state.SetItemsProcessed(state.iterations() * calls_per_stream * events_per_call);
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(stream.size()));
}
BENCHMARK(ami_parse)->Unit(benchmark::kMillisecond);

void esl_parse(benchmark::State& state) {
  const std::string stream = esl_stream();
  std::size_t contacts = 0;
  for (auto _ : state) {
    esl_protocol p({"ClueCon", {}, true}, settings("freeswitch"), "bench");
    call_output out;
    (void)p.feed(
        "Content-Type: auth/request\n\nContent-Type: command/reply\nReply-Text: +OK\n\n"
        "Content-Type: command/reply\nReply-Text: +OK\n\n",
        0, out);
    feed_all(p, stream, out);
    contacts += out.contacts.size();
    benchmark::DoNotOptimize(out);
  }
  if (contacts != static_cast<std::size_t>(state.iterations()) * calls_per_stream * 5 / 4)
    state.SkipWithError("wrong number of contacts mapped");
  state.SetItemsProcessed(state.iterations() * calls_per_stream * events_per_call);
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(stream.size()));
}
BENCHMARK(esl_parse)->Unit(benchmark::kMillisecond);

// Parsed, then every contact and agent event produced to the embedded cluster and acknowledged
// (idempotent producer, acks=all) before the iteration ends.
void ami_parse_and_publish(benchmark::State& state) {
  auto cluster = core::bus::embedded_cluster::start(1);
  if (!cluster) return state.SkipWithError("no embedded cluster");
  (void)(*cluster)->create_topic("omni.contacts", 3);
  (void)(*cluster)->create_topic("omni.agent-events", 3);
  core::bus::settings kafka;
  kafka.brokers = (*cluster)->bootstrap();
  auto producer = core::bus::producer::create(kafka, "bench");
  if (!producer) return state.SkipWithError("no producer");
  kafka_contact_publisher contacts(**producer, "omni.contacts");
  kafka_agent_event_publisher events(**producer, "omni.agent-events");
  const std::string stream = ami_stream();
  int round = 0;
  for (auto _ : state) {
    // Another connector name per round: the publisher would otherwise recognize the contacts.
    call_settings cs = settings("asterisk");
    cs.connector = "bench-" + std::to_string(round++);
    ami_protocol p({"u", "s", false}, cs, cs.connector);
    call_output out;
    (void)p.feed("Asterisk Call Manager/6.0.0\r\nResponse: Success\r\n\r\n", 0, out);
    feed_all(p, stream, out);
    std::atomic<std::size_t> left{out.contacts.size() + out.agent_events.size()};
    std::atomic<std::size_t> failed{0};
    auto done = [&](publish_status s) {
      if (!acknowledged(s)) ++failed;
      --left;
    };
    for (const auto& c : out.contacts) contacts.publish(c, done);
    for (const auto& e : out.agent_events) events.publish(e, done);
    while (left > 0) std::this_thread::sleep_for(std::chrono::microseconds(200));
    if (failed) return state.SkipWithError("Kafka did not store everything");
  }
  state.SetItemsProcessed(state.iterations() * calls_per_stream * events_per_call);
}
BENCHMARK(ami_parse_and_publish)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace omni::connectors::telephony

BENCHMARK_MAIN();
