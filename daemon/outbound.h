#pragma once
// The outbound dispatcher: brings agent replies and router notices (omni.outbound) back to the
// connector that can deliver them.
//
// Every node reads all of omni.outbound with a consumer group of its own
// (`omniroute-outbound-<node id>`), because the socket a reply is for (a web-chat visitor) may be
// held by any node. Each record is decoded and handed to `handler` on the daemon's io_context; the
// handler offers it to the connectors in turn (connector::deliver) and says whether one took it.
// The record's offset is stored only after the handler returned, so a crash re-reads it (connectors
// deduplicate by outbound id). Records nobody claims (another node's channel, a webhook channel
// without a send API) and records that do not decode are counted, never retried.

#include <boost/asio/io_context.hpp>
#include <functional>
#include <memory>

#include "core/bus/bus.h"
#include "core/events/events.h"
#include "core/result.h"

namespace omni::daemon {

class outbound_dispatcher {
 public:
  // The record, and where it is stored (partition, offset).
  using handler = std::function<bool(const core::outbound&, std::int32_t, std::int64_t)>;

  // `from_beginning`: where a group seen for the first time starts (true for the embedded cluster,
  // whose topics are new at every start; false on a real cluster, so a new node does not re-send
  // every reply ever written). When not `from_beginning`, a reply produced before the group has
  // its partitions could be skipped by a fresh group starting at the end of the topic, so the
  // daemon reports itself ready only after `on_ready` was called (on the consumer's thread, once
  // the first assignment arrived; at once when `from_beginning`). Never blocks.
  static core::result<std::unique_ptr<outbound_dispatcher>> start(
      const core::bus::settings& kafka, const std::string& topic, const std::string& node_id,
      boost::asio::io_context& ioc, handler h, bool from_beginning,
      std::function<void()> on_ready = {});
  ~outbound_dispatcher();  // stop()
  // Stops reading; the record being handled is finished first. Call before the io_context stops.
  void stop();

  struct impl;

 private:
  explicit outbound_dispatcher(std::shared_ptr<impl> p);
  std::shared_ptr<impl> impl_;
};

}  // namespace omni::daemon
