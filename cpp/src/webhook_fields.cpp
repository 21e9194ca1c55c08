// The webhook parser's field readers: each checks one field's JSON type and
// throws WebhookPayloadError naming the field's path when it is wrong.
#include <string>
#include <vector>

#include "webhook_internal.hpp"

namespace wacloud::webhook_detail {
namespace {

namespace json = boost::json;

// datetime.max is 9999-12-31T23:59:59Z; later timestamps cannot be represented.
constexpr std::int64_t kMaxTimestamp = 253402300799;

const char* kind_name(const json::value& value) {
  switch (value.kind()) {
    case json::kind::null:
      return "null";
    case json::kind::bool_:
      return "a boolean";
    case json::kind::int64:
    case json::kind::uint64:
      return "an integer";
    case json::kind::double_:
      return "a number";
    case json::kind::string:
      return "a string";
    case json::kind::array:
      return "an array";
    case json::kind::object:
      return "an object";
  }
  return "a value";
}

[[noreturn]] void wrong_type(const json::value& value, const Path& path, const char* expected) {
  fail(path, std::string("expected ") + expected + ", got " + kind_name(value));
}

// The field's value; nullptr when it is absent or null.
const json::value* present(Field field) {
  return field.value == nullptr || field.value->is_null() ? nullptr : field.value;
}

const json::value& require(Field field, const Path& path) {
  const json::value* value = present(field);
  if (value == nullptr) fail(path.child(field.key), "is missing");
  return *value;
}

std::int64_t to_timestamp(const json::value& value, const Path& path) {
  std::int64_t seconds = -1;
  if (const std::int64_t* integer = value.if_int64()) {
    seconds = *integer;
  } else if (const std::uint64_t* unsigned_integer = value.if_uint64()) {
    if (*unsigned_integer <= static_cast<std::uint64_t>(kMaxTimestamp)) {
      seconds = static_cast<std::int64_t>(*unsigned_integer);
    }
  } else if (const json::string* text = value.if_string()) {
    if (text->empty() || text->size() > 12)
      fail(path, "expected Unix seconds, got \"" + std::string(text->subview()) + "\"");
    seconds = 0;
    for (char c : *text) {
      if (c < '0' || c > '9') {
        fail(path, "expected Unix seconds, got \"" + std::string(text->subview()) + "\"");
      }
      seconds = seconds * 10 + (c - '0');
    }
  } else {
    wrong_type(value, path, "Unix seconds (an integer or a string of digits)");
  }
  if (seconds < 0 || seconds > kMaxTimestamp) {
    fail(path, "timestamp out of range (0 to " + std::to_string(kMaxTimestamp) + ")");
  }
  return seconds;
}

}  // namespace

std::string Path::str() const {
  std::vector<const Path*> chain;
  for (const Path* node = this; node->parent != nullptr; node = node->parent) chain.push_back(node);
  if (chain.empty()) return "$";
  std::string out;
  for (auto it = chain.rbegin(); it != chain.rend(); ++it) {
    const Path& node = **it;
    if (node.is_index) {
      out += '[' + std::to_string(node.index) + ']';
    } else {
      if (!out.empty()) out += '.';
      out += node.key;
    }
  }
  return out;
}

void fail(const Path& path, const std::string& message) {
  throw WebhookPayloadError(path.str(), message);
}

Field find_field(const json::object& parent, std::string_view key) {
  return Field{parent.if_contains(key), key};
}

const json::object& require_object(const json::value& value, const Path& path) {
  const json::object* object = value.if_object();
  if (object == nullptr) wrong_type(value, path, "an object");
  return *object;
}

const json::object* optional_object(Field field, const Path& path) {
  const json::value* value = present(field);
  if (value == nullptr) return nullptr;
  return &require_object(*value, path.child(field.key));
}

const json::array* optional_array(Field field, const Path& path) {
  const json::value* value = present(field);
  if (value == nullptr) return nullptr;
  const json::array* array = value->if_array();
  if (array == nullptr) wrong_type(*value, path.child(field.key), "an array");
  return array;
}

std::optional<std::string_view> optional_string_view(Field field, const Path& path) {
  const json::value* value = present(field);
  if (value == nullptr) return std::nullopt;
  const json::string* text = value->if_string();
  if (text == nullptr) wrong_type(*value, path.child(field.key), "a string");
  return text->subview();
}

std::string_view required_string_view(Field field, const Path& path) {
  const json::value& value = require(field, path);
  const json::string* text = value.if_string();
  if (text == nullptr) wrong_type(value, path.child(field.key), "a string");
  return text->subview();
}

std::optional<std::string> optional_string(Field field, const Path& path) {
  const std::optional<std::string_view> text = optional_string_view(field, path);
  if (!text) return std::nullopt;
  return std::string(*text);
}

std::string required_string(Field field, const Path& path) {
  return std::string(required_string_view(field, path));
}

std::optional<std::string> optional_id(Field field, const Path& path) {
  const json::value* value = present(field);
  if (value == nullptr) return std::nullopt;
  if (const json::string* text = value->if_string()) {
    if (text->empty()) fail(path.child(field.key), "is empty");
    return std::string(text->subview());
  }
  if (const std::int64_t* integer = value->if_int64()) return std::to_string(*integer);
  if (const std::uint64_t* integer = value->if_uint64()) return std::to_string(*integer);
  wrong_type(*value, path.child(field.key), "an id (a string or an integer)");
}

std::string required_id(Field field, const Path& path) {
  std::optional<std::string> id = optional_id(field, path);
  if (!id) fail(path.child(field.key), "is missing");
  return *std::move(id);
}

std::optional<bool> optional_bool(Field field, const Path& path) {
  const json::value* value = present(field);
  if (value == nullptr) return std::nullopt;
  if (!value->is_bool()) wrong_type(*value, path.child(field.key), "a boolean");
  return value->get_bool();
}

std::optional<std::int64_t> optional_timestamp(Field field, const Path& path) {
  const json::value* value = present(field);
  if (value == nullptr) return std::nullopt;
  return to_timestamp(*value, path.child(field.key));
}

std::int64_t required_timestamp(Field field, const Path& path) {
  return to_timestamp(require(field, path), path.child(field.key));
}

std::vector<ErrorDetail> parse_errors(Field field, const Path& path) {
  enum Key : std::size_t { kCode, kTitle, kMessage, kHref, kErrorData, kDetails, kKeyCount };
  static constexpr std::array<std::string_view, kKeyCount> kKeys = {
      "code", "title", "message", "href", "error_data", "details"};
  std::vector<ErrorDetail> errors;
  const json::array* array = optional_array(field, path);
  if (array == nullptr) return errors;
  const Path array_path = path.child(field.key);
  errors.reserve(array->size());
  for (std::size_t i = 0; i < array->size(); ++i) {
    const Path item_path = array_path.at(i);
    const Fields<kKeyCount> item(require_object((*array)[i], item_path), kKeys);
    ErrorDetail& error = errors.emplace_back();
    if (const json::value* code = present(item[kCode])) {
      if (const std::int64_t* integer = code->if_int64()) {
        error.code = *integer;
      } else {
        wrong_type(*code, item_path.child("code"), "an integer");
      }
    }
    error.title = optional_string(item[kTitle], item_path).value_or("");
    error.message = optional_string(item[kMessage], item_path).value_or("");
    error.href = optional_string(item[kHref], item_path).value_or("");
    if (const json::object* data = optional_object(item[kErrorData], item_path)) {
      error.details =
          optional_string({*data, "details"}, item_path.child("error_data")).value_or("");
    } else {  // the older shape: details beside title, no error_data
      error.details = optional_string(item[kDetails], item_path).value_or("");
    }
  }
  return errors;
}

}  // namespace wacloud::webhook_detail
