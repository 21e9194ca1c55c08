// libFuzzer target: any bytes either parse into events or throw
// WebhookPayloadError. Any other exception, crash or sanitizer report is a bug.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "wacloud/webhook.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  try {
    for (const wacloud::Event& event : wacloud::parse_webhook(body)) {
      // Touch what the binding reads so a dangling raw pointer would be caught.
      static_cast<void>(event.raw.get().size());
      static_cast<void>(event.type());
    }
  } catch (const wacloud::WebhookPayloadError&) {
  }
  return 0;
}
