#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <cmath>
#include <functional>
#include <string>

#include "wacloud/errors.hpp"
#include "wacloud/payloads.hpp"

namespace json = boost::json;
using namespace wacloud;

namespace {

std::string repeat(const std::string& unit, std::size_t times) {
  std::string out;
  for (std::size_t i = 0; i < times; ++i) out += unit;
  return out;
}

std::string build(const Message& message, std::string_view reply_to = {}) {
  return json::serialize(build_message_payload("16505551234", message, reply_to));
}

// The serialized payload, so key order is checked as well as values.
void expect_payload(const Message& message, const std::string& expected_body) {
  std::string head =
      R"({"messaging_product":"whatsapp","recipient_type":"individual","to":"16505551234",)";
  EXPECT_EQ(build(message), head + expected_body);
}

// Fails unless `action` throws kInvalidParameter (code 100) naming `field`.
void expect_invalid(const std::function<void()>& action, const std::string& field) {
  try {
    action();
    ADD_FAILURE() << "no error for " << field;
  } catch (const GraphError& e) {
    EXPECT_EQ(e.info().kind, GraphErrorKind::kInvalidParameter);
    EXPECT_EQ(e.info().code, 100);
    EXPECT_EQ(std::string(e.what()).rfind(field + ": ", 0), 0u) << e.what();
  }
}

void expect_invalid(const Message& message, const std::string& field) {
  expect_invalid([&] { build(message); }, field);
}

ButtonsMessage buttons(std::vector<ReplyButton> list) {
  return ButtonsMessage{"Pick one", std::move(list), {}, {}};
}

ListMessage list_with(std::vector<ListSection> sections) {
  return ListMessage{"Choose", "Options", std::move(sections), {}, {}};
}

}  // namespace

// ---- exact shapes -----------------------------------------------------------

TEST(Payloads, Text) {
  expect_payload(TextMessage{"Hello", false},
                 R"("type":"text","text":{"preview_url":false,"body":"Hello"}})");
  expect_payload(TextMessage{"https://x.org", true},
                 R"("type":"text","text":{"preview_url":true,"body":"https://x.org"}})");
}

TEST(Payloads, ReplyContextComesBeforeType) {
  EXPECT_EQ(
      build(TextMessage{"Hi"}, "wamid.A"),
      R"({"messaging_product":"whatsapp","recipient_type":"individual","to":"16505551234",)"
      R"("context":{"message_id":"wamid.A"},"type":"text","text":{"preview_url":false,"body":"Hi"}})");
}

TEST(Payloads, EveryMediaKind) {
  expect_payload(MediaMessage{MediaKind::kImage, {"123", ""}, std::string("Cat"), {}},
                 R"("type":"image","image":{"id":"123","caption":"Cat"}})");
  expect_payload(MediaMessage{MediaKind::kVideo, {"", "https://e.com/v.mp4"}, {}, {}},
                 R"("type":"video","video":{"link":"https://e.com/v.mp4"}})");
  expect_payload(MediaMessage{MediaKind::kAudio, {"5", ""}, {}, {}},
                 R"("type":"audio","audio":{"id":"5"}})");
  expect_payload(MediaMessage{MediaKind::kSticker, {"6", ""}, {}, {}},
                 R"("type":"sticker","sticker":{"id":"6"}})");
  expect_payload(
      MediaMessage{MediaKind::kDocument, {"7", ""}, std::string("Bill"), std::string("bill.pdf")},
      R"("type":"document","document":{"id":"7","caption":"Bill","filename":"bill.pdf"}})");
}

TEST(Payloads, Location) {
  expect_payload(
      LocationMessage{37.5, -122.25, std::string("HQ"), std::string("1 Way")},
      R"("type":"location","location":{"latitude":3.75E1,"longitude":-1.2225E2,"name":"HQ",)"
      R"("address":"1 Way"}})");
}

TEST(Payloads, ContactsPassThrough) {
  json::array contacts =
      json::parse(R"([{"name":{"formatted_name":"Ada","first_name":"Ada"}}])").as_array();
  expect_payload(
      ContactsMessage{contacts},
      R"("type":"contacts","contacts":[{"name":{"formatted_name":"Ada","first_name":"Ada"}}]})");
}

TEST(Payloads, ReactionAndRemoval) {
  expect_payload(ReactionMessage{"wamid.X", "\xF0\x9F\x91\x8D"},
                 R"("type":"reaction","reaction":{"message_id":"wamid.X","emoji":")"
                 "\xF0\x9F\x91\x8D"
                 R"("}})");
  expect_payload(ReactionMessage{"wamid.X", ""},
                 R"("type":"reaction","reaction":{"message_id":"wamid.X","emoji":""}})");
}

