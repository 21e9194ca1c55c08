// The fast path of normalize() (phone_fast.hpp says what it is for).
#include "phone_fast.hpp"

#include <phonenumbers/phonemetadata.pb.h>
#include <phonenumbers/phonenumberutil.h>

#include <cstdint>

// The metadata libphonenumber was built with, as the serialized
// PhoneMetadataCollection its PhoneNumberUtil loads (its metadata.h, which
// Debian does not install, declares these).
namespace i18n::phonenumbers {
int metadata_size();
const void* metadata_get();
}  // namespace i18n::phonenumbers

namespace wacloud::phone_fast {

namespace pn = i18n::phonenumbers;
using Util = pn::PhoneNumberUtil;

namespace {

const Util& util() { return *Util::GetInstance(); }

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

}  // namespace

struct FastPathRules {
  bool ready = false;  // false: the metadata could not be read, every number takes the full path
  std::vector<bool> is_calling_code = std::vector<bool>(1000);
  std::vector<CallingCodeRules> codes = std::vector<CallingCodeRules>(1000);
};

static FastPathRules read_fast_path_rules() {
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
static bool quick_digits(std::string_view input, bool no_region, std::string& digits) {
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

// A national number that starts with its country's national prefix for
// parsing ("+44 (0)20 ..."): Parse() strips a plain prefix when the number
// does not fit the general pattern as written (known here from its first digit
// alone) and what is left has a possible length or is too long; check_possible
// then reads the E.164 form again, which must not lose another prefix.
static Quick quick_after_prefix(const CallingCodeRules& rule, std::size_t code_length,
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

RecentAnswers& recent_answers() {
  static RecentAnswers answers;
  return answers;
}

}  // namespace wacloud::phone_fast
