#include "wacloud/phone.hpp"

#include <phonenumbers/phonenumberutil.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <system_error>
#include <thread>
#include <unordered_map>

#include "phone_fast.hpp"

namespace wacloud {
namespace {

namespace pn = i18n::phonenumbers;
using Util = pn::PhoneNumberUtil;
using phone_fast::fast_path_rules;
using phone_fast::FastPathRules;
using phone_fast::is_separator;
using phone_fast::kMaxQuickLength;
using phone_fast::Quick;
using phone_fast::quick_normalize;
using phone_fast::recent_answers;
using phone_fast::RecentAnswers;

// libphonenumber refuses longer input itself; checking first gives a clearer message.
constexpr std::size_t kMaxInputLength = 250;
constexpr std::size_t kMaxQuotedLength = 64;

// Its own lazily built, thread-safe singleton.
const Util& util() { return *Util::GetInstance(); }

struct Failure {
  PhoneErrorReason reason = PhoneErrorReason::kInvalidNumber;
  std::string why;
};

// Length of the well-formed UTF-8 sequence starting at text[i], or 0.
std::size_t utf8_sequence_length(std::string_view text, std::size_t i) {
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(text[k]); };
  unsigned char lead = byte(i);
  if (lead < 0x80) return 1;
  std::size_t length;
  unsigned char low = 0x80, high = 0xBF;  // allowed range of the second byte
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    if (lead == 0xE0) low = 0xA0;   // overlong
    if (lead == 0xED) high = 0x9F;  // UTF-16 surrogates
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    if (lead == 0xF0) low = 0x90;   // overlong
    if (lead == 0xF4) high = 0x8F;  // beyond U+10FFFF
  } else {
    return 0;
  }
  if (i + length > text.size()) return 0;
  if (byte(i + 1) < low || byte(i + 1) > high) return 0;
  for (std::size_t k = 2; k < length; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) return 0;
  }
  return length;
}

bool is_utf8(std::string_view text) {
  for (std::size_t i = 0; i < text.size();) {
    std::size_t length = utf8_sequence_length(text, i);
    if (length == 0) return false;
    i += length;
  }
  return true;
}

// `text` as valid UTF-8 (bad bytes become U+FFFD), at most `limit` bytes, so
// that messages and InvalidPhoneNumber::input() are always safe to decode.
std::string printable(std::string_view text, std::size_t limit) {
  std::string out;
  for (std::size_t i = 0; i < text.size();) {
    std::size_t length = utf8_sequence_length(text, i);
    std::string_view piece = length ? text.substr(i, length) : std::string_view("\xEF\xBF\xBD");
    if (out.size() + piece.size() > limit) {
      out += "...";
      break;
    }
    out += piece;
    i += length ? length : 1;
  }
  return out;
}

[[noreturn]] void fail(std::string_view input, const Failure& failure) {
  throw InvalidPhoneNumber(failure.reason, printable(input, 4 * kMaxInputLength),
                           "\"" + printable(input, kMaxQuotedLength) + "\" " + failure.why);
}

// The region's CLDR code, or "ZZ" (libphonenumber's "unknown") for none.
std::string resolve_region(std::string_view region) {
  if (region.empty()) return "ZZ";
  std::string code;
  if (region.size() <= 3) {
    for (char c : region)
      code.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  }
  if (code.empty() || util().GetCountryCodeForRegion(code) == 0) {
    throw InvalidPhoneNumber(
        PhoneErrorReason::kInvalidCountryCode, "",
        "\"" + printable(region, kMaxQuotedLength) + "\" is not a known region code");
  }
  return code;
}

// The digits of `text` when it holds only ASCII digits and separators; "" otherwise.
std::string bare_digits(std::string_view text) {
  std::string digits;
  for (char c : text) {
    if (c >= '0' && c <= '9') {
      digits.push_back(c);
    } else if (!is_separator(c)) {
      return {};
    }
  }
  return digits;
}

