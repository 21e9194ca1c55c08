// See wacloud/webhook_routing.hpp.
#include "wacloud/webhook_routing.hpp"

#include <algorithm>
#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <cstdint>
#include <string>
#include <utility>

#include "wacloud/webhook.hpp"

namespace wacloud {
namespace {

namespace json = boost::json;

// Why the caller must decode the body itself.
struct NotExact {};

// A key's value as text: strings as they are, integers in decimal, nullopt for
// missing, null and "". Anything else (a float, a bool, an array) would be
// rendered by the caller's own rules: not guessed here.
std::optional<std::string> id_text(const json::object& object, std::string_view key) {
  const json::value* value = object.if_contains(key);
  if (value == nullptr || value->is_null()) return std::nullopt;
  if (const json::string* text = value->if_string()) {
    if (text->empty()) return std::nullopt;
    return std::string(text->data(), text->size());
  }
  if (const std::int64_t* number = value->if_int64()) return std::to_string(*number);
  if (const std::uint64_t* number = value->if_uint64()) return std::to_string(*number);
  throw NotExact{};
}

// A change's "field" when it counts: a non-empty string or a non-zero integer.
std::optional<std::string> field_text(const json::object& change) {
  const json::value* value = change.if_contains("field");
  if (value == nullptr || value->is_null()) return std::nullopt;
  if (const std::int64_t* number = value->if_int64()) {
    if (*number == 0) return std::nullopt;
  } else if (const std::uint64_t* number = value->if_uint64()) {
    if (*number == 0) return std::nullopt;
  }
  return id_text(change, "field");
}

const json::object* object_at(const json::object* object, std::string_view key) {
  const json::value* value = object ? object->if_contains(key) : nullptr;
  return value ? value->if_object() : nullptr;
}

WebhookRouting route(const json::object& body) {
  WebhookRouting routing;
  const json::value* entries = body.if_contains("entry");
  const json::array* entry_list = entries ? entries->if_array() : nullptr;
  if (entry_list == nullptr) return routing;
  for (const json::value& entry_value : *entry_list) {
    const json::object* entry = entry_value.if_object();
    if (entry == nullptr) continue;
    const std::string waba_id = id_text(*entry, "id").value_or("");
    const json::value* changes = entry->if_contains("changes");
    const json::array* change_list = changes ? changes->if_array() : nullptr;
    if (change_list == nullptr) continue;
    for (const json::value& change_value : *change_list) {
      // Every item names the entry's WABA, even one that is not an object.
      const json::object* change = change_value.if_object();
      const json::object* metadata = object_at(object_at(change, "value"), "metadata");
      RoutedChangeIds ids{waba_id, metadata ? id_text(*metadata, "phone_number_id") : std::nullopt};
      if (std::find(routing.changes.begin(), routing.changes.end(), ids) == routing.changes.end()) {
        routing.changes.push_back(std::move(ids));
      }
      if (change != nullptr) {
        if (std::optional<std::string> field = field_text(*change))
          routing.fields.push_back(*field);
      }
    }
  }
  return routing;
}

}  // namespace

std::optional<WebhookRouting> webhook_routing(std::string_view body) {
  // Routing bodies are small: the tree usually fits the stack buffer, no heap at all.
  unsigned char buffer[8192];
  json::monotonic_resource arena(buffer, sizeof buffer);
  json::parse_options options;
  options.max_depth = kWebhookMaxDepth;
  json::error_code error;
  const json::value document = json::parse(body, error, json::storage_ptr(&arena), options);
  if (error || !document.is_object()) return std::nullopt;
  try {
    return route(document.get_object());
  } catch (const NotExact&) {
    return std::nullopt;
  }
}

}  // namespace wacloud
