// message_from_fields: the field dictionaries produced by `wacloud.messages`
// (plain JSON, so the binding stays a type adapter) read into typed messages.
// Only types are checked here; Meta's limits are enforced by the builders.
#include <string>

#include "wacloud/payloads.hpp"

namespace wacloud {
namespace json = boost::json;

namespace {

class Fields {
 public:
  Fields(const json::object& object, std::string prefix)
      : object_(object), prefix_(std::move(prefix)) {}

  std::string path(std::string_view key) const { return prefix_ + std::string(key); }

  const json::value* find(std::string_view key) const {
    const json::value* value = object_.if_contains(key);
    return value == nullptr || value->is_null() ? nullptr : value;
  }

  std::string string(std::string_view key) const {
    const json::value* value = find(key);
    if (value == nullptr) throw_invalid_parameter(path(key), "is required");
    if (!value->is_string()) throw_invalid_parameter(path(key), "must be a string");
    return std::string(value->as_string());
  }

  std::optional<std::string> optional_string(std::string_view key) const {
    if (find(key) == nullptr) return std::nullopt;
    return string(key);
  }

  bool boolean(std::string_view key) const {
    const json::value* value = find(key);
    if (value == nullptr) return false;
    if (!value->is_bool()) throw_invalid_parameter(path(key), "must be true or false");
    return value->as_bool();
  }

  double number(std::string_view key) const {
    const json::value* value = find(key);
    if (value == nullptr) throw_invalid_parameter(path(key), "is required");
    if (value->is_double()) return value->as_double();
    if (value->is_int64()) return static_cast<double>(value->as_int64());
    if (value->is_uint64()) return static_cast<double>(value->as_uint64());
    throw_invalid_parameter(path(key), "must be a finite number");
  }

  const json::array& array(std::string_view key, bool required = true) const {
    static const json::array kEmpty;
    const json::value* value = find(key);
    if (value == nullptr) {
      if (required) throw_invalid_parameter(path(key), "is required");
      return kEmpty;
    }
    if (!value->is_array()) throw_invalid_parameter(path(key), "must be a list");
    return value->as_array();
  }

  std::optional<json::object> optional_object(std::string_view key) const {
    const json::value* value = find(key);
    if (value == nullptr) return std::nullopt;
    if (!value->is_object()) throw_invalid_parameter(path(key), "must be an object");
    return value->as_object();
  }

  MediaSource media() const {
    MediaSource ref;
    ref.id = optional_string("media_id").value_or("");
    ref.link = optional_string("link").value_or("");
    return ref;
  }

