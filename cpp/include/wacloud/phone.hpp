// Phone numbers as WhatsApp sees them, over Google's libphonenumber (whose
// types stay out of this header).
//
// How input is read (every function here uses the same rules):
// - Formatting is ignored: spaces, dots, dashes, parentheses and slashes.
// - "+" or "00" in front means the country calling code follows:
//   "+44 20 7946 0958" and "0044 20 7946 0958" are the same number.
// - With no default region, digits without "+" are read as international,
//   because WhatsApp ids (wa_id) are written that way: "15551234567" is
//   "+15551234567". Other text needs a "+" ("tel:+1-202-555-0100").
// - With a default region (a CLDR code such as "GB"; case does not matter),
//   a number without "+" is read as a national number of that region
//   ("020 7946 0958" in "GB"), with that region's trunk and international
//   prefixes ("0011 44 ..." in "AU"). A digits-only number is read as
//   "+digits" instead when that reading is valid and the national one is not,
//   or when the national reading cannot be parsed or has an impossible length
//   and the international one has a possible length: "447911123456" in "US"
//   is "+447911123456", while "15123456789" in "DE" stays German.
// - An unknown region code throws InvalidPhoneNumber (invalid country code).
// - Extensions ("ext. 12") are refused: a WhatsApp number cannot have one.
//
// "Valid" means the number is in a range its country has assigned (by the
// metadata libphonenumber was built with); "possible" means only that it has a
// length numbers of its country have, can be dialled from abroad (is not a
// local-only number missing its area code) and reads back from its own E.164
// form as the same number (libphonenumber strips a trunk prefix after some
// country codes, so "+98 0011111" would not). WhatsApp accepts possible numbers
// (new ranges appear before the metadata knows them), so normalize() and
// friends require only that; parse() reports both.
//
// normalize(), to_e164() and normalize_many() read the common shapes ("+" or
// "00" and the country calling code, or a bare wa_id, with the usual
// punctuation) without libphonenumber's regular expressions, from tables taken
// once from its metadata, and fall back to libphonenumber's own parsing
// whenever a number could read otherwise (a trunk prefix that might be
// stripped, a default region that could matter, unusual characters): the
// answers are the same, only faster.
//
// All functions are thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "wacloud/errors.hpp"

namespace wacloud {

enum class NumberType {
  kFixedLine,
  kMobile,
  kFixedLineOrMobile,  // regions such as the US cannot tell the two apart
  kTollFree,
  kPremiumRate,
  kSharedCost,
  kVoip,
  kPersonalNumber,
  kPager,
  kUan,        // "universal access" company numbers
  kVoicemail,  // voicemail access numbers
  kUnknown,
};

// "fixed_line", "mobile", ...: the names Python and the docs use.
const char* number_type_name(NumberType type) noexcept;

struct PhoneNumber {
  std::string e164;             // "+447911123456"
  std::string wa_id;            // "447911123456": E.164 without the "+"
  std::string region;           // "GB"; "" for non-geographic numbers (+800, +882, ...)
  int country_code = 0;         // 44
  std::string national_number;  // "7911123456", keeping meaningful leading zeros (Italy)
  NumberType number_type = NumberType::kUnknown;
  std::string international;  // "+44 7911 123456"
  bool is_valid = false;
  bool is_possible = false;
};

// Reads `number` by the rules above. Throws InvalidPhoneNumber only when the
// text cannot be read as a phone number at all (or has an extension, or the
// region is unknown); a number that is readable but impossible comes back
// with is_possible == false.
PhoneNumber parse(std::string_view number, std::string_view default_region = "");

// The wa_id ("15551234567") of a possible number; throws InvalidPhoneNumber
// with the reason otherwise (too short, too long, invalid number, ...).
std::string normalize(std::string_view number, std::string_view default_region = "");

// "+15551234567", with the same checks as normalize().
std::string to_e164(std::string_view number, std::string_view default_region = "");

// The international display format, "+1 555-123-4567", with the same checks.
std::string display(std::string_view number, std::string_view default_region = "");

// Whether both read as the same E.164 number. False, never an exception, when
// either cannot be read; an unknown region still throws.
bool is_same_number(std::string_view a, std::string_view b, std::string_view default_region = "");

// normalize() over many numbers: std::nullopt where an entry is not a possible
// number, in input order. Large batches (thousands of numbers) are split over
// the machine's cores. Answers that needed libphonenumber's parsing are
// remembered in a bounded, process-wide cache keyed by (text, region), so
// numbers that recur (webhook traffic) cost a lookup. Throws only for an
// unknown region.
std::vector<std::optional<std::string>> normalize_many(const std::vector<std::string>& numbers,
                                                       std::string_view default_region = "");

}  // namespace wacloud
