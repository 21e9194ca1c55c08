// Limits and shapes follow Meta's Cloud API reference: text messages (body up
// to 4096 characters), media messages (caption up to 1024), interactive reply
// buttons (body 1024, 1-3 buttons, title 20, id 256, header and footer 60),
// interactive lists (body 4096, button 20, up to 10 sections and 10 rows in
// all, section and row title 24, row id 200, description 72), interactive CTA
// URL (body 1024, button label 20), interactive Flows (body 1024, flow_cta 30,
// flow_message_version 3), reactions, locations, contacts (1-5 cards), templates
// (name: lowercase letters, digits and underscores, up to 512) and marking
// messages as read (optionally with a typing indicator).
#include "wacloud/payloads.hpp"

#include <cmath>
#include <set>

#include "payload_products.hpp"
#include "wacloud/errors.hpp"

namespace wacloud {
namespace json = boost::json;

void throw_invalid_parameter(std::string_view field, std::string_view problem) {
  GraphErrorInfo info;
  info.kind = GraphErrorKind::kInvalidParameter;
  info.code = 100;
  info.message = std::string(field) + ": " + std::string(problem);
  throw GraphError(std::move(info));
}

namespace {

// Decodes UTF-8, returning the code points; throws on malformed input so that
// nothing Meta would reject as garbled text leaves the process.
std::vector<char32_t> decode_utf8(std::string_view text, std::string_view field) {
  std::vector<char32_t> out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size();) {
    auto byte = static_cast<unsigned char>(text[i]);
    std::size_t length = byte < 0x80           ? 1
                         : (byte >> 5) == 0x6  ? 2
                         : (byte >> 4) == 0xE  ? 3
                         : (byte >> 3) == 0x1E ? 4
                                               : 0;
    if (length == 0 || i + length > text.size())
      throw_invalid_parameter(field, "is not valid UTF-8");
    char32_t cp = length == 1 ? byte : byte & (0x7F >> length);
    for (std::size_t k = 1; k < length; ++k) {
      auto next = static_cast<unsigned char>(text[i + k]);
      if ((next & 0xC0) != 0x80) throw_invalid_parameter(field, "is not valid UTF-8");
      cp = (cp << 6) | (next & 0x3F);
    }
    static constexpr char32_t kMinimum[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMinimum[length] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
      throw_invalid_parameter(field, "is not valid UTF-8");
    }
    out.push_back(cp);
    i += length;
  }
  return out;
}

bool is_blank(std::string_view text) {
  return text.find_first_not_of(" \t\r\n") == std::string_view::npos;
}

// Non-empty (not only whitespace) and at most `max` characters.
void check_text(std::string_view text, std::string_view field, std::size_t max) {
  if (is_blank(text)) throw_invalid_parameter(field, "must not be empty");
  std::size_t count = count_code_points(text, field);
  if (count > max) {
    throw_invalid_parameter(field, "is " + std::to_string(count) +
                                       " characters; Meta allows at most " + std::to_string(max));
  }
}

// An identifier or name with no documented length: present and valid text.
void check_name(std::string_view text, std::string_view field) {
  if (is_blank(text)) throw_invalid_parameter(field, "must not be empty");
  count_code_points(text, field);
}

bool is_http_url(std::string_view url) {
  for (std::string_view scheme : {"https://", "http://"}) {
    if (url.size() > scheme.size() && url.substr(0, scheme.size()) == scheme &&
        url.find_first_of(" \t\r\n") == std::string_view::npos) {
      return true;
    }
  }
  return false;
}

json::object media_object(const MediaSource& media, std::string_view field) {
  bool has_id = !media.id.empty(), has_link = !media.link.empty();
  if (has_id == has_link) throw_invalid_parameter(field, "give exactly one of media_id or link");
  json::object object;
  if (has_id) {
    object["id"] = media.id;
  } else {
    if (!is_http_url(media.link)) throw_invalid_parameter(field, "link must be an http(s) URL");
    object["link"] = media.link;
  }
  return object;
}

json::object header_object(const InteractiveHeader& header) {
  using Kind = InteractiveHeader::Kind;
  json::object object;
  if (header.kind == Kind::kText) {
    check_text(header.text, "header", limits::kHeaderText);
    object["type"] = "text";
    object["text"] = header.text;
    return object;
  }
  const char* type = header.kind == Kind::kImage   ? "image"
                     : header.kind == Kind::kVideo ? "video"
                                                   : "document";
  object["type"] = type;
  object[type] = media_object(header.media, "header");
  return object;
}

void put_footer(json::object& interactive, const std::optional<std::string>& footer) {
  if (!footer) return;
  check_text(*footer, "footer", limits::kFooterText);
  interactive["footer"] = json::object{{"text", *footer}};
}

bool is_emoji_base(char32_t cp) {
  return cp == 0xA9 || cp == 0xAE || (cp >= 0x203C && cp <= 0x3299) ||
         (cp >= 0x1F000 && cp <= 0x1FAFF);
}

bool is_emoji_modifier(char32_t cp) {
  return cp == 0xFE0E || cp == 0xFE0F || cp == 0x20E3 || (cp >= 0x1F3FB && cp <= 0x1F3FF) ||
         (cp >= 0xE0020 && cp <= 0xE007F);
}

bool is_regional_indicator(char32_t cp) { return cp >= 0x1F1E6 && cp <= 0x1F1FF; }

// One emoji: a base with modifiers, a ZWJ sequence, a flag or a keycap.
void check_single_emoji(std::string_view emoji) {
  std::vector<char32_t> cps = decode_utf8(emoji, "emoji");
  const std::string_view problem = "must be a single emoji (or empty to remove the reaction)";
  if (cps.size() > 16) throw_invalid_parameter("emoji", problem);
  bool keycap = cps.size() >= 2 && cps.back() == 0x20E3 &&
                ((cps[0] >= '0' && cps[0] <= '9') || cps[0] == '#' || cps[0] == '*');
  bool after_joiner = false, lone_flag_half = false;
  for (std::size_t i = 0; i < cps.size(); ++i) {
    char32_t cp = cps[i];
    if (i == 0 && keycap) continue;
    if (cp == 0x200D) {
      if (i == 0 || after_joiner) throw_invalid_parameter("emoji", problem);
      after_joiner = true;
      continue;
    }
    if (is_emoji_modifier(cp) && !is_regional_indicator(cp)) {
      if (i == 0) throw_invalid_parameter("emoji", problem);
      continue;
    }
    if (!is_emoji_base(cp)) throw_invalid_parameter("emoji", problem);
    bool starts_new = i > 0 && !after_joiner;
    if (is_regional_indicator(cp) && lone_flag_half) {
      starts_new = false;  // second half of a flag
      lone_flag_half = false;
    } else {
      lone_flag_half = is_regional_indicator(cp);
    }
    if (starts_new) throw_invalid_parameter("emoji", problem);
    after_joiner = false;
  }
  if (after_joiner) throw_invalid_parameter("emoji", problem);
}

struct PayloadBuilder {
  json::object& out;

