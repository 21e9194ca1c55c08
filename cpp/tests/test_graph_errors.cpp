#include <gtest/gtest.h>

#include <string>

#include "wacloud/graph_errors.hpp"

using wacloud::classify_graph_error;
using wacloud::GraphErrorKind;
using wacloud::parse_graph_error;
using wacloud::parse_retry_after;
using wacloud::redact_secret;
using K = GraphErrorKind;

struct Row {
  long code;
  long http_status;
  GraphErrorKind kind;
};

class Classification : public ::testing::TestWithParam<Row> {};

TEST_P(Classification, CodeDecidesThenHttpStatus) {
  const Row& row = GetParam();
  EXPECT_EQ(classify_graph_error(row.code, 0, row.http_status), row.kind)
      << "code " << row.code << " HTTP " << row.http_status;
}

INSTANTIATE_TEST_SUITE_P(
    MetaCodes, Classification,
    ::testing::Values(Row{190, 401, K::kAuthentication}, Row{0, 401, K::kAuthentication},
                      Row{190, 400, K::kAuthentication}, Row{10, 403, K::kPermissionDenied},
                      Row{200, 403, K::kPermissionDenied}, Row{299, 400, K::kPermissionDenied},
                      Row{300, 400, K::kInvalidParameter}, Row{4, 400, K::kRateLimited},
                      Row{80007, 400, K::kRateLimited}, Row{130429, 400, K::kRateLimited},
                      Row{131048, 400, K::kRateLimited}, Row{131056, 400, K::kRateLimited},
                      Row{131047, 400, K::kReEngagement}, Row{131026, 400, K::kRecipient},
                      // Meta's error-code reference: 131051 is an unsupported message type.
                      Row{131051, 400, K::kInvalidParameter}, Row{132000, 400, K::kTemplate},
                      // Account state: 33 business number deleted, 131037 display name not
                      // approved, 131042 payment issue, 133010 number not registered; 130403.
                      Row{33, 400, K::kPermissionDenied}, Row{131037, 400, K::kPermissionDenied},
                      Row{131042, 400, K::kPermissionDenied},
                      Row{133010, 400, K::kPermissionDenied},
                      Row{130403, 400, K::kPermissionDenied}, Row{132001, 404, K::kTemplate},
                      Row{132999, 400, K::kTemplate}, Row{131052, 400, K::kMedia},
                      Row{131053, 400, K::kMedia}, Row{100, 400, K::kInvalidParameter},
                      Row{131008, 400, K::kInvalidParameter},
                      Row{131009, 400, K::kInvalidParameter}, Row{1, 500, K::kTransient},
                      Row{2, 503, K::kTransient}, Row{131000, 500, K::kTransient},
                      Row{131016, 503, K::kTransient},
                      // Unknown codes fall back by HTTP status.
                      Row{987654, 401, K::kAuthentication}, Row{987654, 403, K::kPermissionDenied},
                      Row{987654, 429, K::kRateLimited}, Row{987654, 400, K::kInvalidParameter},
                      Row{987654, 500, K::kTransient}, Row{987654, 504, K::kTransient},
                      Row{987654, 200, K::kOther}));

TEST(Classification, WithoutErrorObjectOnlyStatusCounts) {
  // code 0 would be an OAuth error inside an error object; without one it means nothing.
  EXPECT_EQ(classify_graph_error(0, 0, 500, false), K::kTransient);
  EXPECT_EQ(classify_graph_error(0, 0, 401, false), K::kAuthentication);
  EXPECT_EQ(classify_graph_error(0, 0, 404, false), K::kInvalidParameter);
}

TEST(Classification, OnlyTransientAndThrottlingAreRetriable) {
  EXPECT_TRUE(wacloud::is_retriable(K::kTransient));
  EXPECT_TRUE(wacloud::is_retriable(K::kRateLimited));
  for (K kind :
       {K::kOther, K::kAuthentication, K::kPermissionDenied, K::kReEngagement, K::kRecipient,
        K::kTemplate, K::kMedia, K::kInvalidParameter, K::kDeliveryUnknown}) {
    EXPECT_FALSE(wacloud::is_retriable(kind));
  }
}

