#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "wacloud/phone.hpp"

using wacloud::InvalidPhoneNumber;
using wacloud::NumberType;
using wacloud::PhoneErrorReason;

namespace {

// The reason `call` throws InvalidPhoneNumber with; fails the test otherwise.
template <typename Call>
PhoneErrorReason reason_of(Call call) {
  try {
    call();
  } catch (const InvalidPhoneNumber& e) {
    EXPECT_NE(std::string(e.what()).find('"'), std::string::npos) << "message quotes the input";
    return e.reason();
  }
  ADD_FAILURE() << "expected InvalidPhoneNumber";
  return PhoneErrorReason::kInvalidNumber;
}

PhoneErrorReason normalize_reason(const std::string& number, const std::string& region = "") {
  return reason_of([&] { wacloud::normalize(number, region); });
}

}  // namespace

TEST(Phone, ParseFillsEveryField) {
  const wacloud::PhoneNumber gb = wacloud::parse("020 7946 0958", "GB");
  EXPECT_EQ(gb.e164, "+442079460958");
  EXPECT_EQ(gb.wa_id, "442079460958");
  EXPECT_EQ(gb.region, "GB");
  EXPECT_EQ(gb.country_code, 44);
  EXPECT_EQ(gb.national_number, "2079460958");
  EXPECT_EQ(gb.number_type, NumberType::kFixedLine);
  EXPECT_EQ(gb.international, "+44 20 7946 0958");
  EXPECT_TRUE(gb.is_valid);
  EXPECT_TRUE(gb.is_possible);

  const wacloud::PhoneNumber mobile = wacloud::parse("+44 7400 123456");
  EXPECT_EQ(mobile.number_type, NumberType::kMobile);
  EXPECT_STREQ(wacloud::number_type_name(mobile.number_type), "mobile");
}

TEST(Phone, KeepsItalianLeadingZeroAndNonGeographicRegion) {
  const wacloud::PhoneNumber rome = wacloud::parse("06 1234 5678", "it");
  EXPECT_EQ(rome.e164, "+390612345678");
  EXPECT_EQ(rome.national_number, "0612345678");
  const wacloud::PhoneNumber freephone = wacloud::parse("+800 1234 5678");
  EXPECT_EQ(freephone.region, "");
  EXPECT_EQ(freephone.number_type, NumberType::kTollFree);
}

TEST(Phone, PossibleButInvalidNumbersParseAndNormalize) {
  const wacloud::PhoneNumber fictional = wacloud::parse("+1 (555) 123-4567");
  EXPECT_TRUE(fictional.is_possible);
  EXPECT_FALSE(fictional.is_valid);
  EXPECT_EQ(fictional.region, "US");  // the main region of +1
  EXPECT_EQ(wacloud::normalize("+1 (555) 123-4567"), "15551234567");
}

TEST(Phone, WaIdRulesWithoutRegion) {
  EXPECT_EQ(wacloud::normalize("15551234567"), "15551234567");
  EXPECT_EQ(wacloud::normalize("+15551234567"), "15551234567");
  EXPECT_EQ(wacloud::normalize("0044 20 7946 0958"), "442079460958");
  EXPECT_EQ(wacloud::normalize("44.20.7946.0958"), "442079460958");
  EXPECT_EQ(wacloud::normalize("tel:+1-202-555-0100"), "12025550100");
  EXPECT_EQ(wacloud::to_e164("447400123456"), "+447400123456");
  EXPECT_EQ(wacloud::display("12025550100"), "+1 202-555-0100");
}

TEST(Phone, WaIdRulesWithRegion) {
  EXPECT_EQ(wacloud::normalize("(202) 555-0100", "US"), "12025550100");
  EXPECT_EQ(wacloud::normalize("1 202 555 0100", "US"), "12025550100");
  // The region's own international prefix, and the common "00".
  EXPECT_EQ(wacloud::normalize("011 44 20 7946 0958", "US"), "442079460958");
  EXPECT_EQ(wacloud::normalize("0011 44 20 7946 0958", "AU"), "442079460958");
  EXPECT_EQ(wacloud::normalize("0044 20 7946 0958", "US"), "442079460958");
  // Not a US number at all, but a British wa_id.
  EXPECT_EQ(wacloud::normalize("447400123456", "US"), "447400123456");
  // Valid as a German national number: the region wins over "+1 512 ...".
  EXPECT_EQ(wacloud::normalize("15123456789", "DE"), "4915123456789");
  // A "+" makes the region irrelevant.
  EXPECT_EQ(wacloud::normalize("+44 20 7946 0958", "US"), "442079460958");
}

