// libFuzzer target: arbitrary bytes through parse() and normalize() with a few
// default regions. Only InvalidPhoneNumber may escape the core; anything else,
// a crash, or a broken round trip aborts the run.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "wacloud/phone.hpp"

namespace {

// wa_ids must be stable: normalizing a wa_id (no region) gives it back, and the
// E.164 form parses to the same number.
void check_round_trip(const std::string& wa_id) {
  if (wacloud::normalize(wa_id) != wa_id) std::abort();
  if (wacloud::parse("+" + wa_id).wa_id != wa_id) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  for (std::string_view region : {"", "US", "GB", "DE", "IN", "BR", "IT"}) {
    bool possible = false;
    try {
      const wacloud::PhoneNumber number = wacloud::parse(input, region);
      if (number.e164 != "+" + number.wa_id) std::abort();
      possible = number.is_possible;
    } catch (const wacloud::InvalidPhoneNumber&) {
    }
    // normalize() accepts exactly the numbers parse() calls possible.
    try {
      check_round_trip(wacloud::normalize(input, region));
      if (!possible) std::abort();
    } catch (const wacloud::InvalidPhoneNumber&) {
      if (possible) std::abort();
    }
  }
  try {
    wacloud::is_same_number(input, input.substr(size / 2), "FR");
  } catch (const wacloud::InvalidPhoneNumber&) {
    std::abort();  // only an unknown region may throw, and "FR" is known
  }
  return 0;
}