TEST(Classification, SpamRateLimitIsThrottlingButNotRetriable) {
  // 131048: the number's quality caps its sends; waiting and resending does not help.
  auto info = parse_graph_error(
      400,
      R"({"error":{"message":"(#131048) Spam rate limit hit","type":"OAuthException","code":131048}})");
  EXPECT_EQ(info.kind, K::kRateLimited);
  EXPECT_FALSE(info.retriable);
  EXPECT_TRUE(parse_graph_error(400, R"({"error":{"message":"x","code":130429}})").retriable);
}

TEST(ParseGraphError, KeepsTheUserTitleAndMessage) {
  // Template management errors explain themselves only in error_user_title / error_user_msg.
  auto info = parse_graph_error(
      400, R"({"error":{"message":"Invalid parameter","type":"OAuthException","code":100,)"
           R"("error_subcode":2388299,"is_transient":false,)"
           R"("error_user_title":"Variables can't be at the start or end of the template",)"
           R"("error_user_msg":"Move the variable.","fbtrace_id":"AXyz"}})");
  EXPECT_EQ(info.user_title, "Variables can't be at the start or end of the template");
  EXPECT_EQ(info.user_message, "Move the variable.");
  EXPECT_EQ(wacloud::redact_secret(info, "Move").user_message, "[redacted] the variable.");
}

TEST(ParseGraphError, UnpacksEveryField) {
  auto info = parse_graph_error(
      400,
      R"({"error":{"message":"(#131009) Parameter value is not valid","type":"OAuthException","code":131009,)"
      R"("error_subcode":2494010,"error_data":{"messaging_product":"whatsapp","details":"bad to"},)"
      R"("fbtrace_id":"AXyz"}})",
      2.5);
  EXPECT_EQ(info.kind, K::kInvalidParameter);
  EXPECT_EQ(info.message, "(#131009) Parameter value is not valid");
  EXPECT_EQ(info.type, "OAuthException");
  EXPECT_EQ(info.code, 131009);
  EXPECT_EQ(info.subcode, 2494010);
  EXPECT_EQ(info.details, "bad to");
  EXPECT_EQ(info.fbtrace_id, "AXyz");
  EXPECT_EQ(info.http_status, 400);
  EXPECT_EQ(info.retry_after, 2.5);
  EXPECT_FALSE(info.retriable);
}

TEST(ParseGraphError, ThrottlingIsRetriable) {
  auto info = parse_graph_error(429, R"({"error":{"message":"limit","code":130429}})");
  EXPECT_EQ(info.kind, K::kRateLimited);
  EXPECT_TRUE(info.retriable);
}

TEST(ParseGraphError, CodesGivenAsStringsStillCount) {
  auto info =
      parse_graph_error(400, R"({"error":{"message":"m","code":"131047","error_subcode":"7"}})");
  EXPECT_EQ(info.kind, K::kReEngagement);
  EXPECT_EQ(info.subcode, 7);
}

TEST(ParseGraphError, BadBodiesGiveClearErrorsNeverThrow) {
  struct Case {
    long status;
    std::string body;
    K kind;
    std::string mentions;
  };
  for (const Case& c :
       {Case{502, "<html>Bad Gateway</html>", K::kTransient, "not valid JSON: <html>"},
        Case{500, "", K::kTransient, "an empty body"},
        Case{400, R"({"error": {"message": "cut)", K::kInvalidParameter, "not valid JSON"},
        Case{401, R"({"ok":true})", K::kAuthentication, "no Graph error object"},
        Case{403, R"({"error":"denied"})", K::kPermissionDenied, "no Graph error object"},
        Case{500, std::string("\x00\xff\x01", 3), K::kTransient, "not valid JSON"},
        Case{400, std::string(10000, '{'), K::kInvalidParameter, "..."}}) {
    wacloud::GraphErrorInfo info;
    ASSERT_NO_THROW(info = parse_graph_error(c.status, c.body));
    EXPECT_EQ(info.kind, c.kind) << c.body.substr(0, 40);
    EXPECT_EQ(info.code, 0);
    EXPECT_NE(info.message.find("HTTP " + std::to_string(c.status)), std::string::npos)
        << info.message;
    EXPECT_NE(info.message.find(c.mentions), std::string::npos) << info.message;
    EXPECT_LT(info.message.size(), 300u);
  }
}

TEST(ParseGraphError, MissingMessageIsFilledIn) {
  auto info = parse_graph_error(400, R"({"error":{"code":100}})");
  EXPECT_EQ(info.message, "Graph API error 100");
}

TEST(RetryAfter, SecondsAndHttpDates) {
  const std::time_t now = 1'700'000'000;  // Tue, 14 Nov 2023 22:13:20 GMT
  EXPECT_EQ(parse_retry_after("120", now), 120.0);
  EXPECT_EQ(parse_retry_after(" 1.5 \r\n", now), 1.5);
  EXPECT_EQ(parse_retry_after("0", now), 0.0);
  EXPECT_EQ(parse_retry_after("Tue, 14 Nov 2023 22:13:50 GMT", now), 30.0);
  EXPECT_EQ(parse_retry_after("Tue, 14 Nov 2023 22:00:00 GMT", now), 0.0);  // in the past
  EXPECT_FALSE(parse_retry_after("", now));
  EXPECT_FALSE(parse_retry_after("soon", now));
  EXPECT_FALSE(parse_retry_after("12abc", now));
  EXPECT_FALSE(parse_retry_after("-5", now));
}

TEST(RedactSecret, KeepsWordsThatOnlyContainTheSecret) {
  EXPECT_EQ(redact_secret("Invalid OAuth access token", "tok"), "Invalid OAuth access token");
  EXPECT_EQ(redact_secret("Invalid OAuth access token", "e"), "Invalid OAuth access token");
  EXPECT_EQ(redact_secret("EAAGabc1 xEAAGabc EAAGabc_ EAAGabc-2 1|EAAGabc", "EAAGabc"),
            "EAAGabc1 xEAAGabc EAAGabc_ EAAGabc-2 1|EAAGabc");
}

TEST(RedactSecret, ReplacesWholeOccurrencesAtEdgesAndBesidePunctuation) {
  EXPECT_EQ(redact_secret("tok", "tok"), "[redacted]");
  EXPECT_EQ(redact_secret("tok is bad", "tok"), "[redacted] is bad");
  EXPECT_EQ(redact_secret("bad tok", "tok"), "bad [redacted]");
  EXPECT_EQ(redact_secret("token tok.", "tok"), "token [redacted].");
  EXPECT_EQ(redact_secret("(tok), \"tok\"; 'tok'!", "tok"),
            "([redacted]), \"[redacted]\"; '[redacted]'!");
  EXPECT_EQ(redact_secret("GET /v21.0/1?access_token=EAAG9x&limit=2", "EAAG9x"),
            "GET /v21.0/1?access_token=[redacted]&limit=2");
  EXPECT_EQ(redact_secret("Bearer EAAG9x\r\n", "EAAG9x"), "Bearer [redacted]\r\n");
}

TEST(RedactSecret, ReplacesEveryRepetition) {
  EXPECT_EQ(redact_secret("tok tok,tok", "tok"), "[redacted] [redacted],[redacted]");
  EXPECT_EQ(redact_secret("ab.ab.ab", "ab"), "[redacted].[redacted].[redacted]");
  // Adjacent occurrences join into one longer run, which is not the secret.
  EXPECT_EQ(redact_secret("toktok", "tok"), "toktok");
  // A secret that starts and ends with punctuation is whole wherever it appears.
  EXPECT_EQ(redact_secret("x.a.a.y", ".a."), "x[redacted]a.y");
}

TEST(RedactSecret, EmptySecretOrTextChangesNothing) {
  EXPECT_EQ(redact_secret("Invalid OAuth access token", ""), "Invalid OAuth access token");
  EXPECT_EQ(redact_secret("", ""), "");
  EXPECT_EQ(redact_secret("", "tok"), "");
  EXPECT_EQ(redact_secret("to", "tok"), "to");
}

TEST(RedactSecret, SecretsInsideTheMarkerGetAnotherMarker) {
  // Each of these would be found again inside "[redacted]".
  EXPECT_EQ(redact_secret("e", "e"), "***");
  EXPECT_EQ(redact_secret("e is e, not me", "e"), "*** is ***, not me");
  EXPECT_EQ(redact_secret("was [redacted] here", "[redacted]"), "was *** here");
  EXPECT_EQ(redact_secret("the redacted part", "redacted"), "the *** part");
  EXPECT_EQ(redact_secret("a [x] b", "["), "a ***x] b");
  EXPECT_EQ(redact_secret("a [x] b", "]"), "a [x*** b");
  EXPECT_EQ(redact_secret("it is [redacted", "[redacted"), "it is ***");
  // The run avoids the secret's first and last characters and outgrows its runs.
  EXPECT_EQ(redact_secret("x *###[ y", "*###["), "x #### y");
  EXPECT_EQ(redact_secret("x *[redacted]# y", "*[redacted]#"), "x ~~~ y");
  // Secrets that can only sit beside "[redacted]", never across it, keep it.
  EXPECT_EQ(redact_secret("x *###] y", "*###]"), "x [redacted] y");
}

TEST(RedactSecret, AppliesToEveryTextFieldOfAnError) {
  wacloud::GraphErrorInfo info;
  info.code = 190;
  info.message = "Invalid OAuth access token EAAG9x";
  info.type = "EAAG9x";
  info.details = "token=EAAG9x";
  info.fbtrace_id = "EAAG9x";
  info = redact_secret(std::move(info), "EAAG9x");
  EXPECT_EQ(info.code, 190);
  EXPECT_EQ(info.message, "Invalid OAuth access token [redacted]");
  EXPECT_EQ(info.type, "[redacted]");
  EXPECT_EQ(info.details, "token=[redacted]");
  EXPECT_EQ(info.fbtrace_id, "[redacted]");
}