bool starts_with_plus(std::string_view text) {
  std::size_t first = text.find_first_not_of(" \t");
  return first != std::string_view::npos && text[first] == '+';
}

// How the text was read, for error messages that say what to change.
enum class ReadAs { kGivenRegion, kAssumedInternational, kNoCountryCode };

Failure parse_failure(Util::ErrorType error, ReadAs read_as, bool only_digits) {
  switch (error) {
    case Util::NOT_A_NUMBER:
      // libphonenumber wants at least three digits before it calls text a number.
      if (only_digits) return {PhoneErrorReason::kTooShort, "has too few digits"};
      return {PhoneErrorReason::kNotANumber, "is not a phone number"};
    case Util::INVALID_COUNTRY_CODE_ERROR:
      if (read_as == ReadAs::kNoCountryCode) {
        return {PhoneErrorReason::kInvalidCountryCode,
                "has no country code: write it as +<country code><number> or give a default "
                "region"};
      }
      if (read_as == ReadAs::kAssumedInternational) {
        return {PhoneErrorReason::kInvalidCountryCode,
                "does not start with a known country calling code (with no default region, "
                "digits are read as +<country code><number>)"};
      }
      return {PhoneErrorReason::kInvalidCountryCode,
              "does not start with a known country calling code"};
    case Util::TOO_SHORT_AFTER_IDD:
      return {PhoneErrorReason::kTooShort, "is too short after the international prefix"};
    case Util::TOO_SHORT_NSN:
      return {PhoneErrorReason::kTooShort, "is too short to be a phone number"};
    case Util::TOO_LONG_NSN:
      return {PhoneErrorReason::kTooLong, "is too long to be a phone number"};
    case Util::NO_PARSING_ERROR:
      break;
  }
  return {PhoneErrorReason::kInvalidNumber, "is not a phone number"};
}

// libphonenumber's Parse() and IsValidNumber() cost tens of microseconds each
// (ICU regular expressions); the code below calls them only when the answer
// can change the result.
struct Reading {
  pn::PhoneNumber number;
  Util::ErrorType error = Util::NOT_A_NUMBER;

  bool parsed() const { return error == Util::NO_PARSING_ERROR; }
  bool valid() const { return parsed() && util().IsValidNumber(number); }
  // libphonenumber's notion (local-only numbers count); only asked when a
  // digits-only number has two readings to choose from.
  bool possible() const { return parsed() && util().IsPossibleNumber(number); }
};

Reading read_as(const std::string& text, const std::string& region) {
  Reading reading;
  reading.error = util().Parse(text, region, &reading.number);
  return reading;
}

std::string format(const pn::PhoneNumber& number, Util::PhoneNumberFormat style) {
  std::string out;
  util().Format(number, style, &out);
  return out;
}

// A number as read, with what reading it taught us.
struct Read {
  pn::PhoneNumber number;
  std::optional<bool> valid;  // when the reading had to find out
  // Parsing its E.164 form surely gives it back: the digits libphonenumber saw
  // after the country code were already the national number, under the same
  // metadata, so any trunk prefix stripping was already tried and declined.
  bool stable = false;
};