 private:
  const json::object& object_;
  std::string prefix_;
};

Fields element(const json::array& array, std::size_t index, const std::string& field) {
  std::string path = field + "[" + std::to_string(index) + "]";
  if (!array[index].is_object()) throw_invalid_parameter(path, "must be an object");
  return Fields(array[index].as_object(), path + ".");
}

// A header is a plain string (text) or {"type": ..., "text"/"media_id"/"link"}.
std::optional<InteractiveHeader> header(const Fields& fields) {
  const json::value* value = fields.find("header");
  if (value == nullptr) return std::nullopt;
  InteractiveHeader result;
  if (value->is_string()) {
    result.text = std::string(value->as_string());
    return result;
  }
  if (!value->is_object()) throw_invalid_parameter("header", "must be a string or a header object");
  Fields header_fields(value->as_object(), "header.");
  std::string type = header_fields.string("type");
  using Kind = InteractiveHeader::Kind;
  if (type == "text") {
    result.text = header_fields.string("text");
  } else if (type == "image" || type == "video" || type == "document") {
    result.kind = type == "image" ? Kind::kImage : type == "video" ? Kind::kVideo : Kind::kDocument;
    result.media = header_fields.media();
  } else {
    throw_invalid_parameter("header.type", "must be text, image, video or document");
  }
  return result;
}

}  // namespace

Message message_from_fields(std::string_view type, const json::object& object) {
  Fields fields(object, "");
  if (type == "text") return TextMessage{fields.string("body"), fields.boolean("preview_url")};
  static const std::pair<std::string_view, MediaKind> kMediaKinds[] = {
      {"image", MediaKind::kImage},
      {"audio", MediaKind::kAudio},
      {"video", MediaKind::kVideo},
      {"document", MediaKind::kDocument},
      {"sticker", MediaKind::kSticker}};
  for (const auto& [name, kind] : kMediaKinds) {
    if (type == name) {
      return MediaMessage{kind, fields.media(), fields.optional_string("caption"),
                          fields.optional_string("filename")};
    }
  }
  if (type == "location") {
    return LocationMessage{fields.number("latitude"), fields.number("longitude"),
                           fields.optional_string("name"), fields.optional_string("address")};
  }
  if (type == "contacts") return ContactsMessage{fields.array("contacts")};
  if (type == "reaction")
    return ReactionMessage{fields.string("message_id"), fields.string("emoji")};
  if (type == "template") {
    return TemplateMessage{fields.string("name"), fields.string("language"),
                           fields.array("components", /*required=*/false)};
  }
  if (type == "buttons") {
    ButtonsMessage message{
        fields.string("body"), {}, header(fields), fields.optional_string("footer")};
    const json::array& buttons = fields.array("buttons");
    for (std::size_t i = 0; i < buttons.size(); ++i) {
      Fields button = element(buttons, i, "buttons");
      message.buttons.push_back({button.string("id"), button.string("title")});
    }
    return message;
  }
  if (type == "list") {
    ListMessage message{fields.string("body"),
                        fields.string("button"),
                        {},
                        fields.optional_string("header"),
                        fields.optional_string("footer")};
    const json::array& sections = fields.array("sections");
    for (std::size_t s = 0; s < sections.size(); ++s) {
      Fields section = element(sections, s, "sections");
      ListSection out{section.optional_string("title"), {}};
      const json::array& rows = section.array("rows");
      for (std::size_t r = 0; r < rows.size(); ++r) {
        Fields row = element(rows, r, section.path("rows"));
        out.rows.push_back(
            {row.string("id"), row.string("title"), row.optional_string("description")});
      }
      message.sections.push_back(std::move(out));
    }
    return message;
  }
  if (type == "cta_url") {
    return CtaUrlMessage{fields.string("body"), fields.string("display_text"), fields.string("url"),
                         header(fields), fields.optional_string("footer")};
  }
  if (type == "flow") {
    FlowMessage message;
    message.body = fields.string("body");
    message.flow_cta = fields.string("flow_cta");
    message.flow_id = fields.optional_string("flow_id").value_or("");
    message.flow_name = fields.optional_string("flow_name").value_or("");
    message.flow_token = fields.optional_string("flow_token").value_or("");
    message.flow_action = fields.optional_string("flow_action").value_or("navigate");
    message.screen = fields.optional_string("screen");
    message.data = fields.optional_object("data");
    message.mode = fields.optional_string("mode").value_or("");
    message.header = fields.optional_string("header");
    message.footer = fields.optional_string("footer");
    return message;
  }
  if (type == "product") {
    return ProductMessage{fields.string("catalog_id"), fields.string("product_retailer_id"),
                          fields.optional_string("body"), fields.optional_string("footer")};
  }
  if (type == "product_list") {
    ProductListMessage message{fields.string("header"),
                               fields.string("body"),
                               fields.string("catalog_id"),
                               {},
                               fields.optional_string("footer")};
    const json::array& sections = fields.array("sections");
    for (std::size_t s = 0; s < sections.size(); ++s) {
      Fields section = element(sections, s, "sections");
      ProductSection out{section.optional_string("title"), {}};
      const json::array& ids = section.array("product_retailer_ids");
      for (std::size_t p = 0; p < ids.size(); ++p) {
        std::string path = section.path("product_retailer_ids") + "[" + std::to_string(p) + "]";
        if (!ids[p].is_string()) throw_invalid_parameter(path, "must be a string");
        out.product_retailer_ids.emplace_back(ids[p].as_string());
      }
      message.sections.push_back(std::move(out));
    }
    return message;
  }
  throw_invalid_parameter("type", "unknown message type \"" + std::string(type) + "\"");
}

}  // namespace wacloud