TEST(Phone, EachErrorReason) {
  EXPECT_EQ(normalize_reason("hello"), PhoneErrorReason::kNotANumber);
  EXPECT_EQ(normalize_reason(""), PhoneErrorReason::kNotANumber);
  EXPECT_EQ(normalize_reason("+1 555\xff"), PhoneErrorReason::kNotANumber);
  EXPECT_EQ(normalize_reason("+999 123 4567"), PhoneErrorReason::kInvalidCountryCode);
  EXPECT_EQ(normalize_reason("020 7946 0958"), PhoneErrorReason::kInvalidCountryCode);
  EXPECT_EQ(normalize_reason("(020) 7946 0958 / work"), PhoneErrorReason::kInvalidCountryCode);
  EXPECT_EQ(normalize_reason("12"), PhoneErrorReason::kTooShort);
  EXPECT_EQ(normalize_reason("+44 1"), PhoneErrorReason::kTooShort);
  EXPECT_EQ(normalize_reason("555 0100", "US"), PhoneErrorReason::kTooShort);  // local only
  EXPECT_EQ(normalize_reason("+1 202 555 01000"), PhoneErrorReason::kTooLong);
  EXPECT_EQ(normalize_reason("+44 1234567890123456789"), PhoneErrorReason::kTooLong);
  EXPECT_EQ(normalize_reason(std::string(300, '1')), PhoneErrorReason::kTooLong);
  EXPECT_EQ(normalize_reason("+1 202 555 0100 ext. 12"), PhoneErrorReason::kInvalidNumber);
  // +98 strips a trunk "0" once more when its E.164 form is read back: unstable.
  EXPECT_EQ(normalize_reason("+98 0011111"), PhoneErrorReason::kInvalidNumber);
  EXPECT_FALSE(wacloud::parse("+98 0011111").is_possible);
  // +7 numbers have ten digits; eleven is between the shortest and the longest.
  EXPECT_EQ(normalize_reason("+7 922 222 22 222"), PhoneErrorReason::kInvalidNumber);
  EXPECT_EQ(normalize_reason("2025550100", "XX"), PhoneErrorReason::kInvalidCountryCode);
  EXPECT_EQ(normalize_reason("2025550100", "ZZ"), PhoneErrorReason::kInvalidCountryCode);
}

TEST(Phone, ParseThrowsOnlyForUnreadableText) {
  EXPECT_FALSE(wacloud::parse("555 0100", "US").is_possible);
  EXPECT_EQ(reason_of([] { wacloud::parse("not a phone"); }), PhoneErrorReason::kNotANumber);
}

TEST(Phone, ErrorCarriesInputAndSaysWhy) {
  try {
    wacloud::normalize("+1 202 555 01000");
    FAIL() << "expected InvalidPhoneNumber";
  } catch (const InvalidPhoneNumber& e) {
    EXPECT_EQ(e.input(), "+1 202 555 01000");
    EXPECT_EQ(std::string(e.what()), "\"+1 202 555 01000\" is too long for a +1 number");
  }
  try {
    wacloud::normalize("\x80\x81 555");
    FAIL() << "expected InvalidPhoneNumber";
  } catch (const InvalidPhoneNumber& e) {
    EXPECT_EQ(e.input(), "\xEF\xBF\xBD\xEF\xBF\xBD 555");  // invalid bytes replaced
  }
}

TEST(Phone, IsSameNumber) {
  EXPECT_TRUE(wacloud::is_same_number("+44 20 7946 0958", "442079460958"));
  EXPECT_TRUE(wacloud::is_same_number("020 7946 0958", "+44 (0)20 7946 0958", "GB"));
  EXPECT_TRUE(wacloud::is_same_number("15551234567", "+1 555-123-4567"));
  EXPECT_FALSE(wacloud::is_same_number("+44 20 7946 0958", "+44 20 7946 0959"));
  EXPECT_FALSE(wacloud::is_same_number("garbage", "+44 20 7946 0958"));
  EXPECT_FALSE(wacloud::is_same_number("+44 20 7946 0958", ""));
  EXPECT_THROW(wacloud::is_same_number("1", "1", "XX"), InvalidPhoneNumber);
}

TEST(Phone, NormalizeManyKeepsOrderAndMarksBadEntries) {
  const std::vector<std::string> input{"+44 20 7946 0958", "nope", "(202) 555-0100", "", "+999 1",
                                       "0044 7400 123456"};
  const auto out = wacloud::normalize_many(input, "US");
  ASSERT_EQ(out.size(), input.size());
  EXPECT_EQ(out[0], "442079460958");
  EXPECT_EQ(out[1], std::nullopt);
  EXPECT_EQ(out[2], "12025550100");
  EXPECT_EQ(out[3], std::nullopt);
  EXPECT_EQ(out[4], std::nullopt);
  EXPECT_EQ(out[5], "447400123456");
  EXPECT_TRUE(wacloud::normalize_many({}, "").empty());
  EXPECT_THROW(wacloud::normalize_many(input, "Narnia"), InvalidPhoneNumber);
}