// Reads `input` by the rules of phone.hpp. On failure fills `failure` and
// returns false; the batch path relies on this not throwing.
bool read_number(std::string_view input, const std::string& region, Read& out, Failure& failure) {
  if (input.size() > kMaxInputLength) {
    failure = {PhoneErrorReason::kTooLong,
               "is longer than " + std::to_string(kMaxInputLength) + " bytes"};
    return false;
  }
  if (!is_utf8(input)) {
    failure = {PhoneErrorReason::kNotANumber, "is not valid UTF-8 text"};
    return false;
  }
  const std::string text(input);
  const bool explicit_plus = starts_with_plus(text);
  const std::string digits =
      bare_digits(explicit_plus ? std::string_view(text).substr(text.find('+') + 1) : text);
  // "+digits" for a digits-only number; "00" is the international prefix most
  // of the world dials.
  const std::string international =
      digits.empty() || explicit_plus
          ? std::string()
          : "+" + (digits.compare(0, 2, "00") == 0 ? digits.substr(2) : digits);

  const bool no_region = region == "ZZ";
  const bool as_international = explicit_plus || (no_region && !international.empty());
  Reading primary = read_as(no_region && !international.empty() ? international : text, region);
  Reading* chosen = &primary;
  Reading alternative;
  std::optional<bool> valid;
  if (!no_region && !international.empty()) {
    // A digits-only number that may read better as an international one.
    valid = primary.valid();
    if (!*valid) {
      alternative = read_as(international, "ZZ");
      const bool primary_possible = primary.possible();
      const bool alternative_possible = alternative.possible();
      if ((alternative.parsed() && !primary.parsed()) ||
          (alternative_possible && !primary_possible) ||
          (primary_possible && alternative_possible && alternative.valid())) {
        chosen = &alternative;
        valid.reset();
      }
    }
  }
  if (!chosen->parsed()) {
    const ReadAs read_as = !no_region || explicit_plus ? ReadAs::kGivenRegion
                           : international.empty()     ? ReadAs::kNoCountryCode
                                                       : ReadAs::kAssumedInternational;
    failure = parse_failure(chosen->error, read_as, !digits.empty());
    return false;
  }
  const pn::PhoneNumber& number = chosen->number;
  if (number.has_extension()) {
    failure = {PhoneErrorReason::kInvalidNumber,
               "has an extension, which a WhatsApp number cannot have"};
    return false;
  }
  std::string national;
  util().GetNationalSignificantNumber(number, &national);
  const std::string country = std::to_string(number.country_code());
  if (chosen == &alternative || as_international) {
    const std::string& seen = chosen == &alternative ? international : "+" + digits;
    out.stable = seen == "+" + country + national;
  } else if (!digits.empty() && digits == national) {
    std::string main_region;  // a map lookup that shows in profiles: only when it matters
    util().GetRegionCodeForCountryCode(number.country_code(), &main_region);
    out.stable = region == main_region;
  } else {
    out.stable = false;
  }
  out.number = number;
  out.valid = valid;
  return true;
}

// Succeeds for numbers WhatsApp can address: see "possible" in phone.hpp.
bool check_possible(const Read& read, Failure& failure) {
  const pn::PhoneNumber& number = read.number;
  const std::string country = "+" + std::to_string(number.country_code());
  switch (util().IsPossibleNumberWithReason(number)) {
    case Util::IS_POSSIBLE:
      break;
    case Util::IS_POSSIBLE_LOCAL_ONLY:
      failure = {PhoneErrorReason::kTooShort,
                 "can only be dialled locally: the area code is missing"};
      return false;
    case Util::INVALID_COUNTRY_CODE:
      failure = {PhoneErrorReason::kInvalidCountryCode,
                 "has " + country + ", which is not a country calling code"};
      return false;
    case Util::TOO_SHORT:
      failure = {PhoneErrorReason::kTooShort, "is too short for a " + country + " number"};
      return false;
    case Util::TOO_LONG:
      failure = {PhoneErrorReason::kTooLong, "is too long for a " + country + " number"};
      return false;
    case Util::INVALID_LENGTH:
      failure = {PhoneErrorReason::kInvalidNumber,
                 "has a number of digits that no " + country + " number has"};
      return false;
  }
  if (read.stable) return true;
  // libphonenumber strips a trunk prefix after some country codes ("+98 0..."),
  // so a few numbers read back from their own E.164 form as another number. A
  // wa_id must be stable, so such numbers are refused.
  const std::string e164 = format(number, Util::E164);
  pn::PhoneNumber again;
  if (util().Parse(e164, "ZZ", &again) != Util::NO_PARSING_ERROR ||
      format(again, Util::E164) != e164) {
    failure = {PhoneErrorReason::kInvalidNumber,
               "is ambiguous: written as " + e164 + " it reads as another number"};
    return false;
  }
  return true;
}