  void operator()(const TextMessage& m) {
    check_text(m.body, "body", limits::kTextBody);
    out["type"] = "text";
    out["text"] = json::object{{"preview_url", m.preview_url}, {"body", m.body}};
  }

  void operator()(const MediaMessage& m) {
    const std::string type(media_kind_name(m.kind));
    json::object media = media_object(m.media, type);
    bool captioned = m.kind == MediaKind::kImage || m.kind == MediaKind::kVideo ||
                     m.kind == MediaKind::kDocument;
    if (m.caption) {
      if (!captioned) throw_invalid_parameter("caption", type + " messages take no caption");
      check_text(*m.caption, "caption", limits::kCaption);
      media["caption"] = *m.caption;
    }
    if (m.filename) {
      if (m.kind != MediaKind::kDocument)
        throw_invalid_parameter("filename", "only documents take a filename");
      if (is_blank(*m.filename)) throw_invalid_parameter("filename", "must not be empty");
      count_code_points(*m.filename, "filename");
      media["filename"] = *m.filename;
    }
    out["type"] = type;
    out[type] = std::move(media);
  }

  void operator()(const LocationMessage& m) {
    if (!std::isfinite(m.latitude) || m.latitude < -90 || m.latitude > 90) {
      throw_invalid_parameter("latitude", "must be a number from -90 to 90");
    }
    if (!std::isfinite(m.longitude) || m.longitude < -180 || m.longitude > 180) {
      throw_invalid_parameter("longitude", "must be a number from -180 to 180");
    }
    json::object location{{"latitude", m.latitude}, {"longitude", m.longitude}};
    if (m.name) {
      count_code_points(*m.name, "name");
      location["name"] = *m.name;
    }
    if (m.address) {
      count_code_points(*m.address, "address");
      location["address"] = *m.address;
    }
    out["type"] = "location";
    out["location"] = std::move(location);
  }

