// The ids a webhook body names, read before the body is stored: every entry's
// WABA id with each of its changes' metadata.phone_number_id, and the changes'
// fields. The intake routes and authenticates a body with these alone, so it
// needs no events (parse_webhook) and no decoded Python objects.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace wacloud {

struct RoutedChangeIds {
  std::string waba_id;                         // entry.id; "" when missing, null or ""
  std::optional<std::string> phone_number_id;  // nullopt when missing, null or ""

  bool operator==(const RoutedChangeIds& other) const {
    return waba_id == other.waba_id && phone_number_id == other.phone_number_id;
  }
};

struct WebhookRouting {
  std::vector<RoutedChangeIds>
      changes;                      // one per entry[].changes[] item, repeats dropped, in order
  std::vector<std::string> fields;  // each change's non-empty "field", in order
};

// The routing of a body that is a JSON object, read exactly as a full decode
// would read it (integer ids as their decimal text, the last of duplicate keys).
// nullopt when it cannot answer exactly: not JSON, not UTF-8, not an object,
// nested deeper than kWebhookMaxDepth, or an id or field that is neither a
// string, an integer nor null. The caller then decodes the body in full, which
// also names what is wrong with it.
std::optional<WebhookRouting> webhook_routing(std::string_view body);

}  // namespace wacloud
