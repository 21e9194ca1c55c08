// libFuzzer target: webhook_routing reads untrusted bodies before anything else does.
// Any bytes give a routing or nullopt; an exception, crash or sanitizer report is a bug.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "wacloud/webhook_routing.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  if (const auto routing = wacloud::webhook_routing(body)) {
    for (const wacloud::RoutedChangeIds& change : routing->changes) {
      static_cast<void>(change.waba_id.size());
      static_cast<void>(change.phone_number_id.has_value());
    }
    static_cast<void>(routing->fields.size());
  }
  return 0;
}