  void operator()(const ContactsMessage& m) {
    if (m.contacts.empty())
      throw_invalid_parameter("contacts", "must contain at least one contact");
    // Meta's messages reference: a contacts message carries at most 5 contact cards.
    constexpr std::size_t kMaxContacts = 5;
    if (m.contacts.size() > kMaxContacts)
      throw_invalid_parameter("contacts", "must contain at most 5 contacts");
    for (std::size_t i = 0; i < m.contacts.size(); ++i) {
      std::string field = "contacts[" + std::to_string(i) + "]";
      const json::object* contact = m.contacts[i].if_object();
      if (contact == nullptr) throw_invalid_parameter(field, "must be an object");
      const json::value* name = contact->if_contains("name");
      const json::value* formatted = name != nullptr && name->is_object()
                                         ? name->as_object().if_contains("formatted_name")
                                         : nullptr;
      if (formatted == nullptr || !formatted->is_string() || is_blank(formatted->as_string())) {
        throw_invalid_parameter(field + ".name.formatted_name", "is required");
      }
    }
    out["type"] = "contacts";
    out["contacts"] = m.contacts;
  }

  void operator()(const ReactionMessage& m) {
    if (is_blank(m.message_id)) throw_invalid_parameter("message_id", "must not be empty");
    if (!m.emoji.empty()) check_single_emoji(m.emoji);
    out["type"] = "reaction";
    out["reaction"] = json::object{{"message_id", m.message_id}, {"emoji", m.emoji}};
  }

  void operator()(const TemplateMessage& m) {
    check_template_name(m.name);
    check_language_code(m.language);
    json::object tmpl{{"name", m.name}, {"language", json::object{{"code", m.language}}}};
    for (std::size_t i = 0; i < m.components.size(); ++i) {
      const json::object* component = m.components[i].if_object();
      const json::value* type = component != nullptr ? component->if_contains("type") : nullptr;
      if (type == nullptr || !type->is_string()) {
        throw_invalid_parameter("components[" + std::to_string(i) + "]",
                                "must be an object with a \"type\"");
      }
    }
    if (!m.components.empty()) tmpl["components"] = m.components;
    out["type"] = "template";
    out["template"] = std::move(tmpl);
  }

  void operator()(const ButtonsMessage& m) {
    check_text(m.body, "body", limits::kButtonsBody);
    if (m.buttons.empty() || m.buttons.size() > limits::kMaxReplyButtons) {
      throw_invalid_parameter(
          "buttons", "must hold 1 to 3 reply buttons, got " + std::to_string(m.buttons.size()));
    }
    std::set<std::string> ids, titles;
    json::array buttons;
    for (std::size_t i = 0; i < m.buttons.size(); ++i) {
      const ReplyButton& button = m.buttons[i];
      std::string field = "buttons[" + std::to_string(i) + "]";
      check_text(button.id, field + ".id", limits::kReplyButtonId);
      check_text(button.title, field + ".title", limits::kReplyButtonTitle);
      if (!ids.insert(button.id).second)
        throw_invalid_parameter(field + ".id", "duplicates another button id");
      if (!titles.insert(button.title).second) {
        throw_invalid_parameter(field + ".title", "duplicates another button title");
      }
      buttons.push_back(json::object{
          {"type", "reply"}, {"reply", json::object{{"id", button.id}, {"title", button.title}}}});
    }
    json::object interactive{{"type", "button"}};
    if (m.header) interactive["header"] = header_object(*m.header);
    interactive["body"] = json::object{{"text", m.body}};
    put_footer(interactive, m.footer);
    interactive["action"] = json::object{{"buttons", std::move(buttons)}};
    out["type"] = "interactive";
    out["interactive"] = std::move(interactive);
  }

