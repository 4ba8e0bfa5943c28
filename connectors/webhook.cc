#include "connectors/webhook.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <chrono>

#include "connectors/publisher.h"
#include "core/clock.h"
#include "core/http/listener.h"
#include "core/log/log.h"
#include "core/metrics/metrics.h"

namespace omni::connectors {

namespace http = core::http;

namespace {
spdlog::logger& logger() {
  static auto l = core::log::get("omni.webhook");
  return *l;
}

using core::now_ms;

std::string raw_hmac(const EVP_MD* md, std::string_view key, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(md, key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &len);
  return std::string(reinterpret_cast<char*>(out), len);
}

std::string to_hex(std::string_view raw) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  out.reserve(raw.size() * 2);
  for (unsigned char c : raw) {
    out += hex[c >> 4];
    out += hex[c & 0xF];
  }
  return out;
}

std::string to_base64(std::string_view raw) {
  std::string out(4 * ((raw.size() + 2) / 3), '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(raw.data()),
                          static_cast<int>(raw.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}
}  // namespace

std::string hmac_sha256_hex(std::string_view key, std::string_view data) {
  return to_hex(raw_hmac(EVP_sha256(), key, data));
}
std::string hmac_sha1_base64(std::string_view key, std::string_view data) {
  return to_base64(raw_hmac(EVP_sha1(), key, data));
}
std::string hmac_sha256_base64(std::string_view key, std::string_view data) {
  return to_base64(raw_hmac(EVP_sha256(), key, data));
}

bool secure_equals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

bool any_hmac_sha256_hex_matches(const std::vector<std::string>& secrets, std::string_view data,
                                 std::string_view expected_hex) {
  bool match = false;
  // Every secret is tried (no early exit), so timing does not tell which one matched.
  for (const auto& s : secrets) match |= secure_equals(hmac_sha256_hex(s, data), expected_hex);
  return match;
}

http::response unauthorized(std::string_view reason) { return http::response::error(401, reason); }
http::response forbidden(std::string_view reason) { return http::response::error(403, reason); }

webhook_connector::webhook_connector(webhook_settings s, std::unique_ptr<webhook_provider> provider,
                                     context ctx)
    : settings_(std::move(s)), provider_(std::move(provider)), ctx_(std::move(ctx)) {}

void webhook_connector::count(std::string_view outcome) const {
  auto lookup = [&] {
    return &core::metrics::global().counter_of(
        "omniroute_webhook_requests_total", "Webhook requests by connector and outcome.",
        {{"connector", settings_.name}, {"outcome", std::string(outcome)}});
  };
  const auto at = std::find(outcomes_.begin(), outcomes_.end(), outcome);
  if (at == outcomes_.end()) return lookup()->inc();
  auto& slot = outcome_counters_[static_cast<std::size_t>(at - outcomes_.begin())];
  auto* c = slot.load(std::memory_order_acquire);
  if (c == nullptr) {
    c = lookup();
    slot.store(c, std::memory_order_release);
  }
  c->inc();
}

core::result<bool> webhook_connector::start() {
  if (!ctx_.http)
    return core::error{"needs the public HTTP listener (node role ingest)", settings_.name};
  auto h = [this](http::request req, http::responder r) { handle(std::move(req), std::move(r)); };
  bool ok = ctx_.http->add(http::method::post, settings_.path, h);
  if (provider_->accepts_get()) ok = ok && ctx_.http->add(http::method::get, settings_.path, h);
  if (!ok)
    return core::error{"cannot register " + settings_.path + " (path taken?)", settings_.name};
  logger().info("{} ({}): listening on {}", settings_.name, settings_.type, settings_.path);
  return true;
}

void webhook_connector::handle(http::request req, http::responder r) const {
  if (stopped_) {
    count("stopping");
    auto resp = http::response::error(503, "shutting down");
    resp.headers.set("Retry-After", "5");
    r.send(std::move(resp));
    return;
  }
  if (auto hs = provider_->handshake(req)) {
    count(hs->status < 300 ? "handshake" : "handshake_rejected");
    r.send(std::move(*hs));
    return;
  }
  if (req.verb != http::method::post) {
    count("method_not_allowed");
    r.send(http::response::error(405, "POST only"));
    return;
  }
  if (auto rejected = provider_->verify(req)) {
    count("rejected_signature");
    logger().warn("{}: request {} from {} rejected ({})", settings_.name, req.id,
                  req.remote_address, rejected->body);
    r.send(std::move(*rejected));
    return;
  }
  auto mapped = provider_->map(req, now_ms());
  if (!mapped) {
    count("malformed");
    logger().warn("{}: malformed request {} from {}: {}", settings_.name, req.id,
                  req.remote_address, mapped.err().to_string());
    r.send(http::response::error(400, mapped.err().to_string()));
    return;
  }
  if (mapped->contacts.empty()) {
    count("ignored");
    logger().debug("{}: ignored request {}: {}", settings_.name, req.id, mapped->ignored);
    r.send(provider_->accepted());
    return;
  }
  for (auto& c : mapped->contacts)
    if (c.domain.empty()) c.domain = settings_.common.domain;
  publish_all(*ctx_.publisher, mapped->contacts,
              [this, r, accepted = provider_->accepted()](publish_status s) {
                if (acknowledged(s)) {
                  count(s == publish_status::duplicate ? "duplicate" : "stored");
                  r.send(accepted);
                  return;
                }
                count(s == publish_status::busy ? "busy" : "kafka_unavailable");
                auto resp = http::response::error(
                    503, s == publish_status::busy ? "busy, retry later"
                                                   : "contact store unavailable, retry later");
                resp.headers.set("Retry-After", s == publish_status::busy ? "1" : "5");
                r.send(std::move(resp));
              });
}

}  // namespace omni::connectors