TEST(Payloads, Template) {
  json::array components =
      json::parse(R"([{"type":"body","parameters":[{"type":"text","text":"A"}]}])").as_array();
  expect_payload(
      TemplateMessage{"order_update", "en_US", components},
      R"("type":"template","template":{"name":"order_update","language":{"code":"en_US"},)"
      R"("components":[{"type":"body","parameters":[{"type":"text","text":"A"}]}]}})");
  expect_payload(
      TemplateMessage{"hello_world", "en", {}},
      R"("type":"template","template":{"name":"hello_world","language":{"code":"en"}}})");
}

TEST(Payloads, Buttons) {
  InteractiveHeader header{InteractiveHeader::Kind::kVideo, "", {"9", ""}};
  expect_payload(
      ButtonsMessage{"Body", {{"a", "Yes"}, {"b", "No"}}, header, std::string("Foot")},
      R"("type":"interactive","interactive":{"type":"button","header":{"type":"video",)"
      R"("video":{"id":"9"}},"body":{"text":"Body"},"footer":{"text":"Foot"},"action":{"buttons":[)"
      R"({"type":"reply","reply":{"id":"a","title":"Yes"}},{"type":"reply","reply":{"id":"b","title":"No"}}]}}})");
}

TEST(Payloads, List) {
  ListMessage message{
      "Body",
      "Open",
      {{std::string("S1"), {{"r1", "One", std::string("First")}, {"r2", "Two", {}}}}},
      std::string("Head"),
      {}};
  expect_payload(
      message,
      R"("type":"interactive","interactive":{"type":"list","header":{"type":"text","text":"Head"},)"
      R"("body":{"text":"Body"},"action":{"button":"Open","sections":[{"title":"S1","rows":[)"
      R"({"id":"r1","title":"One","description":"First"},{"id":"r2","title":"Two"}]}]}}})");
}