  void operator()(const ListMessage& m) {
    check_text(m.body, "body", limits::kListBody);
    check_text(m.button, "button", limits::kListButton);
    if (m.sections.empty() || m.sections.size() > limits::kMaxListSections) {
      throw_invalid_parameter(
          "sections", "must hold 1 to 10 sections, got " + std::to_string(m.sections.size()));
    }
    std::size_t total_rows = 0;
    std::set<std::string> row_ids;
    json::array sections;
    for (std::size_t s = 0; s < m.sections.size(); ++s) {
      const ListSection& section = m.sections[s];
      std::string field = "sections[" + std::to_string(s) + "]";
      json::object out_section;
      if (section.title) {
        check_text(*section.title, field + ".title", limits::kSectionTitle);
        out_section["title"] = *section.title;
      } else if (m.sections.size() > 1) {
        throw_invalid_parameter(field + ".title",
                                "is required when there is more than one section");
      }
      if (section.rows.empty())
        throw_invalid_parameter(field + ".rows", "must hold at least one row");
      json::array rows;
      for (std::size_t r = 0; r < section.rows.size(); ++r) {
        const ListRow& row = section.rows[r];
        std::string row_field = field + ".rows[" + std::to_string(r) + "]";
        check_text(row.id, row_field + ".id", limits::kRowId);
        check_text(row.title, row_field + ".title", limits::kRowTitle);
        if (!row_ids.insert(row.id).second)
          throw_invalid_parameter(row_field + ".id", "duplicates another row id");
        json::object out_row{{"id", row.id}, {"title", row.title}};
        if (row.description) {
          check_text(*row.description, row_field + ".description", limits::kRowDescription);
          out_row["description"] = *row.description;
        }
        rows.push_back(std::move(out_row));
      }
      total_rows += section.rows.size();
      out_section["rows"] = std::move(rows);
      sections.push_back(std::move(out_section));
    }
    if (total_rows > limits::kMaxListRows) {
      throw_invalid_parameter("sections", "hold " + std::to_string(total_rows) +
                                              " rows; Meta allows at most 10 across all sections");
    }
    json::object interactive{{"type", "list"}};
    if (m.header) {
      check_text(*m.header, "header", limits::kHeaderText);
      interactive["header"] = json::object{{"type", "text"}, {"text", *m.header}};
    }
    interactive["body"] = json::object{{"text", m.body}};
    put_footer(interactive, m.footer);
    interactive["action"] = json::object{{"button", m.button}, {"sections", std::move(sections)}};
    out["type"] = "interactive";
    out["interactive"] = std::move(interactive);
  }

  void operator()(const CtaUrlMessage& m) {
    check_text(m.body, "body", limits::kCtaBody);
    check_text(m.display_text, "display_text", limits::kCtaDisplayText);
    if (!is_http_url(m.url)) throw_invalid_parameter("url", "must be an http(s) URL");
    json::object interactive{{"type", "cta_url"}};
    if (m.header) interactive["header"] = header_object(*m.header);
    interactive["body"] = json::object{{"text", m.body}};
    put_footer(interactive, m.footer);
    interactive["action"] = json::object{
        {"name", "cta_url"},
        {"parameters", json::object{{"display_text", m.display_text}, {"url", m.url}}}};
    out["type"] = "interactive";
    out["interactive"] = std::move(interactive);
  }

  void operator()(const FlowMessage& m) {
    check_text(m.body, "body", limits::kFlowBody);
    check_text(m.flow_cta, "flow_cta", limits::kFlowCta);
    if (m.flow_id.empty() == m.flow_name.empty())
      throw_invalid_parameter("flow_id", "give exactly one of flow_id or flow_name");
    json::object parameters{{"flow_message_version", "3"}};
    if (!m.flow_token.empty()) parameters["flow_token"] = m.flow_token;
    if (!m.flow_id.empty()) {
      check_name(m.flow_id, "flow_id");
      parameters["flow_id"] = m.flow_id;
    } else {
      check_name(m.flow_name, "flow_name");
      parameters["flow_name"] = m.flow_name;
    }
    parameters["flow_cta"] = m.flow_cta;
    if (!m.mode.empty()) {
      if (m.mode != "draft" && m.mode != "published")
        throw_invalid_parameter("mode", "must be \"draft\" or \"published\"");
      parameters["mode"] = m.mode;
    }
    if (m.flow_action != "navigate" && m.flow_action != "data_exchange")
      throw_invalid_parameter("flow_action", "must be \"navigate\" or \"data_exchange\"");
    parameters["flow_action"] = m.flow_action;
    if (m.flow_action == "data_exchange" && (m.screen || m.data)) {
      // Meta: the endpoint chooses the first screen, so the message names none.
      throw_invalid_parameter(m.screen ? "screen" : "data",
                              "is only for flow_action \"navigate\"; the endpoint chooses the "
                              "first screen of a data_exchange Flow");
    }
    if (m.screen || m.data) {
      json::object payload;
      if (m.screen) {
        check_name(*m.screen, "screen");
        payload["screen"] = *m.screen;
      }
      if (m.data) {
        if (m.data->empty()) throw_invalid_parameter("data", "must not be empty when given");
        payload["data"] = *m.data;
      }
      parameters["flow_action_payload"] = std::move(payload);
    }
    json::object interactive{{"type", "flow"}};
    if (m.header) {
      check_text(*m.header, "header", limits::kHeaderText);
      interactive["header"] = json::object{{"type", "text"}, {"text", *m.header}};
    }
    interactive["body"] = json::object{{"text", m.body}};
    put_footer(interactive, m.footer);
    interactive["action"] = json::object{{"name", "flow"}, {"parameters", std::move(parameters)}};
    out["type"] = "interactive";
    out["interactive"] = std::move(interactive);
  }

