// Outbound message payloads for POST /<phone-number-id>/messages, built as
// Meta documents them and checked against Meta's limits before any request is
// made. Every violation throws GraphError with kind kInvalidParameter (code
// 100) and a message that names the offending field. Lengths are counted in
// Unicode code points, as Meta counts characters.
#pragma once

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "wacloud/media.hpp"  // MediaKind

namespace wacloud {

// Meta's documented limits, in characters (code points).
namespace limits {
inline constexpr std::size_t kTextBody = 4096;     // text messages
inline constexpr std::size_t kCaption = 1024;      // image, video, document
inline constexpr std::size_t kButtonsBody = 1024;  // interactive reply buttons
inline constexpr std::size_t kListBody = 4096;     // interactive list
inline constexpr std::size_t kCtaBody = 1024;      // interactive CTA URL
inline constexpr std::size_t kHeaderText = 60;     // interactive header text
inline constexpr std::size_t kFooterText = 60;     // interactive footer text
inline constexpr std::size_t kMaxReplyButtons = 3;
inline constexpr std::size_t kReplyButtonTitle = 20;
inline constexpr std::size_t kReplyButtonId = 256;
inline constexpr std::size_t kListButton = 20;
inline constexpr std::size_t kMaxListSections = 10;
inline constexpr std::size_t kMaxListRows = 10;  // across all sections
inline constexpr std::size_t kSectionTitle = 24;
inline constexpr std::size_t kRowId = 200;
inline constexpr std::size_t kRowTitle = 24;
inline constexpr std::size_t kRowDescription = 72;
inline constexpr std::size_t kCtaDisplayText = 20;
inline constexpr std::size_t kTemplateName = 512;
inline constexpr std::size_t kProductBody = 1024;  // product and product_list bodies
inline constexpr std::size_t kMaxProductSections = 10;
inline constexpr std::size_t kMaxProducts = 30;  // across all sections of a product list
inline constexpr std::size_t kFlowBody = 1024;   // interactive Flow
inline constexpr std::size_t kFlowCta = 30;      // the spec's flow_cta maxLength
}  // namespace limits

// A media object: exactly one of an uploaded media id or a public http(s) link.
struct MediaSource {
  std::string id;
  std::string link;
};

struct TextMessage {
  std::string body;
  bool preview_url = false;
};

struct MediaMessage {
  MediaKind kind = MediaKind::kImage;
  MediaSource media;
  std::optional<std::string> caption;   // image, video, document only
  std::optional<std::string> filename;  // document only
};

struct LocationMessage {
  double latitude = 0;
  double longitude = 0;
  std::optional<std::string> name;
  std::optional<std::string> address;
};

struct ContactsMessage {
  boost::json::array contacts;  // Meta's contact objects; each needs name.formatted_name
};

struct ReactionMessage {
  std::string message_id;
  std::string emoji;  // empty removes the reaction
};

struct TemplateMessage {
  std::string name;
  std::string language;           // e.g. "en_US"
  boost::json::array components;  // passed through; each must be an object with a "type"
};

// Interactive header: text, or an image/video/document.
struct InteractiveHeader {
  enum class Kind { kText, kImage, kVideo, kDocument } kind = Kind::kText;
  std::string text;
  MediaSource media;
};

struct ReplyButton {
  std::string id;
  std::string title;
};

struct ButtonsMessage {
  std::string body;
  std::vector<ReplyButton> buttons;
  std::optional<InteractiveHeader> header;
  std::optional<std::string> footer;
};

struct ListRow {
  std::string id;
  std::string title;
  std::optional<std::string> description;
};

struct ListSection {
  std::optional<std::string> title;  // required when there is more than one section
  std::vector<ListRow> rows;
};

struct ListMessage {
  std::string body;
  std::string button;
  std::vector<ListSection> sections;
  std::optional<std::string> header;  // lists take a text header only
  std::optional<std::string> footer;
};

struct CtaUrlMessage {
  std::string body;
  std::string display_text;
  std::string url;
  std::optional<InteractiveHeader> header;
  std::optional<std::string> footer;
};

// An interactive Flow (WhatsApp Flows): the `flow_cta` button opens the Flow
// `flow_id` or `flow_name` (exactly one). "navigate" starts at `screen` (Meta's
// default: the Flow's first) with `data`; "data_exchange" asks the Flow's
// endpoint for the first screen and takes neither. The header is text only.
struct FlowMessage {
  std::string body;
  std::string flow_cta;
  std::string flow_id;
  std::string flow_name;
  std::string flow_token;                // empty: Meta's default, "unused"
  std::string flow_action = "navigate";  // or "data_exchange"
  std::optional<std::string> screen;
  std::optional<boost::json::object> data;  // must not be empty when given
  std::string mode;                         // "draft", "published"; empty: published
  std::optional<std::string> header;        // text
  std::optional<std::string> footer;
};

// A catalog product: an optional body and footer, never a header.
struct ProductMessage {
  std::string catalog_id;
  std::string product_retailer_id;
  std::optional<std::string> body;
  std::optional<std::string> footer;
};

struct ProductSection {
  std::optional<std::string> title;  // required when there is more than one section
  std::vector<std::string> product_retailer_ids;
};

// Up to 30 catalog products in up to 10 sections; a text header and a body are required.
struct ProductListMessage {
  std::string header;
  std::string body;
  std::string catalog_id;
  std::vector<ProductSection> sections;
  std::optional<std::string> footer;
};

using Message = std::variant<TextMessage, MediaMessage, LocationMessage, ContactsMessage,
                             ReactionMessage, TemplateMessage, ButtonsMessage, ListMessage,
                             CtaUrlMessage, FlowMessage, ProductMessage, ProductListMessage>;

// The complete request body for sending `message` to `to` (a wa_id, already
// normalized), optionally as a reply to the message `reply_to`.
boost::json::object build_message_payload(std::string_view to, const Message& message,
                                          std::string_view reply_to = {});

// A business-scoped user id (BSUID), as Meta issues them: a two-letter country
// code, a period and up to 128 letters and digits ("US.13491208655302741918");
// a parent BSUID has "ENT." after the code. `is_user_id` only tells the shape;
// `check_user_id` throws kInvalidParameter naming `field` for anything else.
bool is_user_id(std::string_view text) noexcept;
void check_user_id(std::string_view user_id, std::string_view field = "recipient");

// The body sending `message` to a business-scoped user: Meta's "recipient"
// takes the place of "to" (the id is checked, never read as a phone number).
boost::json::object build_user_message_payload(std::string_view user_id, const Message& message,
                                               std::string_view reply_to = {});

// Reads a message from the field dictionary the Python `wacloud.messages`
// classes produce (`type` is "text", "image", ..., "buttons", "list",
// "cta_url", "flow"); wrong field types raise kInvalidParameter naming the field.
Message message_from_fields(std::string_view type, const boost::json::object& fields);

// The body of POST /<phone-number-id>/messages marking `message_id` as read.
boost::json::object build_mark_read_payload(std::string_view message_id, bool typing_indicator);

// The body of POST /<waba-id>/message_templates after checking name, language
// and category ("MARKETING", "UTILITY" or "AUTHENTICATION"). parameter_format:
// empty (left out: Meta's POSITIONAL), "POSITIONAL" or "NAMED" ({{order_id}}).
boost::json::object build_template_definition(std::string_view name, std::string_view language,
                                              std::string_view category,
                                              const boost::json::array& components,
                                              std::string_view parameter_format = {});

// The body of POST /<phone-number-id>/whatsapp_business_profile. Accepts
// Meta's writable fields only (about, address, description, email,
// profile_picture_handle, vertical, websites) within Meta's lengths.
boost::json::object build_business_profile_update(const boost::json::object& fields);

// Checks shared by the builders, exposed for callers that validate early.
std::size_t count_code_points(std::string_view text, std::string_view field);
void check_template_name(std::string_view name);
void check_language_code(std::string_view code);

// Throws GraphError{kInvalidParameter, code 100} with "<field>: <problem>".
[[noreturn]] void throw_invalid_parameter(std::string_view field, std::string_view problem);

}  // namespace wacloud