// The possible number `input` denotes in `region` (resolved), or throws.
pn::PhoneNumber possible_number(std::string_view input, const std::string& region) {
  Read read;
  Failure failure;
  if (!read_number(input, region, read, failure) || !check_possible(read, failure)) {
    fail(input, failure);
  }
  return read.number;
}

NumberType to_number_type(Util::PhoneNumberType type) {
  switch (type) {
    case Util::FIXED_LINE:
      return NumberType::kFixedLine;
    case Util::MOBILE:
      return NumberType::kMobile;
    case Util::FIXED_LINE_OR_MOBILE:
      return NumberType::kFixedLineOrMobile;
    case Util::TOLL_FREE:
      return NumberType::kTollFree;
    case Util::PREMIUM_RATE:
      return NumberType::kPremiumRate;
    case Util::SHARED_COST:
      return NumberType::kSharedCost;
    case Util::VOIP:
      return NumberType::kVoip;
    case Util::PERSONAL_NUMBER:
      return NumberType::kPersonalNumber;
    case Util::PAGER:
      return NumberType::kPager;
    case Util::UAN:
      return NumberType::kUan;
    case Util::VOICEMAIL:
      return NumberType::kVoicemail;
    case Util::UNKNOWN:
      break;
  }
  return NumberType::kUnknown;
}

// The number's region; for a number in no known range, the main region of
// its country code; "" for non-geographic codes (libphonenumber's "001").
std::string region_of(const pn::PhoneNumber& number) {
  std::string region;
  util().GetRegionCodeForNumber(number, &region);
  if (region == "ZZ") util().GetRegionCodeForCountryCode(number.country_code(), &region);
  if (region == "ZZ" || region == "001") region.clear();
  return region;
}

// normalize_many() spreads batches over the cores: a number costs about 0.1 us
// on the fast path and tens of microseconds of regular expression matching
// inside libphonenumber (which is thread-safe) off it, while a thread costs
// tens of microseconds to start: each gets at least a thousand numbers.
constexpr std::size_t kMinNumbersPerThread = 1000;
constexpr std::size_t kMaxBatchThreads = 16;

std::size_t batch_workers(std::size_t count) {
  if (count < 2 * kMinNumbersPerThread) return 1;
  // Asked once: glibc reads /sys for it, which costs more than a small batch.
  static const std::size_t cores = std::max(1u, std::thread::hardware_concurrency());
  return std::max<std::size_t>(1,
                               std::min({cores, kMaxBatchThreads, count / kMinNumbersPerThread}));
}

// normalize() for numbers[begin, end) into out[begin, end), which start as
// nullopt: the fast path, else a recent answer, else the full path.
void normalize_range(const std::vector<std::string>& numbers, const std::string& region,
                     std::size_t begin, std::size_t end,
                     std::vector<std::optional<std::string>>& out) {
  const FastPathRules& rules = fast_path_rules();
  const bool no_region = region == "ZZ";
  RecentAnswers& recent = recent_answers();
  Read read;
  Failure failure;
  std::string wa_id, key;
  for (std::size_t i = begin; i < end; ++i) {
    const std::string& number = numbers[i];
    switch (quick_normalize(rules, number, no_region, wa_id)) {
      case Quick::kPossible:
        out[i] = wa_id;
        continue;
      case Quick::kImpossible:
        continue;
      case Quick::kUnsure:
        break;
    }
    const bool remembered = number.size() <= kMaxQuickLength;
    if (remembered) {
      key.assign(region).append(1, '\n').append(number);
      if (recent.find(key, out[i])) continue;
    }
    if (read_number(number, region, read, failure) && check_possible(read, failure)) {
      out[i] = format(read.number, Util::E164).substr(1);
    }
    if (remembered) recent.put(key, out[i]);
  }
}

}  // namespace