  // Catalog products: payload_products.cpp.
  void operator()(const ProductMessage& m) {
    out["type"] = "interactive";
    out["interactive"] = detail::product_interactive(m);
  }

  void operator()(const ProductListMessage& m) {
    out["type"] = "interactive";
    out["interactive"] = detail::product_list_interactive(m);
  }
};

}  // namespace

std::size_t count_code_points(std::string_view text, std::string_view field) {
  return decode_utf8(text, field).size();
}

void check_template_name(std::string_view name) {
  if (name.empty()) throw_invalid_parameter("name", "must not be empty");
  if (name.size() > limits::kTemplateName)
    throw_invalid_parameter("name", "is longer than 512 characters");
  for (char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) {
      throw_invalid_parameter("name", "may hold only lowercase letters, digits and underscores");
    }
  }
}

void check_language_code(std::string_view code) {
  // "en", "fil", "en_US", "zh_HK": a lowercase ISO 639 code, then an optional region.
  auto lower = [](char c) { return c >= 'a' && c <= 'z'; };
  auto upper = [](char c) { return c >= 'A' && c <= 'Z'; };
  std::size_t underscore = code.find('_');
  std::string_view language = code.substr(0, underscore);
  bool ok = (language.size() == 2 || language.size() == 3);
  for (char c : language) ok = ok && lower(c);
  if (ok && underscore != std::string_view::npos) {
    std::string_view region = code.substr(underscore + 1);
    ok = region.size() >= 2 && region.size() <= 4;
    for (char c : region) ok = ok && upper(c);
  }
  if (!ok)
    throw_invalid_parameter("language", "must be a language code such as \"en\" or \"en_US\"");
}