TEST(Payloads, CtaUrl) {
  InteractiveHeader header{InteractiveHeader::Kind::kText, "Tours", {}};
  expect_payload(
      CtaUrlMessage{"Body", "Visit", "https://e.com/x?a=1", header, std::nullopt},
      R"("type":"interactive","interactive":{"type":"cta_url","header":{"type":"text","text":"Tours"},)"
      R"("body":{"text":"Body"},"action":{"name":"cta_url","parameters":{"display_text":"Visit",)"
      R"("url":"https://e.com/x?a=1"}}}})");
}

TEST(Payloads, MarkRead) {
  EXPECT_EQ(json::serialize(build_mark_read_payload("wamid.Z", false)),
            R"({"messaging_product":"whatsapp","status":"read","message_id":"wamid.Z"})");
  EXPECT_EQ(
      json::serialize(build_mark_read_payload("wamid.Z", true)),
      R"({"messaging_product":"whatsapp","status":"read","message_id":"wamid.Z","typing_indicator":{"type":"text"}})");
  expect_invalid([] { build_mark_read_payload("", false); }, "message_id");
}

// ---- limits: at the limit passes, one over fails -----------------------------

TEST(PayloadLimits, TextBodyCountsCodePointsNotBytes) {
  EXPECT_NO_THROW(build(TextMessage{repeat("a", 4096)}));
  EXPECT_NO_THROW(build(TextMessage{repeat("\xC3\xA9", 4096)}));          // é: 2 bytes
  EXPECT_NO_THROW(build(TextMessage{repeat("\xF0\x9F\x98\x80", 4096)}));  // 😀: 4 bytes
  expect_invalid(TextMessage{repeat("a", 4097)}, "body");
  expect_invalid(TextMessage{repeat("\xC3\xA9", 4097)}, "body");
  expect_invalid(TextMessage{""}, "body");
  expect_invalid(TextMessage{"  \n"}, "body");
}

TEST(PayloadLimits, InvalidUtf8IsRefused) {
  for (std::string bad :
       {"\xC3", "\xFF", "a\xC3(", "\xED\xA0\x80", "\xC0\xAF", "\xF4\x90\x80\x80"}) {
    expect_invalid(TextMessage{bad}, "body");
  }
}

TEST(PayloadLimits, Caption) {
  EXPECT_NO_THROW(build(MediaMessage{MediaKind::kImage, {"1", ""}, repeat("c", 1024), {}}));
  expect_invalid(MediaMessage{MediaKind::kImage, {"1", ""}, repeat("c", 1025), {}}, "caption");
  expect_invalid(MediaMessage{MediaKind::kAudio, {"1", ""}, std::string("c"), {}}, "caption");
  expect_invalid(MediaMessage{MediaKind::kSticker, {"1", ""}, std::string("c"), {}}, "caption");
  expect_invalid(MediaMessage{MediaKind::kImage, {"1", ""}, {}, std::string("a.png")}, "filename");
}

TEST(PayloadLimits, MediaSourceNeedsExactlyOneOfIdOrHttpLink) {
  expect_invalid(MediaMessage{MediaKind::kImage, {"", ""}, {}, {}}, "image");
  expect_invalid(MediaMessage{MediaKind::kImage, {"1", "https://e.com"}, {}, {}}, "image");
  expect_invalid(MediaMessage{MediaKind::kImage, {"", "file:///etc/passwd"}, {}, {}}, "image");
  expect_invalid(MediaMessage{MediaKind::kImage, {"", "https://"}, {}, {}}, "image");
}

TEST(PayloadLimits, ReplyButtons) {
  EXPECT_NO_THROW(build(buttons({{"1", "a"}, {"2", "b"}, {"3", "c"}})));
  expect_invalid(buttons({{"1", "a"}, {"2", "b"}, {"3", "c"}, {"4", "d"}}), "buttons");
  expect_invalid(buttons({}), "buttons");
  EXPECT_NO_THROW(build(buttons({{"1", repeat("t", 20)}})));
  expect_invalid(buttons({{"1", repeat("t", 21)}}), "buttons[0].title");
  EXPECT_NO_THROW(build(buttons({{repeat("i", 256), "t"}})));
  expect_invalid(buttons({{"x", "a"}, {repeat("i", 257), "t"}}), "buttons[1].id");
  expect_invalid(buttons({{"same", "a"}, {"same", "b"}}), "buttons[1].id");
  expect_invalid(buttons({{"1", "Same"}, {"2", "Same"}}), "buttons[1].title");
  expect_invalid(buttons({{"1", ""}}), "buttons[0].title");
  EXPECT_NO_THROW(build(ButtonsMessage{repeat("b", 1024), {{"1", "a"}}, {}, {}}));
  expect_invalid(ButtonsMessage{repeat("b", 1025), {{"1", "a"}}, {}, {}}, "body");
}

TEST(PayloadLimits, HeaderAndFooter) {
  InteractiveHeader at{InteractiveHeader::Kind::kText, repeat("h", 60), {}};
  InteractiveHeader over{InteractiveHeader::Kind::kText, repeat("h", 61), {}};
  EXPECT_NO_THROW(build(ButtonsMessage{"b", {{"1", "a"}}, at, repeat("f", 60)}));
  expect_invalid(ButtonsMessage{"b", {{"1", "a"}}, over, {}}, "header");
  expect_invalid(ButtonsMessage{"b", {{"1", "a"}}, {}, repeat("f", 61)}, "footer");
  InteractiveHeader no_media{InteractiveHeader::Kind::kImage, "", {}};
  expect_invalid(ButtonsMessage{"b", {{"1", "a"}}, no_media, {}}, "header");
  expect_invalid(ListMessage{"b", "o", {{{}, {{"r", "t", {}}}}}, repeat("h", 61), {}}, "header");
}

TEST(PayloadLimits, List) {
  auto one_row = [](std::string id) { return ListSection{std::string("S") + id, {{id, "t", {}}}}; };
  std::vector<ListSection> ten;
  for (int i = 0; i < 10; ++i) ten.push_back(one_row(std::to_string(i)));
  EXPECT_NO_THROW(build(list_with(ten)));
  auto eleven = ten;
  eleven.push_back(one_row("x"));
  expect_invalid(list_with(eleven), "sections");
  ListSection ten_rows{{}, {}};
  for (int i = 0; i < 10; ++i) ten_rows.rows.push_back({std::to_string(i), "t", {}});
  EXPECT_NO_THROW(build(list_with({ten_rows})));
  ListSection more{std::string("More"), {{"x", "t", {}}}};
  ten_rows.title = "Ten";
  expect_invalid(list_with({ten_rows, more}), "sections");  // 11 rows across sections
  expect_invalid(list_with({}), "sections");
  expect_invalid(list_with({ListSection{{}, {}}}), "sections[0].rows");
  EXPECT_NO_THROW(build(
      list_with({{repeat("s", 24), {{repeat("i", 200), repeat("t", 24), repeat("d", 72)}}}})));
  expect_invalid(list_with({{repeat("s", 25), {{"i", "t", {}}}}}), "sections[0].title");
  expect_invalid(list_with({{{}, {{repeat("i", 201), "t", {}}}}}), "sections[0].rows[0].id");
  expect_invalid(list_with({{{}, {{"i", repeat("t", 25), {}}}}}), "sections[0].rows[0].title");
  expect_invalid(list_with({{{}, {{"i", "t", repeat("d", 73)}}}}),
                 "sections[0].rows[0].description");
  expect_invalid(list_with({{{}, {{"i", "t", {}}}}, {std::string("B"), {{"j", "t", {}}}}}),
                 "sections[0].title");
  expect_invalid(
      list_with({{std::string("A"), {{"i", "t", {}}}}, {std::string("B"), {{"i", "u", {}}}}}),
      "sections[1].rows[0].id");
  EXPECT_NO_THROW(build(ListMessage{"b", repeat("o", 20), {one_row("1")}, {}, {}}));
  expect_invalid(ListMessage{"b", repeat("o", 21), {one_row("1")}, {}, {}}, "button");
  EXPECT_NO_THROW(build(ListMessage{repeat("b", 4096), "o", {one_row("1")}, {}, {}}));
  expect_invalid(ListMessage{repeat("b", 4097), "o", {one_row("1")}, {}, {}}, "body");
}

TEST(PayloadLimits, CtaUrl) {
  EXPECT_NO_THROW(build(CtaUrlMessage{repeat("b", 1024), repeat("d", 20), "http://e.com", {}, {}}));
  expect_invalid(CtaUrlMessage{repeat("b", 1025), "d", "https://e.com", {}, {}}, "body");
  expect_invalid(CtaUrlMessage{"b", repeat("d", 21), "https://e.com", {}, {}}, "display_text");
  expect_invalid(CtaUrlMessage{"b", "d", "javascript:alert(1)", {}, {}}, "url");
}

TEST(PayloadLimits, TemplateNameAndLanguage) {
  EXPECT_NO_THROW(build(TemplateMessage{repeat("a", 512), "en_US", {}}));
  expect_invalid(TemplateMessage{repeat("a", 513), "en_US", {}}, "name");
  for (std::string bad : {"", "Hello", "hello-world", "hello world", "caf\xC3\xA9"}) {
    expect_invalid(TemplateMessage{bad, "en_US", {}}, "name");
  }
  for (std::string good : {"en", "fil", "en_US", "zh_HK", "pt_BR"}) {
    EXPECT_NO_THROW(build(TemplateMessage{"t", good, {}})) << good;
  }
  for (std::string bad : {"", "e", "EN", "en-US", "en_us", "english", "en_", "en_USAXX"}) {
    expect_invalid(TemplateMessage{"t", bad, {}}, "language");
  }
  expect_invalid(TemplateMessage{"t", "en", json::array{1}}, "components[0]");
}

// Meta's template creation: parameter_format is POSITIONAL (the default, left out) or NAMED.
TEST(PayloadLimits, TemplateDefinitionParameterFormat) {
  const json::array body{json::object{{"type", "BODY"}, {"text", "Hi {{first_name}}"}}};
  EXPECT_FALSE(build_template_definition("t", "en", "UTILITY", body).contains("parameter_format"));
  EXPECT_EQ(json::serialize(build_template_definition("t", "en", "UTILITY", body, "NAMED")),
            R"({"name":"t","language":"en","category":"UTILITY","components":)"
            R"([{"type":"BODY","text":"Hi {{first_name}}"}],"parameter_format":"NAMED"})");
  EXPECT_EQ(build_template_definition("t", "en", "UTILITY", body, "POSITIONAL")
                .at("parameter_format")
                .as_string(),
            "POSITIONAL");
  for (std::string bad : {"named", "NAME", "ORDERED"}) {
    expect_invalid([&] { build_template_definition("t", "en", "UTILITY", body, bad); },
                   "parameter_format");
  }
}

TEST(PayloadLimits, Coordinates) {
  EXPECT_NO_THROW(build(LocationMessage{90, 180, {}, {}}));
  EXPECT_NO_THROW(build(LocationMessage{-90, -180, {}, {}}));
  expect_invalid(LocationMessage{90.0001, 0, {}, {}}, "latitude");
  expect_invalid(LocationMessage{0, -180.0001, {}, {}}, "longitude");
  expect_invalid(LocationMessage{std::nan(""), 0, {}, {}}, "latitude");
  expect_invalid(LocationMessage{0, INFINITY, {}, {}}, "longitude");
}

TEST(PayloadLimits, ReactionEmoji) {
  for (std::string good : {"\xF0\x9F\x91\x8D",                                 // 👍
                           "\xF0\x9F\x91\x8D\xF0\x9F\x8F\xBD",                 // 👍🏽
                           "\xE2\x9D\xA4\xEF\xB8\x8F",                         // ❤️
                           "\xF0\x9F\x87\xBA\xF0\x9F\x87\xB8",                 // 🇺🇸
                           "1\xEF\xB8\x8F\xE2\x83\xA3",                        // 1️⃣
                           "\xF0\x9F\x91\xA9\xE2\x80\x8D\xF0\x9F\x92\xBB"}) {  // 👩‍💻
    EXPECT_NO_THROW(build(ReactionMessage{"m", good})) << good;
  }
  for (std::string bad :
       {"ok", "\xF0\x9F\x91\x8D\xF0\x9F\x91\x8D", "a\xF0\x9F\x91\x8D", " ",
        "\xF0\x9F\x87\xBA\xF0\x9F\x87\xB8\xF0\x9F\x87\xBA", "\xE2\x80\x8D", "1"}) {
    expect_invalid(ReactionMessage{"m", bad}, "emoji");
  }
  expect_invalid(ReactionMessage{"", "\xF0\x9F\x91\x8D"}, "message_id");
}

TEST(PayloadLimits, Contacts) {
  expect_invalid(ContactsMessage{}, "contacts");
  expect_invalid(ContactsMessage{json::parse(R"([{"name":{}}])").as_array()},
                 "contacts[0].name.formatted_name");
  expect_invalid(ContactsMessage{json::parse(R"([{"name":{"formatted_name":"A"}}, 3])").as_array()},
                 "contacts[1]");
  // Meta's messages reference: at most 5 contact cards per message.
  json::array six;
  for (int i = 0; i < 6; ++i) six.push_back(json::parse(R"({"name":{"formatted_name":"A"}})"));
  expect_invalid(ContactsMessage{six}, "contacts");
  json::array five(six.begin(), six.begin() + 5);
  EXPECT_NO_THROW(build(ContactsMessage{five}));
}

TEST(PayloadLimits, RecipientRequired) {
  expect_invalid([] { build_message_payload("", TextMessage{"x"}); }, "to");
}

// ---- fields from Python ------------------------------------------------------

TEST(MessageFromFields, ReadsEveryType) {
  auto fields = [](const char* text) { return json::parse(text).as_object(); };
  EXPECT_EQ(build(message_from_fields("text", fields(R"({"body":"Hi","preview_url":true})"))),
            build(TextMessage{"Hi", true}));
  EXPECT_EQ(build(message_from_fields(
                "document", fields(R"({"media_id":"7","filename":"a.pdf","link":null})"))),
            build(MediaMessage{MediaKind::kDocument, {"7", ""}, {}, std::string("a.pdf")}));
  EXPECT_EQ(build(message_from_fields("location", fields(R"({"latitude":1,"longitude":2.5})"))),
            build(LocationMessage{1, 2.5, {}, {}}));
  EXPECT_EQ(build(message_from_fields(
                "buttons", fields(R"({"body":"b","buttons":[{"id":"1","title":"a"}],)"
                                  R"("header":{"type":"image","link":"https://e.com/i.png"}})"))),
            build(ButtonsMessage{
                "b",
                {{"1", "a"}},
                InteractiveHeader{InteractiveHeader::Kind::kImage, "", {"", "https://e.com/i.png"}},
                {}}));
  EXPECT_EQ(
      build(message_from_fields(
          "list",
          fields(R"({"body":"b","button":"o","sections":[{"rows":[{"id":"r","title":"t"}]}]})"))),
      build(ListMessage{"b", "o", {{{}, {{"r", "t", {}}}}}, {}, {}}));
}

TEST(MessageFromFields, WrongTypesNameTheField) {
  auto fields = [](const char* text) { return json::parse(text).as_object(); };
  expect_invalid([&] { message_from_fields("text", fields(R"({"body":5})")); }, "body");
  expect_invalid([&] { message_from_fields("text", fields(R"({})")); }, "body");
  expect_invalid(
      [&] { message_from_fields("text", fields(R"({"body":"x","preview_url":"yes"})")); },
      "preview_url");
  expect_invalid(
      [&] { message_from_fields("location", fields(R"({"latitude":"1","longitude":2})")); },
      "latitude");
  expect_invalid(
      [&] {
        message_from_fields("buttons", fields(R"({"body":"b","buttons":[{"id":"1","title":2}]})"));
      },
      "buttons[0].title");
  expect_invalid([&] { message_from_fields("buttons", fields(R"({"body":"b","buttons":["x"]})")); },
                 "buttons[0]");
  expect_invalid(
      [&] {
        message_from_fields(
            "list", fields(R"({"body":"b","button":"o","sections":[{"rows":[{"id":1}]}]})"));
      },
      "sections[0].rows[0].id");
  expect_invalid(
      [&] {
        message_from_fields(
            "cta_url",
            fields(R"({"body":"b","display_text":"d","url":"u","header":{"type":"gif"}})"));
      },
      "header.type");
  expect_invalid([&] { message_from_fields("poll", fields("{}")); }, "type");
}

TEST(BusinessProfile, FieldsAndLimits) {
  auto profile = [](const char* text) {
    return build_business_profile_update(json::parse(text).as_object());
  };
  EXPECT_EQ(json::serialize(profile(R"({"about":"Hi","websites":["https://a.com"]})")),
            R"({"messaging_product":"whatsapp","about":"Hi","websites":["https://a.com"]})");
  EXPECT_NO_THROW(profile(R"({"address":""})"));  // clearing a field
  expect_invalid([&] { profile(R"({"color":"red"})"); }, "color");
  expect_invalid([&] { profile((R"({"about":")" + repeat("a", 140) + R"("})").c_str()); }, "about");
  expect_invalid([&] { profile(R"({"websites":["https://a","https://b","https://c"]})"); },
                 "websites");
  expect_invalid([&] { profile("{}"); }, "fields");
}