TEST(Phone, ConcurrentCallsAgreeWithSerialOnes) {
  const std::vector<std::string> inputs{"+44 20 7946 0958", "15551234567",     "0044 7400 123456",
                                        "+39 06 1234 5678", "+81 3-1234-5678", "+999 1",
                                        "+91 98765 43210",  "not a number"};
  std::vector<std::string> expected;
  for (const auto& input : inputs) {
    try {
      expected.push_back(wacloud::normalize(input));
    } catch (const InvalidPhoneNumber&) {
      expected.push_back("error");
    }
  }
  constexpr int kThreads = 8, kRounds = 300;
  std::vector<int> mismatches(kThreads, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < kRounds; ++round) {
        const std::size_t i = static_cast<std::size_t>(round + t) % inputs.size();
        std::string got;
        try {
          got = wacloud::normalize(inputs[i], round % 2 ? "GB" : "");
        } catch (const InvalidPhoneNumber&) {
          got = "error";
        }
        // "GB" changes nothing for these: all are international or invalid.
        if (got != expected[i]) ++mismatches[t];
      }
    });
  }
  for (auto& thread : threads) thread.join();
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(mismatches[t], 0) << "thread " << t;
}

TEST(Phone, LargeBatchesSplitOverThreadsKeepOrder) {
  // Enough numbers for normalize_many to split them over threads (on a machine
  // with more than one core), good and bad ones mixed.
  const std::vector<std::string> kinds{
      "+44 20 7946 0958", "nope", "(202) 555-0100", "+999 1", "+39 06 1234 5678",
      "0044 7400 123456", "12",   "+81 3-1234-5678"};
  std::vector<std::string> input;
  for (std::size_t i = 0; i < 10'007; ++i) input.push_back(kinds[(i * 5 + i / 3) % kinds.size()]);
  const auto out = wacloud::normalize_many(input, "US");
  ASSERT_EQ(out.size(), input.size());
  for (std::size_t i = 0; i < input.size(); ++i) {
    std::optional<std::string> expected;
    try {
      expected = wacloud::normalize(input[i], "US");
    } catch (const InvalidPhoneNumber&) {
    }
    ASSERT_EQ(out[i], expected) << "entry " << i << ": " << input[i];
  }
}

namespace {

// What normalize() must answer, by the full path: parse() reads every number
// with libphonenumber's Parse(), never the fast path or the recent answers.
std::optional<std::string> full_path_answer(const std::string& text, const std::string& region) {
  try {
    const wacloud::PhoneNumber parsed = wacloud::parse(text, region);
    if (parsed.is_possible) return parsed.wa_id;
  } catch (const InvalidPhoneNumber&) {
  }
  return std::nullopt;
}

std::optional<std::string> normalize_or_nullopt(const std::string& text,
                                                const std::string& region) {
  try {
    return wacloud::normalize(text, region);
  } catch (const InvalidPhoneNumber&) {
    return std::nullopt;
  }
}

// Every country calling code libphonenumber knows.
std::vector<std::string> calling_codes() {
  std::vector<std::string> codes;
  for (int code = 1; code < 1000; ++code) {
    try {
      if (wacloud::parse("+" + std::to_string(code) + "23456789").country_code == code) {
        codes.push_back(std::to_string(code));
      }
    } catch (const InvalidPhoneNumber&) {
    }
  }
  return codes;
}

// `national` written after country code `code` in the ways people (and
// machines) write numbers, the tricky ones included.
std::vector<std::string> shapes(const std::string& code, const std::string& national) {
  const std::string head = national.substr(0, std::min<std::size_t>(3, national.size()));
  const std::string tail = national.substr(head.size());
  return {
      "+" + code + national,
      code + national,                       // a wa_id
      "00" + code + national,                // the international prefix most of the world dials
      "011" + code + national,               // North America's
      "+" + code + " " + head + "-" + tail,  // punctuation
      "+" + code + "." + head + "." + tail,
      " +" + code + " (" + head + ") " + tail + " ",
      "+" + code + " " + head + "/" + tail,
      "(" + code + ") " + head + " " + tail,     // bare digits with separators
      "(+" + code + ") " + national,             // text before the "+"
      "tel:+" + code + "-" + national,           // RFC 3966
      "+" + code + " (0)" + national,            // a trunk prefix kept in parentheses
      "+" + code + " 0" + national,              // ... or not
      "+ " + code + " (0) 0" + national,         // two of them
      "+" + code + "\t" + national,              // a tab: not libphonenumber's punctuation
      code + "\t" + national,                    // ... but a separator of bare digits
      "+" + code + " " + national + " ext. 12",  // an extension
      "+" + code + " " + national + "#",
      "+" + code + national + "x1",
      "++" + code + national,
      "+" + code + " " + head + "ABC" + tail,  // letters
      "0" + national,                          // national forms, for a default region
      national,
      "\xEF\xBC\x8B" + code + national,  // a full-width plus
      // An international prefix after the "+": no calling code starts with 0, so
      // libphonenumber reads the rest as dialled from the default region.
      "+00" + code + national,
      "+011 " + code + " " + national,
      "+" + national,
  };
}

}  // namespace

// The fast path (and the recent answers) must agree with libphonenumber's own
// reading on every number: random national numbers of every length after every
// calling code, starting with every digit (so every trunk prefix is met), in
// every shape above, with and without default regions.
TEST(Phone, FastPathAgreesWithFullPathForEveryCallingCode) {
  const std::vector<std::string> codes = calling_codes();
  ASSERT_GT(codes.size(), 200u);
  const std::vector<std::string> regions{"",   "",   "",   "US", "GB", "DE", "IN", "BR",
                                         "AR", "IR", "IT", "RU", "CN", "MX", "AU", "NG"};
  std::mt19937 random(20240611);
  const auto pick = [&random](std::size_t count) {
    return std::uniform_int_distribution<std::size_t>(0, count - 1)(random);
  };
  std::map<std::string, std::vector<std::string>> by_region;
  for (const std::string& code : codes) {
    for (char first = '0'; first <= '9'; ++first) {
      for (std::size_t length = 0; length <= 18; ++length) {
        std::string national;
        for (std::size_t i = 0; i < length; ++i) {
          national.push_back(i == 0 ? first : static_cast<char>('0' + pick(10)));
        }
        const std::vector<std::string> written = shapes(code, national);
        for (int k = 0; k < 3; ++k) {
          by_region[regions[pick(regions.size())]].push_back(written[pick(written.size())]);
        }
      }
    }
  }
  // The documented cases, in every region tried.
  for (const std::string& region : regions) {
    for (const char* text :
         {"+98 0011111", ")980011111", "980011111", "+44 (0)20 7946 0958", "+39 06 1234 5678",
          "+1 (202) 555-0100", "+54 9 11 1234 5678", "+7 8 922 222 22 22", "0044 20 7946 0958"}) {
      by_region[region].push_back(text);
    }
  }
  std::size_t cases = 0, mismatches = 0, possible = 0;
  for (const auto& [region, texts] : by_region) {
    const auto batch = wacloud::normalize_many(texts, region);
    const auto again = wacloud::normalize_many(texts, region);  // recent answers now
    for (std::size_t i = 0; i < texts.size(); ++i) {
      const std::optional<std::string> expected = full_path_answer(texts[i], region);
      const std::optional<std::string> single = normalize_or_nullopt(texts[i], region);
      ++cases;
      if (expected) ++possible;
      if (batch[i] != expected || again[i] != expected || single != expected) {
        if (++mismatches <= 20) {
          ADD_FAILURE() << "\"" << texts[i] << "\" region \"" << region << "\": full path "
                        << expected.value_or("-") << ", normalize_many " << batch[i].value_or("-")
                        << " then " << again[i].value_or("-") << ", normalize "
                        << single.value_or("-");
        }
      }
    }
  }
  EXPECT_EQ(mismatches, 0u) << "of " << cases << " numbers";
  EXPECT_GT(possible, cases / 10) << "the inputs should include many possible numbers";
}

TEST(Phone, FastPathShapes) {
  // Each read without libphonenumber's Parse(), and as it reads them.
  EXPECT_EQ(wacloud::normalize("+44 (0)20 7946 0958"), "442079460958");
  EXPECT_EQ(wacloud::normalize("(+44) 20 7946 0958", "US"), "442079460958");
  EXPECT_EQ(wacloud::normalize("tel:+44-20-7946-0958"), "442079460958");
  EXPECT_EQ(wacloud::normalize("+39 06 1234 5678"), "390612345678");  // Italy's leading zero
  EXPECT_EQ(wacloud::normalize("0044\t20 7946 0958"), "442079460958");
  EXPECT_EQ(wacloud::to_e164("447400123456"), "+447400123456");
  const auto out = wacloud::normalize_many(
      {"+44 20 7946 0958", "+999 1234 5678", "+1 202 555 01000", "+44 1", "+98 0011111"});
  EXPECT_EQ(out, (std::vector<std::optional<std::string>>{
                     "442079460958", std::nullopt, std::nullopt, std::nullopt, std::nullopt}));
}