const char* number_type_name(NumberType type) noexcept {
  switch (type) {
    case NumberType::kFixedLine:
      return "fixed_line";
    case NumberType::kMobile:
      return "mobile";
    case NumberType::kFixedLineOrMobile:
      return "fixed_line_or_mobile";
    case NumberType::kTollFree:
      return "toll_free";
    case NumberType::kPremiumRate:
      return "premium_rate";
    case NumberType::kSharedCost:
      return "shared_cost";
    case NumberType::kVoip:
      return "voip";
    case NumberType::kPersonalNumber:
      return "personal_number";
    case NumberType::kPager:
      return "pager";
    case NumberType::kUan:
      return "uan";
    case NumberType::kVoicemail:
      return "voicemail";
    case NumberType::kUnknown:
      break;
  }
  return "unknown";
}

PhoneNumber parse(std::string_view number, std::string_view default_region) {
  const std::string region = resolve_region(default_region);
  Read read;
  Failure failure;
  if (!read_number(number, region, read, failure)) fail(number, failure);
  const pn::PhoneNumber& parsed = read.number;

  PhoneNumber result;
  result.e164 = format(parsed, Util::E164);
  result.wa_id = result.e164.substr(1);
  result.region = region_of(parsed);
  result.country_code = parsed.country_code();
  util().GetNationalSignificantNumber(parsed, &result.national_number);
  result.number_type = to_number_type(util().GetNumberType(parsed));
  result.international = format(parsed, Util::INTERNATIONAL);
  Failure not_possible;
  result.is_possible = check_possible(read, not_possible);
  // IsValidNumber() is exactly "has a known type" and would match every
  // pattern again.
  result.is_valid = result.number_type != NumberType::kUnknown;
  return result;
}

std::string normalize(std::string_view number, std::string_view default_region) {
  const std::string region = resolve_region(default_region);
  std::string wa_id;
  // Only a possible number is answered fast: the full path says why others fail.
  if (quick_normalize(fast_path_rules(), number, region == "ZZ", wa_id) == Quick::kPossible) {
    return wa_id;
  }
  return format(possible_number(number, region), Util::E164).substr(1);
}

std::string to_e164(std::string_view number, std::string_view default_region) {
  return "+" + normalize(number, default_region);
}

std::string display(std::string_view number, std::string_view default_region) {
  return format(possible_number(number, resolve_region(default_region)), Util::INTERNATIONAL);
}

bool is_same_number(std::string_view a, std::string_view b, std::string_view default_region) {
  const std::string region = resolve_region(default_region);
  Read first, second;
  Failure failure;
  if (!read_number(a, region, first, failure) || !read_number(b, region, second, failure)) {
    return false;
  }
  return format(first.number, Util::E164) == format(second.number, Util::E164);
}

std::vector<std::optional<std::string>> normalize_many(const std::vector<std::string>& numbers,
                                                       std::string_view default_region) {
  const std::string region = resolve_region(default_region);
  std::vector<std::optional<std::string>> out(numbers.size());
  const std::size_t workers = batch_workers(numbers.size());
  if (workers <= 1) {
    normalize_range(numbers, region, 0, numbers.size(), out);
    return out;
  }
  // Contiguous chunks, one per thread: each writes only its own slots of `out`,
  // so the order is kept without locking. The calling thread takes the first.
  const std::size_t chunk = (numbers.size() + workers - 1) / workers;
  std::vector<std::exception_ptr> errors(workers);
  std::vector<std::thread> threads;
  threads.reserve(workers - 1);
  const auto run = [&](std::size_t worker) {
    try {
      const std::size_t begin = worker * chunk;
      normalize_range(numbers, region, begin, std::min(numbers.size(), begin + chunk), out);
    } catch (...) {
      errors[worker] = std::current_exception();
    }
  };
  for (std::size_t worker = 1; worker < workers; ++worker) {
    try {
      threads.emplace_back(run, worker);
    } catch (const std::system_error&) {
      run(worker);  // no thread to be had: this chunk runs here instead
    }
  }
  run(0);
  for (std::thread& thread : threads) thread.join();
  for (const std::exception_ptr& error : errors) {
    if (error) std::rethrow_exception(error);
  }
  return out;
}

}  // namespace wacloud
