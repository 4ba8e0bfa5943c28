// The emitter: hands the router's records to the producer in order on its own thread
// (README, "Threading").
#include "routing/service/router_impl.h"

namespace omni::routing::service {
namespace {

// Attribute values are limited to 8 KiB by the codec: a step is split over step, step.1, ...
constexpr std::size_t step_chunk = 8000;

// At most this many records wait for the emitter; the router thread waits when it is full.
constexpr std::size_t emit_queue_limit = 4096;

}  // namespace

void router::impl::post_completion(completion c) {
  std::lock_guard lock(completions_mutex);
  completions.push_back(std::move(c));
}

// Hands a record to the emitter (router thread), waiting while the emitter is emit_queue_limit
// records behind. Counted in `outstanding` from here until its delivery report.
void router::impl::emit(emission e) {
  outstanding.fetch_add(1);
  std::unique_lock lock(emit_mutex);
  // Stopping while Kafka is away: the queue may never drain; the record then fails in
  // produce_now.
  emit_space.wait(lock, [&] { return emit_queue.size() < emit_queue_limit || stopping.load(); });
  emit_queue.push_back(std::move(e));
  if (emit_queue.size() == 1) emit_ready.notify_one();
}

// A record whose value is ready, to omni.assignments partition `partition` (or by key: -1).
void router::impl::produce_to(const std::string& topic, std::int32_t partition,
                              const std::string& key, std::string value, completion on_done) {
  emit({topic, partition, key, std::move(value), std::nullopt, std::nullopt, std::move(on_done)});
}

// A record the emitter encodes (with the step of a marker).
void router::impl::produce_record(const std::string& topic, std::int32_t partition,
                                  const std::string& key, core::assignment record,
                                  completion on_done, std::optional<step> marker_step) {
  emit({topic, partition, key, {}, std::move(record), std::move(marker_step), std::move(on_done)});
}

// The emitter thread: takes every waiting record at once, encodes and produces them in order.
// Runs until stop_emitter(), after the router thread has settled everything it emitted.
void router::impl::run_emitter() {
  std::vector<emission> batch;
  for (;;) {
    std::shared_ptr<core::bus::producer> to;
    bool broken = false;
    {
      std::unique_lock lock(emit_mutex);
      emit_ready.wait(lock, [&] { return !emit_queue.empty() || emit_stop; });
      if (emit_queue.empty()) return;  // stopping, nothing left
      batch.swap(emit_queue);
      broken = emit_broken;
    }
    {
      std::lock_guard lock(producer_mutex);
      to = producer;
    }
    emit_space.notify_all();
    for (auto& e : batch) {
      if (broken) {
        fail_emission(e, "an earlier record was refused");
        continue;
      }
      if (e.record) {
        if (e.marker_step)
          core::put_split_attribute(e.record->attributes, "step", encode_step(*e.marker_step),
                                    step_chunk);
        e.value = core::encode(*e.record);
      }
      broken = !produce_now(*to, e);
    }
    batch.clear();
    if (broken) {
      std::lock_guard lock(emit_mutex);
      emit_broken = true;
    }
  }
}

void router::impl::fail_emission(emission& e, const char* why) {
  post_completion({e.on_done.generation, e.on_done.partition, "", -1, false, why});
  outstanding.fetch_sub(1);
}

void router::impl::stop_emitter() {
  {
    std::lock_guard lock(emit_mutex);
    emit_stop = true;
  }
  emit_ready.notify_one();
  if (emitter.joinable()) emitter.join();
}

// Produces one record, waiting out a full local queue (emitter thread); false when it was
// refused (or the router stops while the queue stays full). A refused record is reported as a
// failed delivery: the router thread then rebuilds (drain_completions).
bool router::impl::produce_now(core::bus::producer& to, emission& e) {
  auto handler = [this, c = e.on_done](const core::bus::delivery& d) mutable {
    c.ok = d.ok;
    c.error = d.error;
    c.produced_offset = d.offset;
    post_completion(std::move(c));
    outstanding.fetch_sub(1);
  };
  for (;;) {
    auto st = e.partition >= 0 ? to.produce(e.topic, e.partition, e.key, e.value, handler)
                               : to.produce(e.topic, e.key, e.value, handler);
    if (st == core::bus::produce_status::queued) return true;
    if (st == core::bus::produce_status::failed || stopping.load()) {
      fail_emission(e, st == core::bus::produce_status::failed ? "produce refused"
                                                               : "stopping with Kafka away");
      return false;
    }
    std::this_thread::sleep_for(1ms);  // queue full: back-pressure
  }
}

}  // namespace omni::routing::service