namespace {

// `recipient_key` is "to" (a wa_id) or "recipient" (a business-scoped user id).
json::object message_payload(std::string_view recipient_key, std::string_view recipient,
                             const Message& message, std::string_view reply_to) {
  json::object payload{{"messaging_product", "whatsapp"},
                       {"recipient_type", "individual"},
                       {recipient_key, recipient}};
  // "context" sits between the recipient and "type", as in Meta's reply example.
  if (!reply_to.empty()) payload["context"] = json::object{{"message_id", reply_to}};
  std::visit(PayloadBuilder{payload}, message);
  return payload;
}

bool is_alphanumeric(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

}  // namespace

json::object build_message_payload(std::string_view to, const Message& message,
                                   std::string_view reply_to) {
  if (is_blank(to)) throw_invalid_parameter("to", "must not be empty");
  return message_payload("to", to, message, reply_to);
}

bool is_user_id(std::string_view text) noexcept {
  if (text.size() < 4 || text[2] != '.') return false;
  for (std::size_t i = 0; i < 2; ++i) {
    if (text[i] < 'A' || text[i] > 'Z') return false;
  }
  std::string_view rest = text.substr(3);
  if (rest.substr(0, 4) == "ENT.") rest.remove_prefix(4);  // a parent BSUID
  if (rest.empty() || rest.size() > 128) return false;
  for (char c : rest) {
    if (!is_alphanumeric(c)) return false;
  }
  return true;
}

void check_user_id(std::string_view user_id, std::string_view field) {
  if (is_blank(user_id)) throw_invalid_parameter(field, "must not be empty");
  if (!is_user_id(user_id)) {
    throw_invalid_parameter(field,
                            "is not a business-scoped user id (a country code, a period and up "
                            "to 128 letters and digits, such as \"US.13491208655302741918\")");
  }
}

json::object build_user_message_payload(std::string_view user_id, const Message& message,
                                        std::string_view reply_to) {
  check_user_id(user_id);
  return message_payload("recipient", user_id, message, reply_to);
}

json::object build_mark_read_payload(std::string_view message_id, bool typing_indicator) {
  if (is_blank(message_id)) throw_invalid_parameter("message_id", "must not be empty");
  json::object payload{
      {"messaging_product", "whatsapp"}, {"status", "read"}, {"message_id", message_id}};
  if (typing_indicator) payload["typing_indicator"] = json::object{{"type", "text"}};
  return payload;
}

json::object build_template_definition(std::string_view name, std::string_view language,
                                       std::string_view category, const json::array& components,
                                       std::string_view parameter_format) {
  check_template_name(name);
  check_language_code(language);
  if (category != "MARKETING" && category != "UTILITY" && category != "AUTHENTICATION") {
    throw_invalid_parameter("category", "must be MARKETING, UTILITY or AUTHENTICATION");
  }
  if (components.empty())
    throw_invalid_parameter("components", "must hold at least a BODY component");
  for (std::size_t i = 0; i < components.size(); ++i) {
    const json::object* component = components[i].if_object();
    if (component == nullptr || !component->contains("type")) {
      throw_invalid_parameter("components[" + std::to_string(i) + "]",
                              "must be an object with a \"type\"");
    }
  }
  if (!parameter_format.empty() && parameter_format != "POSITIONAL" &&
      parameter_format != "NAMED") {
    throw_invalid_parameter("parameter_format", "must be POSITIONAL or NAMED");
  }
  json::object definition{
      {"name", name}, {"language", language}, {"category", category}, {"components", components}};
  if (!parameter_format.empty()) definition["parameter_format"] = parameter_format;
  return definition;
}

json::object build_business_profile_update(const json::object& fields) {
  // Lengths from Meta's business profile reference.
  static const std::pair<std::string_view, std::size_t> kTextFields[] = {
      {"about", 139},
      {"address", 256},
      {"description", 512},
      {"email", 128},
      {"profile_picture_handle", 4096},
      {"vertical", 64}};
  json::object body{{"messaging_product", "whatsapp"}};
  if (fields.empty())
    throw_invalid_parameter("fields", "name at least one profile field to update");
  for (const auto& [key, value] : fields) {
    std::string field(key);
    if (key == "websites") {
      const json::array* sites = value.if_array();
      if (sites == nullptr || sites->size() > 2)
        throw_invalid_parameter(field, "must be a list of at most 2 URLs");
      for (std::size_t i = 0; i < sites->size(); ++i) {
        std::string item = field + "[" + std::to_string(i) + "]";
        if (!(*sites)[i].is_string() || !is_http_url((*sites)[i].as_string())) {
          throw_invalid_parameter(item, "must be an http(s) URL");
        }
        check_text((*sites)[i].as_string(), item, 256);
      }
      body[key] = value;
      continue;
    }
    const std::size_t* max = nullptr;
    for (const auto& [name, limit] : kTextFields) {
      if (key == name) max = &limit;
    }
    if (max == nullptr) throw_invalid_parameter(field, "is not a writable business profile field");
    if (!value.is_string()) throw_invalid_parameter(field, "must be a string");
    // "about" may not be blank; the others may be cleared with an empty string.
    if (key == "about" || !value.as_string().empty()) check_text(value.as_string(), field, *max);
    std::string_view text(value.as_string());
    if (key == "vertical" && !detail::is_profile_vertical(text)) {
      throw_invalid_parameter(field,
                              "must be one of Meta's verticals (OTHER, AUTO, BEAUTY, ..., "
                              "OTC_DRUGS), not \"" +
                                  std::string(text) + "\"");
    }
    if (key == "email" && !text.empty() && !detail::is_email(text))
      throw_invalid_parameter(field, "must be an email address");
    body[key] = value;
  }
  return body;
}

}  // namespace wacloud
