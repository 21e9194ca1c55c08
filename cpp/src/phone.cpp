#include "wacloud/phone.hpp"

#include <phonenumbers/phonemetadata.pb.h>
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

// The metadata libphonenumber was built with, as the serialized
// PhoneMetadataCollection its PhoneNumberUtil loads (its metadata.h, which
// Debian does not install, declares these).
namespace i18n::phonenumbers {
int metadata_size();
const void* metadata_get();
}  // namespace i18n::phonenumbers

namespace wacloud {
namespace {

namespace pn = i18n::phonenumbers;
using Util = pn::PhoneNumberUtil;

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

bool is_separator(char c) {
  return c == ' ' || c == '\t' || c == '.' || c == '-' || c == '(' || c == ')' || c == '/';
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

// ---- The fast path ------------------------------------------------------------
// Most numbers come as "+<country code><number>" with some punctuation, or as
// a bare wa_id. For those, libphonenumber's Parse() (dozens of ICU regular
// expressions) comes down to: take the first one to three digits that are a
// country calling code, keep the rest as the national number unless the
// country's "national prefix for parsing" can match at its start, and check
// that number's length against the lengths its country has. The tables below
// hold just that, read once from the library's own metadata and functions, so
// the answer is the library's. Whenever a number could take another branch (a
// national prefix that may be stripped, an unknown calling code with a default
// region, characters libphonenumber might read otherwise, ...), the fast path
// answers kUnsure and the number takes the full path.

using DigitSet = std::uint16_t;  // bit d stands for the digit d
constexpr DigitSet kAnyDigit = 0x3FF;
constexpr std::size_t kMaxNationalLength = 17;  // libphonenumber's kMaxLengthForNsn
constexpr std::size_t kMaxQuickLength = 64;     // longer text takes the full path

DigitSet digit_bit(char digit) { return static_cast<DigitSet>(1u << (digit - '0')); }

// What a regular expression of libphonenumber's metadata can do at the start of
// a string of ASCII digits: the digits a non-empty match can begin with, and
// whether it can match nothing. Over-approximated: syntax this reader does not
// know counts as "any digit, or nothing", which only sends more numbers to the
// full path.
struct MatchStart {
  DigitSet first = 0;
  bool nullable = false;
};

class MatchStartReader {
 public:
  static MatchStart of(std::string_view pattern) {
    MatchStartReader reader(pattern);
    const MatchStart start = reader.alternation();
    if (!reader.ok_ || reader.pos_ != pattern.size()) return {kAnyDigit, true};
    return start;
  }

 private:
  explicit MatchStartReader(std::string_view pattern) : pattern_(pattern) {}

  bool at(char c) const { return pos_ < pattern_.size() && pattern_[pos_] == c; }

  MatchStart fail() {
    ok_ = false;
    return {kAnyDigit, true};
  }

  MatchStart alternation() {
    MatchStart start = sequence();
    while (ok_ && at('|')) {
      ++pos_;
      const MatchStart next = sequence();
      start.first |= next.first;
      start.nullable = start.nullable || next.nullable;
    }
    return start;
  }

  MatchStart sequence() {
    MatchStart start{0, true};
    while (ok_ && pos_ < pattern_.size() && !at('|') && !at(')')) {
      const MatchStart item = quantified(atom());
      if (start.nullable) start.first |= item.first;
      start.nullable = start.nullable && item.nullable;
    }
    return start;
  }

  MatchStart atom() {
    const char c = pattern_[pos_++];
    if (c >= '0' && c <= '9') return {digit_bit(c), false};
    switch (c) {
      case '(': {
        if (at('?')) {
          if (pattern_.substr(pos_, 2) != "?:") return fail();  // lookaround, flags
          pos_ += 2;
        }
        const MatchStart inner = alternation();
        if (!at(')')) return fail();
        ++pos_;
        return inner;
      }
      case '[':
        return digit_class();
      case '\\':
        if (!at('d')) return fail();
        ++pos_;
        return {kAnyDigit, false};
      case '.':
        return {kAnyDigit, false};
      case '^':
      case '$':
        return {0, true};  // zero-width
      default:
        return fail();
    }
  }

  // "[...]" of digits, digit ranges and \d; anything else fails.
  MatchStart digit_class() {
    DigitSet set = 0;
    while (pos_ < pattern_.size() && !at(']')) {
      const char c = pattern_[pos_++];
      if (c == '\\' && at('d')) {
        ++pos_;
        set |= kAnyDigit;
        continue;
      }
      if (c < '0' || c > '9') return fail();
      char last = c;
      if (at('-') && pos_ + 1 < pattern_.size() && pattern_[pos_ + 1] != ']') {
        last = pattern_[pos_ + 1];
        if (last < c || last > '9') return fail();
        pos_ += 2;
      }
      for (char d = c; d <= last; ++d) set |= digit_bit(d);
    }
    if (!at(']')) return fail();
    ++pos_;
    return {set, false};
  }

  MatchStart quantified(MatchStart item) {
    if (at('?') || at('*')) {
      ++pos_;
      item.nullable = true;
    } else if (at('+')) {
      ++pos_;
    } else if (at('{')) {
      const std::size_t close = pattern_.find('}', pos_);
      if (close == std::string_view::npos) return fail();
      const std::string_view bounds = pattern_.substr(pos_ + 1, close - pos_ - 1);
      if (bounds.empty() || bounds.find_first_not_of("0123456789,") != std::string_view::npos ||
          bounds[0] == ',') {
        return fail();
      }
      const std::string_view minimum = bounds.substr(0, bounds.find(','));
      if (minimum.find_first_not_of('0') == std::string_view::npos) item.nullable = true;
      pos_ = close + 1;
    } else {
      return item;
    }
    if (at('?') || at('+')) ++pos_;  // lazy or possessive
    return item;
  }

  std::string_view pattern_;
  std::size_t pos_ = 0;
  bool ok_ = true;
};

// What the fast path knows of one country calling code, from the metadata of
// its main region (or of its non-geographic entity): what Parse() and
// IsPossibleNumberWithReason() use for a number written with that code.
struct CallingCodeRules {
  bool known = false;
  // IsPossibleNumberWithReason() of a national number of each length: it
  // depends on nothing else.
  std::array<Util::ValidationResult, kMaxNationalLength + 1> by_length{};
  // The first digits of national numbers from which the national prefix for
  // parsing may strip something.
  DigitSet prefix_starts = 0;
  // That prefix when it is plain digits with no transform rule ("0", "8"); "".
  std::string plain_prefix;
  // The first digits numbers of the country's general pattern can have.
  DigitSet general_starts = kAnyDigit;
};

struct FastPathRules {
  bool ready = false;  // false: the metadata could not be read, every number takes the full path
  std::vector<bool> is_calling_code = std::vector<bool>(1000);
  std::vector<CallingCodeRules> codes = std::vector<CallingCodeRules>(1000);
};

FastPathRules read_fast_path_rules() {
  FastPathRules rules;
  pn::PhoneMetadataCollection collection;
  if (!collection.ParseFromArray(pn::metadata_get(), pn::metadata_size())) return rules;
  std::unordered_map<std::string, const pn::PhoneMetadata*> by_region;
  std::unordered_map<int, const pn::PhoneMetadata*> non_geographic;
  for (const pn::PhoneMetadata& metadata : collection.metadata()) {
    if (metadata.id() == "001") {
      non_geographic[metadata.country_code()] = &metadata;
    } else {
      by_region[metadata.id()] = &metadata;
    }
  }
  for (int code = 1; code < 1000; ++code) {
    std::string region;
    util().GetRegionCodeForCountryCode(code, &region);
    if (region == "ZZ") continue;
    rules.is_calling_code[code] = true;
    const pn::PhoneMetadata* metadata = nullptr;
    if (region == "001") {
      if (auto found = non_geographic.find(code); found != non_geographic.end()) {
        metadata = found->second;
      }
    } else if (auto found = by_region.find(region); found != by_region.end()) {
      metadata = found->second;
    }
    if (metadata == nullptr || metadata->country_code() != code) continue;  // full path

    CallingCodeRules& rule = rules.codes[code];
    pn::PhoneNumber probe;
    probe.set_country_code(code);
    std::uint64_t national = 1;
    for (std::size_t length = 1; length <= kMaxNationalLength; ++length, national *= 10) {
      probe.set_national_number(national);
      rule.by_length[length] = util().IsPossibleNumberWithReason(probe);
    }
    const std::string& prefix = metadata->national_prefix_for_parsing();
    if (!prefix.empty()) {
      rule.prefix_starts = MatchStartReader::of(prefix).first;
      if (metadata->national_prefix_transform_rule().empty() &&
          prefix.find_first_not_of("0123456789") == std::string::npos) {
        rule.plain_prefix = prefix;
      }
    }
    const std::string& general = metadata->general_desc().national_number_pattern();
    // libphonenumber lets an empty pattern match nothing.
    rule.general_starts = general.empty() ? 0 : MatchStartReader::of(general).first;
    rule.known = true;
  }
  rules.ready = true;
  return rules;
}

const FastPathRules& fast_path_rules() {
  static const FastPathRules rules = read_fast_path_rules();
  return rules;
}

// Puts into `digits` the digits libphonenumber reads after the "+" of `input`
// when the text has a shape whose reading the fast path knows; false otherwise.
bool quick_digits(std::string_view input, bool no_region, std::string& digits) {
  digits.clear();
  if (input.size() > kMaxQuickLength) return false;
  // "+44 20-7946.0958", "(+44) 20 7946 0958", "tel:+44-20-7946-0958": the text
  // goes to libphonenumber as it is, which skips what comes before the "+" and
  // ignores this punctuation after it.
  std::size_t i = input.compare(0, 4, "tel:") == 0 ? 4 : 0;
  while (i < input.size() && (input[i] == ' ' || input[i] == '(')) ++i;
  if (i < input.size() && input[i] == '+') {
    for (++i; i < input.size(); ++i) {
      const char c = input[i];
      if (c >= '0' && c <= '9') {
        digits.push_back(c);
      } else if (c != ' ' && c != '-' && c != '.' && c != '(' && c != ')' && c != '/') {
        return false;
      }
    }
    return true;
  }
  // With no region, digits and separators go to libphonenumber as "+<digits>",
  // without a leading "00" (read_number).
  if (!no_region) return false;
  for (char c : input) {
    if (c >= '0' && c <= '9') {
      digits.push_back(c);
    } else if (!is_separator(c)) {
      return false;
    }
  }
  if (digits.compare(0, 2, "00") == 0) digits.erase(0, 2);
  return true;
}

enum class Quick { kUnsure, kPossible, kImpossible };

// A national number that starts with its country's national prefix for
// parsing ("+44 (0)20 ..."): Parse() strips a plain prefix when the number
// does not fit the general pattern as written (known here from its first digit
// alone) and what is left has a possible length or is too long; check_possible
// then reads the E.164 form again, which must not lose another prefix.
Quick quick_after_prefix(const CallingCodeRules& rule, std::size_t code_length,
                         std::string& wa_id) {
  const std::string_view national = std::string_view(wa_id).substr(code_length);
  const std::string& prefix = rule.plain_prefix;
  if (prefix.empty() || national.compare(0, prefix.size(), prefix) != 0 ||
      (rule.general_starts & digit_bit(national[0])) != 0) {
    return Quick::kUnsure;
  }
  const std::string_view stripped = national.substr(prefix.size());
  if (stripped.size() < 2 || stripped.size() > kMaxNationalLength ||
      (rule.prefix_starts & digit_bit(stripped[0])) != 0) {
    return Quick::kUnsure;
  }
  switch (rule.by_length[stripped.size()]) {
    case Util::IS_POSSIBLE:
      wa_id.erase(code_length, prefix.size());
      return Quick::kPossible;
    case Util::TOO_LONG:
      return Quick::kImpossible;
    default:  // the prefix stays, and the number would be read unstripped
      return Quick::kUnsure;
  }
}

// normalize() without libphonenumber's Parse() for the shapes quick_digits()
// knows: kPossible with the wa_id, kImpossible where normalize() would throw,
// kUnsure where only the full path can tell. `wa_id` is scratch space otherwise.
Quick quick_normalize(const FastPathRules& rules, std::string_view input, bool no_region,
                      std::string& wa_id) {
  if (!rules.ready || !quick_digits(input, no_region, wa_id)) return Quick::kUnsure;
  const std::string& digits = wa_id;
  // Shorter: libphonenumber's own errors; longer: longer than any number.
  if (digits.size() < 3 || digits.size() > 3 + kMaxNationalLength) return Quick::kUnsure;
  int code = 0;
  std::size_t code_length = 0;
  if (digits[0] != '0') {  // calling codes never start with 0
    for (std::size_t n = 1; n <= 3; ++n) {
      code = code * 10 + (digits[n - 1] - '0');
      if (rules.is_calling_code[code]) {
        code_length = n;
        break;
      }
    }
  }
  if (code_length == 0) {
    // libphonenumber then tries the digits as a national number of the default region.
    return no_region ? Quick::kImpossible : Quick::kUnsure;
  }
  const CallingCodeRules& rule = rules.codes[code];
  if (!rule.known) return Quick::kUnsure;
  const std::size_t national_length = digits.size() - code_length;
  if (national_length < 2) return Quick::kImpossible;  // Parse(): TOO_SHORT_NSN
  if ((rule.prefix_starts & digit_bit(digits[code_length])) != 0) {
    return quick_after_prefix(rule, code_length, wa_id);
  }
  // Nothing is stripped: the national number is the digits after the code,
  // and its E.164 form reads back the same.
  if (national_length > kMaxNationalLength) return Quick::kImpossible;  // TOO_LONG_NSN
  return rule.by_length[national_length] == Util::IS_POSSIBLE ? Quick::kPossible
                                                              : Quick::kImpossible;
}

// ---- Recent answers -------------------------------------------------------------
// Webhook traffic repeats itself: the same wa_ids over and over. normalize_many()
// keeps the full path's answers (the fast path needs no memory) by (region,
// text), in shards of two halves: when a shard's newer half is full, its older
// half is dropped and the newer one takes its place; a hit in the older half
// moves back to the newer one. At most kShards * 2 * kPerHalf entries of at
// most kMaxQuickLength bytes of text.
class RecentAnswers {
 public:
  using Answer = std::optional<std::string>;

  bool find(const std::string& key, Answer& answer) {
    Shard& shard = shard_for(key);
    std::lock_guard<std::mutex> lock(shard.mutex);
    if (auto hit = shard.newer.find(key); hit != shard.newer.end()) {
      answer = hit->second;
      return true;
    }
    auto hit = shard.older.find(key);
    if (hit == shard.older.end()) return false;
    answer = hit->second;
    auto node = shard.older.extract(hit);
    insert(shard, std::move(node.key()), std::move(node.mapped()));
    return true;
  }

  void put(const std::string& key, const Answer& answer) {
    Shard& shard = shard_for(key);
    std::lock_guard<std::mutex> lock(shard.mutex);
    insert(shard, key, answer);
  }

 private:
  static constexpr std::size_t kShards = 16;
  static constexpr std::size_t kPerHalf = 1024;

  struct Shard {
    std::mutex mutex;
    std::unordered_map<std::string, Answer> newer, older;
  };

  Shard& shard_for(const std::string& key) {
    return shards_[std::hash<std::string>{}(key) % kShards];
  }

  static void insert(Shard& shard, std::string key, Answer answer) {
    if (shard.newer.size() >= kPerHalf) {
      shard.older = std::move(shard.newer);
      shard.newer.clear();
    }
    shard.newer.insert_or_assign(std::move(key), std::move(answer));
  }

  std::array<Shard, kShards> shards_;
};

RecentAnswers& recent_answers() {
  static RecentAnswers answers;
  return answers;
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
