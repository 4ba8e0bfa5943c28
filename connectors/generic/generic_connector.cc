#include "connectors/generic/generic_connector.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "connectors/payload.h"
#include "core/events/codec.h"

namespace omni::connectors::generic {

namespace http = core::http;
using json = nlohmann::json;

namespace {

bool contains(const std::vector<std::string>& list, const std::string& v) {
  return std::find(list.begin(), list.end(), v) != list.end();
}

std::string joined(const std::vector<std::string>& list) {
  std::string out;
  for (const auto& s : list) out += (out.empty() ? "" : ", ") + s;
  return out;
}

// Puts a batch element's index in front of the field an error names: "[3].source_id".
core::error at_index(core::error e, std::size_t i) {
  std::string index = "[" + std::to_string(i) + "]";
  e.field = e.field.empty() ? index : index + "." + e.field;
  return e;
}

}  // namespace

std::optional<http::response> provider::verify(const http::request& req) const {
  auto signature = req.header("X-Omni-Signature");
  std::optional<std::string_view> bearer;
  if (auto auth = req.header("Authorization");
      auth && auth->size() > 7 && http::iequals(auth->substr(0, 7), "Bearer "))
    bearer = auth->substr(7);
  bool has_signature = signature && !settings_.secrets.empty();
  bool has_token = bearer && !settings_.tokens.empty();
  if (!has_signature && !has_token)
    return unauthorized(settings_.tokens.empty() ? "missing X-Omni-Signature"
                        : settings_.secrets.empty()
                            ? "missing Authorization: Bearer token"
                            : "missing X-Omni-Signature or Authorization: Bearer token");
  bool ok = false;
  if (has_signature && signature->starts_with("sha256=")) {
    std::string hex(signature->substr(7));
    for (auto& ch : hex) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    ok |= any_hmac_sha256_hex_matches(settings_.secrets, req.body, hex);
  }
  if (has_token)  // every token is compared, so timing does not tell which one is close
    for (const auto& t : settings_.tokens) ok |= secure_equals(*bearer, t);
  if (!ok) return forbidden(has_signature ? "wrong X-Omni-Signature" : "wrong bearer token");
  return std::nullopt;
}

core::result<core::contact> provider::one(const json& in, core::timestamp_ms now) const {
  if (!in.is_object())
    return core::error{std::string("must be an object, got ") + in.type_name(), ""};
  json doc = in;
  if (!doc.contains("schema")) doc["schema"] = core::contact_schema;
  if (!doc.contains("provider")) doc["provider"] = settings_.providers.front();
  if (!doc.contains("domain")) doc["domain"] = settings_.domains.front();
  if (!doc.contains("received_at")) doc["received_at"] = core::format_timestamp(now);
  const json& provider = doc["provider"];
  if (provider.is_string() && !contains(settings_.providers, provider.get<std::string>()))
    return core::error{
        "'" + provider.get<std::string>() +
            "' is not allowed on this hook (allowed: " + joined(settings_.providers) + ")",
        "provider"};
  const json& domain = doc["domain"];
  if (domain.is_string() && !contains(settings_.domains, domain.get<std::string>()))
    return core::error{"'" + domain.get<std::string>() +
                           "' is not allowed on this hook (allowed: " + joined(settings_.domains) +
                           ")",
                       "domain"};
  auto source = doc.find("source_id");
  if (source == doc.end() || !source->is_string() || source->get_ref<const std::string&>().empty())
    return core::error{"is required (a non-empty string: your system's id for this message)",
                       "source_id"};
  bool id_given = doc.contains("id");
  if (!id_given && provider.is_string())
    doc["id"] = core::contact_id(provider.get<std::string>(), source->get<std::string>());

  auto c = core::decode_contact(doc.dump(-1, ' ', false, json::error_handler_t::replace));
  if (!c) return c.err();
  if (id_given) {
    std::string expected = core::contact_id(c->provider, c->source_id);
    if (c->id != expected)
      return core::error{"must be contact_id(provider, source_id) = " + expected + " (or left out)",
                         "id"};
  }
  return c;
}

core::result<webhook_mapping> provider::map(const http::request& req,
                                            core::timestamp_ms now) const {
  auto doc = payload::parse_tree(req.body);
  if (!doc) return doc.err();
  webhook_mapping out;
  if (doc->is_object()) {
    auto c = one(*doc, now);
    if (!c) return c.err();
    out.contacts.push_back(std::move(*c));
    return out;
  }
  if (!doc->is_array())
    return core::error{"must be an omni.contact.v1 object or an array of them", ""};
  if (doc->size() > max_batch)
    return core::error{"a batch holds at most " + std::to_string(max_batch) + " contacts, got " +
                           std::to_string(doc->size()),
                       ""};
  if (doc->empty()) return webhook_mapping{{}, "empty batch"};
  for (std::size_t i = 0; i < doc->size(); ++i) {
    auto c = one((*doc)[i], now);
    if (!c) return at_index(c.err(), i);
    out.contacts.push_back(std::move(*c));
  }
  return out;
}

}  // namespace omni::connectors::generic
