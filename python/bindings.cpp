// The only pybind11 file: adapts types between Python and the C++ core,
// releases the GIL around C++ work once Python buffers are read, and maps C++
// exceptions to the classes of `wacloud.errors`. No behaviour lives here.
// It is longer than our other files on purpose: every binding lives here, one
// `bind_<concern>` section per core header, so the Python boundary is one place.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

// After Python.h, which pybind11 includes: the webhook section builds datetimes.
#include <datetime.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <deque>
#include <string>
#include <string_view>
#include <unordered_map>

#include "wacloud/circuit_breaker.hpp"
#include "wacloud/errors.hpp"
#include "wacloud/graph_client.hpp"
#include "wacloud/media.hpp"
#include "wacloud/payloads.hpp"
#include "wacloud/phone.hpp"
#include "wacloud/rate_limiter.hpp"
#include "wacloud/signature.hpp"
#include "wacloud/token_info.hpp"
#include "wacloud/webhook.hpp"
#include "wacloud/webhook_routing.hpp"

namespace py = pybind11;

namespace {

// Bytes-like or str arguments as a view; `holder` keeps a str's UTF-8 alive.
// The caller must keep `object` alive while the view is used.
std::string_view bytes_view(const py::handle& object) {
  if (PyBytes_Check(object.ptr())) {
    char* data = nullptr;
    Py_ssize_t size = 0;
    PyBytes_AsStringAndSize(object.ptr(), &data, &size);
    return {data, static_cast<std::size_t>(size)};
  }
  if (PyUnicode_Check(object.ptr())) {
    Py_ssize_t size = 0;
    const char* data = PyUnicode_AsUTF8AndSize(object.ptr(), &size);
    if (data == nullptr) throw py::error_already_set();
    return {data, static_cast<std::size_t>(size)};
  }
  if (PyByteArray_Check(object.ptr())) {
    return {PyByteArray_AsString(object.ptr()),
            static_cast<std::size_t>(PyByteArray_Size(object.ptr()))};
  }
  throw py::type_error("expected bytes, bytearray or str, got " +
                       std::string(py::str(py::type::of(object).attr("__name__"))));
}

// Raises an instance of `wacloud.errors.<name>` built from `args`/`kwargs`.
template <typename... Args>
void raise_python_error(const char* name, Args&&... args) {
  py::object instance =
      py::module_::import("wacloud.errors").attr(name)(std::forward<Args>(args)...);
  PyErr_SetObject(reinterpret_cast<PyObject*>(Py_TYPE(instance.ptr())), instance.ptr());
}

const char* phone_reason_name(wacloud::PhoneErrorReason reason) {
  switch (reason) {
    case wacloud::PhoneErrorReason::kNotANumber:
      return "not_a_number";
    case wacloud::PhoneErrorReason::kInvalidCountryCode:
      return "invalid_country_code";
    case wacloud::PhoneErrorReason::kTooShort:
      return "too_short";
    case wacloud::PhoneErrorReason::kTooLong:
      return "too_long";
    case wacloud::PhoneErrorReason::kInvalidNumber:
      return "invalid_number";
  }
  return "invalid_number";
}

const char* graph_kind_name(wacloud::GraphErrorKind kind) {
  using K = wacloud::GraphErrorKind;
  switch (kind) {
    case K::kOther:
      return "other";
    case K::kAuthentication:
      return "authentication";
    case K::kPermissionDenied:
      return "permission_denied";
    case K::kRateLimited:
      return "rate_limited";
    case K::kReEngagement:
      return "re_engagement";
    case K::kRecipient:
      return "recipient";
    case K::kTemplate:
      return "template";
    case K::kMedia:
      return "media";
    case K::kInvalidParameter:
      return "invalid_parameter";
    case K::kTransient:
      return "transient";
    case K::kDeliveryUnknown:
      return "delivery_unknown";
  }
  return "other";
}

py::object graph_error_object(const wacloud::GraphErrorInfo& info) {
  py::object retry_after =
      info.retry_after ? py::object(py::float_(*info.retry_after)) : py::none();
  return py::module_::import("wacloud.errors")
      .attr("graph_error_from_core")(
          graph_kind_name(info.kind), info.message, py::arg("code") = info.code,
          py::arg("subcode") = info.subcode, py::arg("http_status") = info.http_status,
          py::arg("type") = info.type, py::arg("details") = info.details,
          py::arg("fbtrace_id") = info.fbtrace_id, py::arg("retriable") = info.retriable,
          py::arg("retry_after") = retry_after, py::arg("error_user_title") = info.user_title,
          py::arg("error_user_msg") = info.user_message);
}

void translate_exception(std::exception_ptr pointer) {
  try {
    if (pointer) std::rethrow_exception(pointer);
  } catch (const wacloud::InvalidPhoneNumber& e) {
    raise_python_error("InvalidPhoneNumber", e.what(), phone_reason_name(e.reason()), e.input());
  } catch (const wacloud::WebhookPayloadError& e) {
    raise_python_error("WebhookPayloadError", e.what(), e.path());
  } catch (const wacloud::MediaRejected& e) {
    raise_python_error("MediaRejected", e.what());
  } catch (const wacloud::GraphError& e) {
    py::object instance = graph_error_object(e.info());
    PyErr_SetObject(reinterpret_cast<PyObject*>(Py_TYPE(instance.ptr())), instance.ptr());
  } catch (const wacloud::FileError& e) {
    py::object error =
        py::module_::import("builtins").attr("OSError")(e.error_number(), e.what(), e.path());
    PyErr_SetObject(reinterpret_cast<PyObject*>(Py_TYPE(error.ptr())), error.ptr());
  } catch (const wacloud::Error& e) {
    raise_python_error("WacloudError", e.what());
  }
}

// ---- signature -------------------------------------------------------------
void bind_signature(py::module_& m) {
  m.def(
      "sign",
      [](const py::object& app_secret, const py::object& body) {
        std::string_view secret = bytes_view(app_secret), payload = bytes_view(body);
        py::gil_scoped_release release;
        return wacloud::sign(secret, payload);
      },
      py::arg("app_secret"), py::arg("body"));
  m.def(
      "verify_signature",
      [](const py::object& app_secret, const py::object& body, const py::object& header) {
        if (header.is_none()) return false;
        std::string_view secret = bytes_view(app_secret), payload = bytes_view(body),
                         signature = bytes_view(header);
        py::gil_scoped_release release;
        return wacloud::verify_signature(secret, payload, signature);
      },
      py::arg("app_secret"), py::arg("body"), py::arg("header"));
}

// ---- phone -----------------------------------------------------------------
// A str argument as UTF-8. Lone surrogates have no UTF-8 form: they go through
// as the invalid bytes "surrogatepass" makes, which the core refuses as text.
std::string phone_text(const py::handle& object, const std::string& what) {
  if (!PyUnicode_Check(object.ptr())) {
    throw py::type_error(what + " must be str, not " +
                         std::string(py::str(py::type::of(object).attr("__name__"))));
  }
  Py_ssize_t size = 0;
  const char* data = PyUnicode_AsUTF8AndSize(object.ptr(), &size);
  if (data != nullptr) return {data, static_cast<std::size_t>(size)};
  PyErr_Clear();
  auto encoded = py::reinterpret_steal<py::bytes>(
      PyUnicode_AsEncodedString(object.ptr(), "utf-8", "surrogatepass"));
  if (!encoded) throw py::error_already_set();
  return std::string(encoded);
}

std::string phone_region(const py::handle& region) {
  return region.is_none() ? std::string() : phone_text(region, "default_region");
}

void bind_phone(py::module_& m) {
  m.def(
      "parse_phone",
      [](const py::object& number, const py::object& default_region) {
        std::string text = phone_text(number, "number"), region = phone_region(default_region);
        wacloud::PhoneNumber parsed;
        {
          py::gil_scoped_release release;
          parsed = wacloud::parse(text, region);
        }
        py::dict fields;
        fields["e164"] = parsed.e164;
        fields["wa_id"] = parsed.wa_id;
        fields["region"] = parsed.region;
        fields["country_code"] = parsed.country_code;
        fields["national_number"] = parsed.national_number;
        fields["number_type"] = wacloud::number_type_name(parsed.number_type);
        fields["international"] = parsed.international;
        fields["is_valid"] = parsed.is_valid;
        fields["is_possible"] = parsed.is_possible;
        return fields;
      },
      py::arg("number"), py::arg("default_region") = py::none());
  // normalize, to_e164 and display share a signature.
  const auto def_formatter = [&m](const char* name, auto function) {
    m.def(
        name,
        [function](const py::object& number, const py::object& default_region) {
          std::string text = phone_text(number, "number"), region = phone_region(default_region);
          py::gil_scoped_release release;
          return function(text, region);
        },
        py::arg("number"), py::arg("default_region") = py::none());
  };
  def_formatter("normalize_phone", &wacloud::normalize);
  def_formatter("phone_to_e164", &wacloud::to_e164);
  def_formatter("display_phone", &wacloud::display);
  m.def(
      "is_same_phone",
      [](const py::object& a, const py::object& b, const py::object& default_region) {
        std::string first = phone_text(a, "a"), second = phone_text(b, "b"),
                    region = phone_region(default_region);
        py::gil_scoped_release release;
        return wacloud::is_same_number(first, second, region);
      },
      py::arg("a"), py::arg("b"), py::arg("default_region") = py::none());
  m.def(
      "normalize_phones",
      [](const py::object& numbers, const py::object& default_region) {
        if (!PyList_Check(numbers.ptr()) && !PyTuple_Check(numbers.ptr())) {
          throw py::type_error("numbers must be a list or tuple of str, not " +
                               std::string(py::str(py::type::of(numbers).attr("__name__"))));
        }
        std::string region = phone_region(default_region);
        auto sequence = py::reinterpret_borrow<py::sequence>(numbers);
        std::vector<std::string> texts;
        texts.reserve(sequence.size());
        for (std::size_t i = 0; i < sequence.size(); ++i) {
          texts.push_back(phone_text(sequence[i], "numbers[" + std::to_string(i) + "]"));
        }
        std::vector<std::optional<std::string>> normalized;
        {
          py::gil_scoped_release release;
          normalized = wacloud::normalize_many(texts, region);
        }
        py::list out(normalized.size());
        for (std::size_t i = 0; i < normalized.size(); ++i) {
          out[i] = normalized[i] ? py::object(py::str(*normalized[i])) : py::object(py::none());
        }
        return out;
      },
      py::arg("numbers"), py::arg("default_region") = py::none());
}

// ---- webhook ---------------------------------------------------------------
// Events are built straight into the wacloud.events dataclasses (type adaptation
// only: every value comes from the core's Event). Raw CPython calls here: this
// runs for every inbound event.
py::object webhook_str(std::string_view text) {
  // Boost.JSON has validated the UTF-8; surrogatepass turns any surrogate it
  // might let through into the str json.loads would give, never an exception.
  PyObject* object =
      PyUnicode_DecodeUTF8(text.data(), static_cast<Py_ssize_t>(text.size()), "surrogatepass");
  if (object == nullptr) throw py::error_already_set();
  return py::reinterpret_steal<py::object>(object);
}

// JSON object keys come from a small vocabulary ("id", "timestamp", ...): one
// str per distinct key, reused like json.loads does within a document. Only
// touched with the GIL held.
py::object webhook_key(std::string_view key) {
  // Leaked on purpose: destroying str objects after the interpreter exits would crash.
  static auto& cache = *new std::unordered_map<std::string_view, py::object>();
  static auto& storage = *new std::deque<std::string>();  // owns the bytes of the views
  constexpr std::size_t kMaxKeys = 4096, kMaxKeyLength = 64;
  auto found = cache.find(key);
  if (found != cache.end()) return found->second;
  py::object text = webhook_str(key);
  if (cache.size() < kMaxKeys && key.size() <= kMaxKeyLength) {
    cache.emplace(storage.emplace_back(key), text);
  }
  return text;
}

// The dicts made for JSON objects inside one event's raw JSON, noted by address
// for the fields that are parts of raw (order, referral, contact cards, ...):
// those share raw's dicts, as after json.loads, instead of being made twice.
class WebhookRawParts {
 public:
  void want(const wacloud::RawJson& part) { parts_.emplace_back(&part.get(), nullptr); }
  void want(const std::optional<wacloud::RawJson>& part) {
    if (part) want(*part);
  }
  void note(const boost::json::object& object, PyObject* dict) {
    for (auto& [wanted, made] : parts_) {
      if (wanted == &object) made = dict;
    }
  }
  const std::vector<std::pair<const boost::json::object*, PyObject*>>& parts() const {
    return parts_;
  }

 private:
  // Borrowed: each dict is alive inside raw, which the event holds.
  std::vector<std::pair<const boost::json::object*, PyObject*>> parts_;
};

py::object webhook_json(const boost::json::value& value, WebhookRawParts* parts = nullptr);

py::object webhook_object(const boost::json::object& object, WebhookRawParts* parts) {
  py::dict dict;
  for (const auto& item : object) {
    if (PyDict_SetItem(dict.ptr(), webhook_key(item.key()).ptr(),
                       webhook_json(item.value(), parts).ptr()) != 0) {
      throw py::error_already_set();
    }
  }
  if (parts != nullptr) parts->note(object, dict.ptr());
  return std::move(dict);
}

py::object webhook_json(const boost::json::value& value, WebhookRawParts* parts) {
  switch (value.kind()) {
    case boost::json::kind::null:
      return py::none();
    case boost::json::kind::bool_:
      return py::bool_(value.get_bool());
    case boost::json::kind::int64:
      return py::reinterpret_steal<py::object>(PyLong_FromLongLong(value.get_int64()));
    case boost::json::kind::uint64:
      return py::reinterpret_steal<py::object>(PyLong_FromUnsignedLongLong(value.get_uint64()));
    case boost::json::kind::double_:
      return py::reinterpret_steal<py::object>(PyFloat_FromDouble(value.get_double()));
    case boost::json::kind::string:
      return webhook_str(value.get_string().subview());
    case boost::json::kind::array: {
      const boost::json::array& array = value.get_array();
      py::list list(array.size());
      for (std::size_t i = 0; i < array.size(); ++i) {
        PyList_SET_ITEM(list.ptr(), static_cast<Py_ssize_t>(i),
                        webhook_json(array[i], parts).release().ptr());
      }
      return std::move(list);
    }
    case boost::json::kind::object:
      return webhook_object(value.get_object(), parts);
  }
  return py::none();
}

// A part of the event's raw JSON as the dict raw holds, or a dict of its own
// when it lies outside raw (a message's contact is in value.contacts).
py::object webhook_part(const wacloud::RawJson& part, const WebhookRawParts& parts) {
  for (const auto& [object, dict] : parts.parts()) {
    if (object == &part.get() && dict != nullptr) return py::reinterpret_borrow<py::object>(dict);
  }
  return webhook_object(part.get(), nullptr);
}

py::object webhook_part(const std::optional<wacloud::RawJson>& part, const WebhookRawParts& parts) {
  return part ? webhook_part(*part, parts) : py::none();
}

// One frozen, slotted dataclass of wacloud.events: its fields (dataclasses.fields
// order) and the member descriptor of each, through which instances are filled.
struct WebhookClass {
  py::object cls;
  std::string name;
  std::vector<std::string> fields;
  std::vector<py::object> slots;
  std::uint64_t all_set = 0;  // one bit per field
  // String literal address -> field index; only touched with the GIL held.
  mutable std::unordered_map<const char*, std::size_t> by_literal;

  WebhookClass() = default;
  WebhookClass(const py::module_& events, const py::object& fields_of, const char* class_name)
      : cls(events.attr(class_name)), name(class_name) {
    for (const py::handle field : fields_of(cls)) {
      fields.push_back(field.attr("name").cast<std::string>());
      py::object slot = cls.attr(fields.back().c_str());
      if (!PyObject_TypeCheck(slot.ptr(), &PyMemberDescr_Type)) {
        throw py::type_error("wacloud.events." + name + "." + fields.back() +
                             " is not a slot (the events need slots=True)");
      }
      slots.push_back(std::move(slot));
    }
    if (fields.size() > 64) throw py::type_error("wacloud.events." + name + " has > 64 fields");
    all_set = fields.size() == 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << fields.size()) - 1;
  }

  std::size_t index(const char* field) const {
    auto found = by_literal.find(field);
    if (found != by_literal.end()) return found->second;
    for (std::size_t i = 0; i < fields.size(); ++i) {
      if (fields[i] == field) return by_literal.emplace(field, i).first->second;
    }
    throw py::type_error("wacloud.events." + name + " has no field " + field);
  }
};

// The classes events are built as, looked up once (never destroyed: they may be
// needed until the interpreter is gone).
struct WebhookTypes {
  WebhookClass inbound_message, status_update, webhook_error, template_status_update, field_update,
      invalid_item;
  WebhookClass media_ref, location, interactive_reply, button_reply, reaction, message_context,
      error_detail;
  py::object event_types[6];  // EventType members, in wacloud::EventType order
};

const WebhookTypes& webhook_types() {
  PYBIND11_CONSTINIT static py::gil_safe_call_once_and_store<WebhookTypes> storage;
  return storage
      .call_once_and_store_result([] {
        PyDateTime_IMPORT;
        if (PyDateTimeAPI == nullptr) throw py::error_already_set();
        WebhookTypes types;
        py::module_ events = py::module_::import("wacloud.events");
        py::object fields_of = py::module_::import("dataclasses").attr("fields");
        const auto load = [&](const char* name) { return WebhookClass(events, fields_of, name); };
        types.inbound_message = load("InboundMessage");
        types.status_update = load("StatusUpdate");
        types.webhook_error = load("WebhookError");
        types.template_status_update = load("TemplateStatusUpdate");
        types.field_update = load("FieldUpdate");
        types.invalid_item = load("InvalidItem");
        types.media_ref = load("MediaRef");
        types.location = load("Location");
        types.interactive_reply = load("InteractiveReply");
        types.button_reply = load("ButtonReply");
        types.reaction = load("Reaction");
        types.message_context = load("MessageContext");
        types.error_detail = load("ErrorDetail");
        const char* const members[] = {"MESSAGE",         "STATUS",       "ERROR",
                                       "TEMPLATE_STATUS", "FIELD_UPDATE", "INVALID"};
        for (int i = 0; i < 6; ++i)
          types.event_types[i] = events.attr("EventType").attr(members[i]);
        return types;
      })
      .get_stored();
}

// Unix seconds (0 to 9999-12-31T23:59:59, checked by the core) -> the aware UTC
// datetime that datetime.fromtimestamp(seconds, timezone.utc) gives, without
// the Python call: the date by Howard Hinnant's civil_from_days.
py::object webhook_time(const std::optional<std::int64_t>& seconds) {
  if (!seconds) return py::none();
  const std::int64_t days = *seconds / 86400, second_of_day = *seconds % 86400;
  const std::int64_t z = days + 719468, era = z / 146097, day_of_era = z - era * 146097;
  const std::int64_t year_of_era =
      (day_of_era - day_of_era / 1460 + day_of_era / 36524 - day_of_era / 146096) / 365;
  const std::int64_t day_of_year =
      day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
  const std::int64_t shifted_month = (5 * day_of_year + 2) / 153;  // March is 0
  const int day = static_cast<int>(day_of_year - (153 * shifted_month + 2) / 5 + 1);
  const int month = static_cast<int>(shifted_month < 10 ? shifted_month + 3 : shifted_month - 9);
  const int year = static_cast<int>(year_of_era + era * 400 + (month <= 2 ? 1 : 0));
  const int hour = static_cast<int>(second_of_day / 3600);
  const int minute = static_cast<int>(second_of_day / 60 % 60);
  const int second = static_cast<int>(second_of_day % 60);
  PyObject* time =
      PyDateTimeAPI->DateTime_FromDateAndTime(year, month, day, hour, minute, second, 0,
                                              PyDateTime_TimeZone_UTC, PyDateTimeAPI->DateTimeType);
  if (time == nullptr) throw py::error_already_set();
  return py::reinterpret_steal<py::object>(time);
}

// Builds one frozen, slotted event dataclass without running its __init__: the
// instance is allocated as object.__new__ does and each slot is filled through
// its member descriptor, as object.__setattr__ in the dataclass's own __init__
// does, minus the attribute lookup and the Python frames. take() checks that
// every field was set, so a field added to the dataclass cannot be forgotten.
class WebhookObject {
 public:
  explicit WebhookObject(const WebhookClass& cls) : cls_(cls) {
    auto* type = reinterpret_cast<PyTypeObject*>(cls.cls.ptr());
    PyObject* instance = type->tp_alloc(type, 0);
    if (instance == nullptr) throw py::error_already_set();
    object_ = py::reinterpret_steal<py::object>(instance);
  }
  WebhookObject& set(const char* field, const py::object& value) {
    const std::size_t index = cls_.index(field);
    PyObject* slot = cls_.slots[index].ptr();
    if (Py_TYPE(slot)->tp_descr_set(slot, object_.ptr(), value.ptr()) != 0) {
      throw py::error_already_set();
    }
    set_ |= std::uint64_t{1} << index;
    return *this;
  }
  WebhookObject& set(const char* field, std::string_view text) {
    return set(field, webhook_str(text));
  }
  WebhookObject& set(const char* field, const std::optional<std::string>& text) {
    return set(field, text ? webhook_str(*text) : py::none());
  }
  WebhookObject& set(const char* field, const std::optional<bool>& flag) {
    return set(field, flag ? py::object(py::bool_(*flag)) : py::none());
  }
  py::object take() {
    for (std::size_t i = 0; i < cls_.fields.size(); ++i) {
      if ((set_ >> i & 1) == 0) {
        throw py::type_error("the binding does not set wacloud.events." + cls_.name + "." +
                             cls_.fields[i]);
      }
    }
    return std::move(object_);
  }

 private:
  const WebhookClass& cls_;
  py::object object_;
  std::uint64_t set_ = 0;
};

py::list webhook_errors(const WebhookTypes& types,
                        const std::vector<wacloud::ErrorDetail>& errors) {
  py::list list(errors.size());
  for (std::size_t i = 0; i < errors.size(); ++i) {
    const wacloud::ErrorDetail& error = errors[i];
    py::object detail = WebhookObject(types.error_detail)
                            .set("code", py::int_(error.code))
                            .set("title", std::string_view(error.title))
                            .set("message", std::string_view(error.message))
                            .set("details", std::string_view(error.details))
                            .set("href", std::string_view(error.href))
                            .take();
    PyList_SET_ITEM(list.ptr(), static_cast<Py_ssize_t>(i), detail.release().ptr());
  }
  return list;
}

void webhook_message_fields(WebhookObject& out, const WebhookTypes& types,
                            const wacloud::InboundMessage& message, const WebhookRawParts& parts) {
  out.set("message_id", std::string_view(message.message_id))
      .set("from_wa_id", message.from_wa_id)
      .set("from_user_id", message.from_user_id)
      .set("from_parent_user_id", message.from_parent_user_id)
      .set("to_wa_id", message.to_wa_id)
      .set("to_user_id", message.to_user_id)
      .set("to_parent_user_id", message.to_parent_user_id)
      .set("group_id", message.group_id)
      .set("contact_name", message.contact_name)
      .set("contact", webhook_part(message.contact, parts))
      .set("type", std::string_view(message.type))
      .set("edited_type", message.edited_type)
      .set("text", message.text)
      .set("order", webhook_part(message.order, parts))
      .set("system", webhook_part(message.system, parts))
      .set("referral", webhook_part(message.referral, parts))
      .set("original_message_id", message.original_message_id)
      .set("unsupported_type", message.unsupported_type)
      .set("errors", webhook_errors(types, message.errors))
      .set("is_echo", py::bool_(message.is_echo));
  py::list contacts(message.contacts.size());
  for (std::size_t i = 0; i < message.contacts.size(); ++i) {
    PyList_SET_ITEM(contacts.ptr(), static_cast<Py_ssize_t>(i),
                    webhook_part(message.contacts[i], parts).release().ptr());
  }
  out.set("contacts", contacts);
  if (const auto& media = message.media) {
    out.set("media", WebhookObject(types.media_ref)
                         .set("id", std::string_view(media->id))
                         .set("mime_type", media->mime_type)
                         .set("sha256", media->sha256)
                         .set("caption", media->caption)
                         .set("filename", media->filename)
                         .set("url", media->url)
                         .set("voice", media->voice)
                         .set("animated", media->animated)
                         .take());
  } else {
    out.set("media", py::none());
  }
  if (const auto& location = message.location) {
    out.set("location", WebhookObject(types.location)
                            .set("latitude", py::float_(location->latitude))
                            .set("longitude", py::float_(location->longitude))
                            .set("name", location->name)
                            .set("address", location->address)
                            .set("url", location->url)
                            .take());
  } else {
    out.set("location", py::none());
  }
  if (const auto& reply = message.interactive) {
    out.set("interactive", WebhookObject(types.interactive_reply)
                               .set("type", std::string_view(reply->type))
                               .set("id", reply->id)
                               .set("title", reply->title)
                               .set("description", reply->description)
                               .set("response_json", reply->response_json)
                               .set("body", reply->body)
                               .set("name", reply->name)
                               .set("response", reply->response)
                               .set("response_source", reply->response_source)
                               .set("expiration", webhook_time(reply->expiration))
                               .set("content", webhook_part(reply->content, parts))
                               .take());
  } else {
    out.set("interactive", py::none());
  }
  if (const auto& button = message.button) {
    out.set("button", WebhookObject(types.button_reply)
                          .set("payload", button->payload)
                          .set("text", button->text)
                          .take());
  } else {
    out.set("button", py::none());
  }
  if (const auto& reaction = message.reaction) {
    out.set("reaction", WebhookObject(types.reaction)
                            .set("message_id", std::string_view(reaction->message_id))
                            .set("emoji", reaction->emoji)
                            .take());
  } else {
    out.set("reaction", py::none());
  }
  if (const auto& context = message.context) {
    out.set("context", WebhookObject(types.message_context)
                           .set("message_id", context->message_id)
                           .set("from_wa_id", context->from_wa_id)
                           .set("forwarded", py::bool_(context->forwarded))
                           .set("frequently_forwarded", py::bool_(context->frequently_forwarded))
                           .set("referred_product", webhook_part(context->referred_product, parts))
                           .take());
  } else {
    out.set("context", py::none());
  }
}

void webhook_status_fields(WebhookObject& out, const WebhookTypes& types,
                           const wacloud::StatusUpdate& status, const WebhookRawParts& parts) {
  out.set("message_id", std::string_view(status.message_id))
      .set("contact", webhook_part(status.contact, parts))
      .set("status", std::string_view(status.status))
      .set("recipient_id", status.recipient_id)
      .set("recipient_user_id", status.recipient_user_id)
      .set("recipient_parent_user_id", status.recipient_parent_user_id)
      .set("recipient_type", status.recipient_type)
      .set("recipient_participant_id", status.recipient_participant_id)
      .set("conversation_id", status.conversation_id)
      .set("conversation_origin", status.conversation_origin)
      .set("conversation_expiration", webhook_time(status.conversation_expiration))
      .set("pricing_category", status.pricing_category)
      .set("pricing_model", status.pricing_model)
      .set("pricing_type", status.pricing_type)
      .set("billable", status.billable)
      .set("errors", webhook_errors(types, status.errors))
      .set("biz_opaque_callback_data", status.biz_opaque_callback_data);
}

const WebhookClass& webhook_class(const WebhookTypes& types, wacloud::EventType type) {
  switch (type) {
    case wacloud::EventType::kMessage:
      return types.inbound_message;
    case wacloud::EventType::kStatus:
      return types.status_update;
    case wacloud::EventType::kError:
      return types.webhook_error;
    case wacloud::EventType::kTemplateStatus:
      return types.template_status_update;
    case wacloud::EventType::kInvalid:
      return types.invalid_item;
    case wacloud::EventType::kFieldUpdate:
      break;
  }
  return types.field_update;
}

py::object webhook_event(const WebhookTypes& types, const wacloud::Event& event) {
  const auto* message = std::get_if<wacloud::InboundMessage>(&event.data);
  WebhookRawParts parts;
  if (message != nullptr) {
    parts.want(message->order);
    parts.want(message->system);
    parts.want(message->referral);
    for (const wacloud::RawJson& card : message->contacts) parts.want(card);
    if (message->context) parts.want(message->context->referred_product);
    if (message->interactive) parts.want(message->interactive->content);
  }
  WebhookObject out(webhook_class(types, event.type()));
  py::object raw = webhook_object(event.raw.get(), &parts);
  out.set("event_type", types.event_types[static_cast<int>(event.type())])
      .set("field", std::string_view(event.field))
      .set("waba_id", std::string_view(event.waba_id))
      .set("phone_number_id", event.phone_number_id)
      .set("display_phone_number", event.display_phone_number)
      .set("timestamp", webhook_time(event.timestamp))
      .set("raw", raw);
  if (message != nullptr) {
    webhook_message_fields(out, types, *message, parts);
  } else if (const auto* status = std::get_if<wacloud::StatusUpdate>(&event.data)) {
    webhook_status_fields(out, types, *status, parts);
  } else if (const auto* error = std::get_if<wacloud::WebhookError>(&event.data)) {
    out.set("errors", webhook_errors(types, error->errors));
  } else if (const auto* update = std::get_if<wacloud::TemplateStatusUpdate>(&event.data)) {
    out.set("template_id", std::string_view(update->template_id))
        .set("template_name", std::string_view(update->template_name))
        .set("language", std::string_view(update->language))
        .set("status", std::string_view(update->status))
        .set("reason", update->reason)
        .set("category", update->category);
  } else if (const auto* invalid = std::get_if<wacloud::InvalidItem>(&event.data)) {
    out.set("kind", std::string_view(invalid->kind))
        .set("path", std::string_view(invalid->path))
        .set("reason", std::string_view(invalid->reason))
        .set("item_id", invalid->item_id);
  } else {
    out.set("value", raw);  // FieldUpdate: the change's value is its raw JSON
  }
  return out.take();
}

py::list webhook_events(const WebhookTypes& types, const std::vector<wacloud::Event>& events) {
  py::list list(events.size());
  for (std::size_t i = 0; i < events.size(); ++i) {
    PyList_SET_ITEM(list.ptr(), static_cast<Py_ssize_t>(i),
                    webhook_event(types, events[i]).release().ptr());
  }
  return list;
}

// Automatic garbage collection is paused while events are built: every object
// made survives the call and none is in a cycle, so the collections that
// hundreds of new objects trigger would only walk them again and again (which
// made parse_many slower than parse). The GIL is held throughout.
class WebhookGcPause {
 public:
  WebhookGcPause() : was_enabled_(PyGC_Disable()) {}
  ~WebhookGcPause() {
    if (was_enabled_) PyGC_Enable();
  }
  WebhookGcPause(const WebhookGcPause&) = delete;
  WebhookGcPause& operator=(const WebhookGcPause&) = delete;

 private:
  int was_enabled_;
};

void bind_webhook(py::module_& m) {
  m.def(
      "webhook_routing",
      [](const py::object& body) -> py::object {
        std::optional<wacloud::WebhookRouting> routing;
        if (PyByteArray_Check(body.ptr())) {  // mutable: copy before releasing the GIL
          std::string copy(bytes_view(body));
          py::gil_scoped_release release;
          routing = wacloud::webhook_routing(copy);
        } else {
          std::string_view view = bytes_view(body);
          py::gil_scoped_release release;
          routing = wacloud::webhook_routing(view);
        }
        if (!routing) return py::none();
        py::list changes, fields;
        for (const wacloud::RoutedChangeIds& ids : routing->changes) {
          py::object phone_number_id = py::none();
          if (ids.phone_number_id) phone_number_id = py::str(*ids.phone_number_id);
          changes.append(py::make_tuple(ids.waba_id, phone_number_id));
        }
        for (const std::string& field : routing->fields) fields.append(py::str(field));
        return py::make_tuple(changes, fields);
      },
      py::arg("body"));
  m.def(
      "parse_webhook",
      [](const py::object& body) {
        std::vector<wacloud::Event> events;
        if (PyByteArray_Check(body.ptr())) {  // mutable: copy before releasing the GIL
          std::string copy(bytes_view(body));
          py::gil_scoped_release release;
          events = wacloud::parse_webhook(copy);
        } else {
          std::string_view view = bytes_view(body);
          py::gil_scoped_release release;
          events = wacloud::parse_webhook(view);
        }
        const WebhookTypes& types = webhook_types();
        WebhookGcPause pause;
        return webhook_events(types, events);
      },
      py::arg("body"));
  m.def(
      "parse_webhooks",
      [](const py::sequence& bodies, bool return_exceptions, std::size_t chunk) {
        // `chunk` bodies per GIL release (webhook.py says why so few). Nothing
        // between chunks allocates Python objects, so no collection runs over
        // the events already built (see WebhookGcPause).
        const std::size_t step = std::max<std::size_t>(1, chunk);
        py::object error_class = py::module_::import("wacloud.errors").attr("WebhookPayloadError");
        const WebhookTypes& types = webhook_types();
        const std::size_t count = bodies.size();
        py::list out(count);
        for (std::size_t start = 0; start < count; start += step) {
          const std::size_t end = std::min(count, start + step);
          // While the GIL is released other threads may change the sequence and
          // bytearrays: bytes and str are held (both immutable), bytearrays copied.
          std::vector<py::object> held;
          std::deque<std::string> copies;
          std::vector<std::string_view> views;
          views.reserve(end - start);
          for (std::size_t i = start; i < end; ++i) {
            py::object body = bodies[i];
            if (PyByteArray_Check(body.ptr())) {
              views.push_back(copies.emplace_back(bytes_view(body)));
            } else {
              views.push_back(bytes_view(body));
              held.push_back(std::move(body));
            }
          }
          std::vector<wacloud::WebhookParseResult> results;
          {
            py::gil_scoped_release release;
            results = wacloud::parse_webhooks(views);
          }
          WebhookGcPause pause;
          for (std::size_t i = 0; i < results.size(); ++i) {
            py::object item;
            if (const auto& error = results[i].error) {
              item = error_class(error->what(), error->path());
              if (!return_exceptions) {  // the first bad body, in order, is raised
                PyErr_SetObject(error_class.ptr(), item.ptr());
                throw py::error_already_set();
              }
            } else {
              item = webhook_events(types, results[i].events);
            }
            PyList_SET_ITEM(out.ptr(), static_cast<Py_ssize_t>(start + i), item.release().ptr());
          }
        }
        return out;
      },
      py::arg("bodies"), py::arg("return_exceptions") = false, py::arg("chunk") = 64);
  m.attr("WEBHOOK_MAX_DEPTH") = wacloud::kWebhookMaxDepth;
}

// ---- media -----------------------------------------------------------------
void bind_media(py::module_& m) {
  // A read-only view of any contiguous bytes-like object (bytes, bytearray,
  // memoryview, mmap). Holding the export also keeps a bytearray from being
  // resized while the GIL is released.
  struct HeldBuffer {
    Py_buffer buffer{};
    explicit HeldBuffer(const py::handle& object) {
      if (PyUnicode_Check(object.ptr()))
        throw py::type_error("expected a bytes-like object, got str");
      if (PyObject_GetBuffer(object.ptr(), &buffer, PyBUF_SIMPLE) != 0)
        throw py::error_already_set();
    }
    ~HeldBuffer() { PyBuffer_Release(&buffer); }
    HeldBuffer(const HeldBuffer&) = delete;
    HeldBuffer& operator=(const HeldBuffer&) = delete;
    std::string_view view() const {
      return {static_cast<const char*>(buffer.buf), static_cast<std::size_t>(buffer.len)};
    }
  };
  // Paths as the OS sees them (str, bytes or os.PathLike, via os.fsencode); a
  // FileError becomes the OSError subclass for its errno, naming the path as given.
  auto with_file = [](const py::object& path, auto&& work) {
    py::module_ os = py::module_::import("os");
    py::object name = os.attr("fspath")(path);
    std::string native = os.attr("fsencode")(name).cast<std::string>();
    if (native.find('\0') != std::string::npos) throw py::value_error("embedded null byte in path");
    try {
      py::gil_scoped_release release;
      return work(native);
    } catch (const wacloud::FileError& e) {
      errno = e.error_number();
      PyErr_SetFromErrnoWithFilenameObject(PyExc_OSError, name.ptr());
      throw py::error_already_set();
    }
  };
  auto info_tuple = [](const wacloud::MediaInfo& info) {
    return py::make_tuple(info.mime, std::string(wacloud::media_kind_name(info.kind)), info.size,
                          info.sha256, info.animated);
  };

  m.def(
      "sha256_hex",
      [](const py::object& data) {
        HeldBuffer held(data);
        py::gil_scoped_release release;
        return wacloud::to_hex(wacloud::sha256(held.view()));
      },
      py::arg("data"));
  m.def(
      "sha256_base64",
      [](const py::object& data) {
        HeldBuffer held(data);
        py::gil_scoped_release release;
        return wacloud::to_base64(wacloud::sha256(held.view()));
      },
      py::arg("data"));
  m.def(
      "sha256_file_hex",
      [with_file](const py::object& path) {
        return with_file(path, [](const std::string& native) {
          return wacloud::to_hex(wacloud::sha256_file(native));
        });
      },
      py::arg("path"));
  m.def(
      "sha256_file_base64",
      [with_file](const py::object& path) {
        return with_file(path, [](const std::string& native) {
          return wacloud::to_base64(wacloud::sha256_file(native));
        });
      },
      py::arg("path"));
  m.def(
      "sniff_mime",
      [](const py::object& data) {
        HeldBuffer held(data);
        py::gil_scoped_release release;
        return wacloud::sniff_mime_data(held.view());
      },
      py::arg("data"));
  m.def(
      "sniff_mime_file",
      [with_file](const py::object& path) {
        return with_file(
            path, [](const std::string& native) { return wacloud::sniff_mime_file(native); });
      },
      py::arg("path"));
  m.def(
      "check_media",
      [info_tuple](const py::object& data, const std::string& declared_mime) {
        HeldBuffer held(data);
        wacloud::MediaInfo info;
        {
          py::gil_scoped_release release;
          info = wacloud::check_media(held.view(), declared_mime);
        }
        return info_tuple(info);
      },
      py::arg("data"), py::arg("declared_mime") = "");
  m.def(
      "check_media_file",
      [with_file, info_tuple](const py::object& path, const std::string& declared_mime) {
        return info_tuple(with_file(path, [&declared_mime](const std::string& native) {
          return wacloud::check_media_file(native, declared_mime);
        }));
      },
      py::arg("path"), py::arg("declared_mime") = "");
  m.def(
      "kind_for_mime",
      [](const std::string& mime) -> std::optional<std::string> {
        auto kind = wacloud::kind_for_mime(mime);
        if (!kind) return std::nullopt;
        return std::string(wacloud::media_kind_name(*kind));
      },
      py::arg("mime"));
  m.def("normalize_mime", &wacloud::normalize_mime, py::arg("mime"));
  m.def("media_rules", []() {
    py::list rules;
    for (const wacloud::MediaRule& rule : wacloud::media_rules()) {
      py::tuple mime_types(rule.mime_types.size());
      for (std::size_t i = 0; i < rule.mime_types.size(); ++i) {
        mime_types[i] = py::str(rule.mime_types[i].data(), rule.mime_types[i].size());
      }
      rules.append(py::make_tuple(std::string(wacloud::media_kind_name(rule.kind)), mime_types,
                                  rule.max_size, rule.max_size_animated));
    }
    return rules;
  });
}

// ---- rate limiter ----------------------------------------------------------
void bind_rate_limiter(py::module_& m) {
  using wacloud::RateLimitConfig;
  // The abstract base, so other bindings can take std::shared_ptr<RateLimiter>.
  // acquire blocks: the GIL is released around both calls (arguments are
  // already copied into std::string by then).
  py::class_<wacloud::RateLimiter, std::shared_ptr<wacloud::RateLimiter>>(m, "RateLimiter")
      .def("acquire", &wacloud::RateLimiter::acquire, py::arg("key"), py::arg("recipient") = "",
           py::arg("timeout") = py::none(), py::call_guard<py::gil_scoped_release>())
      .def("try_acquire", &wacloud::RateLimiter::try_acquire, py::arg("key"),
           py::arg("recipient") = "", py::call_guard<py::gil_scoped_release>());

  auto make_config = [](double per_second, std::optional<double> per_hour,
                        std::optional<double> burst, std::optional<double> pair_limit,
                        double pair_period) {
    RateLimitConfig config;
    config.per_second = per_second;
    config.per_hour = per_hour;
    config.burst = burst;
    config.pair_limit = pair_limit;
    config.pair_period_seconds = pair_period;
    return config;
  };
  py::class_<wacloud::MemoryRateLimiter, wacloud::RateLimiter,
             std::shared_ptr<wacloud::MemoryRateLimiter>>(m, "MemoryRateLimiter")
      .def(py::init([make_config](double per_second, std::optional<double> per_hour,
                                  std::optional<double> burst, std::optional<double> pair_limit,
                                  double pair_period) {
             return std::make_shared<wacloud::MemoryRateLimiter>(
                 make_config(per_second, per_hour, burst, pair_limit, pair_period));
           }),
           py::arg("per_second") = 80.0, py::arg("per_hour") = py::none(),
           py::arg("burst") = py::none(), py::arg("pair_limit") = py::none(),
           py::arg("pair_period") = 6.0)
      .def("wait_time", &wacloud::MemoryRateLimiter::wait_time, py::arg("key"),
           py::arg("recipient") = "", py::call_guard<py::gil_scoped_release>())
      .def_property_readonly("tracked_buckets", &wacloud::MemoryRateLimiter::tracked_buckets);
  py::class_<wacloud::SqliteRateLimiter, wacloud::RateLimiter,
             std::shared_ptr<wacloud::SqliteRateLimiter>>(m, "SqliteRateLimiter")
      .def(py::init([make_config](std::string path, double per_second,
                                  std::optional<double> per_hour, std::optional<double> burst,
                                  std::optional<double> pair_limit, double pair_period) {
             return std::make_shared<wacloud::SqliteRateLimiter>(
                 std::move(path),
                 make_config(per_second, per_hour, burst, pair_limit, pair_period));
           }),
           py::arg("path"), py::arg("per_second") = 80.0, py::arg("per_hour") = py::none(),
           py::arg("burst") = py::none(), py::arg("pair_limit") = py::none(),
           py::arg("pair_period") = 6.0)
      .def_property_readonly("path", &wacloud::SqliteRateLimiter::path)
      .def_property_readonly("tracked_buckets", [](wacloud::SqliteRateLimiter& limiter) {
        py::gil_scoped_release release;
        return limiter.tracked_buckets();
      });
}

// ---- client ----------------------------------------------------------------
// Structured arguments (message fields, template components, profile fields)
// arrive as JSON text made by wacloud/client.py: one conversion, no per-type glue.
boost::json::value client_json_argument(const std::string& text, const char* field) {
  boost::json::error_code ec;
  boost::json::value value = boost::json::parse(text, ec);
  if (ec) wacloud::throw_invalid_parameter(field, "is not JSON-serialisable");
  return value;
}

py::tuple client_send_result(const wacloud::SendResult& r) {
  return py::make_tuple(r.message_id, r.wa_id, r.input, r.message_status);
}

py::tuple client_remote_media(const wacloud::RemoteMedia& media) {
  return py::make_tuple(media.id, media.url, media.mime_type, media.sha256, media.file_size);
}

py::dict client_token_info(const wacloud::TokenInfo& info) {
  py::list granular;
  for (const auto& scope : info.granular_scopes) {
    granular.append(py::make_tuple(scope.scope, py::tuple(py::cast(scope.target_ids))));
  }
  py::dict out;
  out["is_valid"] = info.is_valid;
  out["app_id"] = info.app_id;
  out["type"] = info.type;
  out["application"] = info.application;
  out["user_id"] = info.user_id;
  out["expires_at"] = info.expires_at;
  out["data_access_expires_at"] = info.data_access_expires_at;
  out["issued_at"] = info.issued_at;
  out["scopes"] = py::tuple(py::cast(info.scopes));
  out["granular_scopes"] = py::tuple(granular);
  out["missing_scopes"] =
      py::tuple(py::cast(wacloud::missing_scopes(info, wacloud::required_token_scopes())));
  out["error_code"] = info.error_code;
  out["error_subcode"] = info.error_subcode;
  out["error_message"] = info.error_message;
  return out;
}

wacloud::Message client_message(const std::string& type, const std::string& fields) {
  boost::json::value parsed = client_json_argument(fields, "fields");
  if (!parsed.is_object()) wacloud::throw_invalid_parameter("fields", "must be an object");
  return wacloud::message_from_fields(type, parsed.as_object());
}

void bind_client(py::module_& m) {
  using wacloud::GraphClient;
  m.def(
      "build_message_payload",
      [](const std::string& type, const std::string& fields, const std::string& to,
         const std::string& reply_to, const std::string& default_region) {
        py::gil_scoped_release release;
        wacloud::Message message = client_message(type, fields);
        std::string wa_id = wacloud::normalize(to, default_region);
        return boost::json::serialize(wacloud::build_message_payload(wa_id, message, reply_to));
      },
      py::arg("type"), py::arg("fields"), py::arg("to"), py::arg("reply_to") = "",
      py::arg("default_region") = "");

  m.def("required_token_scopes", &wacloud::required_token_scopes);

  py::class_<GraphClient>(m, "GraphClient")
      .def(py::init([](std::string access_token, std::string phone_number_id, std::string waba_id,
                       std::string api_version, std::string base_url, double timeout,
                       double connect_timeout, int max_retries, double backoff_base,
                       double backoff_max, const py::object& rate_limiter,
                       std::optional<double> rate_limit_timeout, std::string default_region) {
             wacloud::ClientConfig config;
             config.access_token = std::move(access_token);
             config.phone_number_id = std::move(phone_number_id);
             config.waba_id = std::move(waba_id);
             config.api_version = std::move(api_version);
             config.base_url = std::move(base_url);
             config.timeout_seconds = timeout;
             config.connect_timeout_seconds = connect_timeout;
             config.max_retries = max_retries;
             config.backoff_base_seconds = backoff_base;
             config.backoff_max_seconds = backoff_max;
             // Only limiters of the core run here; Python ones are called by client.py.
             if (!rate_limiter.is_none()) {
               config.rate_limiter = rate_limiter.cast<std::shared_ptr<wacloud::RateLimiter>>();
             }
             config.rate_limit_timeout_seconds = rate_limit_timeout;
             config.default_region = std::move(default_region);
             return std::make_unique<GraphClient>(std::move(config));
           }),
           py::arg("access_token"), py::arg("phone_number_id"), py::arg("waba_id") = "",
           py::arg("api_version") = "v25.0", py::arg("base_url") = "https://graph.facebook.com",
           py::arg("timeout") = 30.0, py::arg("connect_timeout") = 10.0, py::arg("max_retries") = 3,
           py::arg("backoff_base") = 0.5, py::arg("backoff_max") = 30.0,
           py::arg("rate_limiter") = py::none(), py::arg("rate_limit_timeout") = py::none(),
           py::arg("default_region") = "")
      .def(
          "prepare",
          [](GraphClient& client, const std::string& type, const std::string& fields,
             const std::string& to, const std::string& reply_to) {
            py::gil_scoped_release release;
            wacloud::PreparedSend prepared =
                client.prepare(to, client_message(type, fields), reply_to);
            return std::make_pair(prepared.payload, prepared.recipient);
          },
          py::arg("type"), py::arg("fields"), py::arg("to"), py::arg("reply_to") = "")
      .def(
          "send_payload",
          [](GraphClient& client, const std::string& payload, const std::string& recipient) {
            wacloud::SendResult result;
            {
              py::gil_scoped_release release;
              result = client.send_payload(payload, recipient);
            }
            return client_send_result(result);
          },
          py::arg("payload"), py::arg("recipient"))
      .def(
          "send_many",
          [](GraphClient& client, const std::vector<std::pair<std::string, std::string>>& items,
             std::size_t concurrency) {
            std::vector<wacloud::PreparedSend> sends;
            sends.reserve(items.size());
            for (const auto& [payload, recipient] : items) sends.push_back({payload, recipient});
            std::vector<wacloud::SendOutcome> outcomes;
            {
              py::gil_scoped_release release;
              outcomes = client.send_many(sends, concurrency);
            }
            py::list out(outcomes.size());
            for (std::size_t i = 0; i < outcomes.size(); ++i) {
              if (const auto* result = std::get_if<wacloud::SendResult>(&outcomes[i])) {
                out[i] = client_send_result(*result);
              } else {
                out[i] = graph_error_object(std::get<wacloud::GraphErrorInfo>(outcomes[i]));
              }
            }
            return out;
          },
          py::arg("sends"), py::arg("concurrency"))
      .def("mark_read", &GraphClient::mark_read, py::arg("message_id"),
           py::arg("typing_indicator") = false, py::call_guard<py::gil_scoped_release>())
      .def(
          "upload_media",
          [](GraphClient& client, const py::object& data, const std::string& path,
             const std::string& mime_type, const std::string& filename) {
            wacloud::MediaUpload upload{
                data.is_none() ? std::string() : std::string(bytes_view(data)), path, mime_type,
                filename};
            py::gil_scoped_release release;
            return client.upload_media(upload);
          },
          py::arg("data"), py::arg("path"), py::arg("mime_type"), py::arg("filename") = "")
      .def(
          "get_media",
          [](GraphClient& client, const std::string& media_id) {
            wacloud::RemoteMedia media;
            {
              py::gil_scoped_release release;
              media = client.get_media(media_id);
            }
            return client_remote_media(media);
          },
          py::arg("media_id"))
      .def(
          "download_media",
          [](GraphClient& client, const std::string& media_id, const std::string& dest) {
            wacloud::RemoteMedia media;
            {
              py::gil_scoped_release release;
              media = client.download_media(media_id, dest);
            }
            return client_remote_media(media);
          },
          py::arg("media_id"), py::arg("dest"))
      .def("delete_media", &GraphClient::delete_media, py::arg("media_id"),
           py::call_guard<py::gil_scoped_release>())
      .def(
          "list_templates",
          [](GraphClient& client, const std::string& status, const std::string& name,
             std::size_t page_size) {
            boost::json::value templates;
            {
              py::gil_scoped_release release;
              templates = client.list_templates(status, name, page_size);
            }
            return webhook_json(templates);
          },
          py::arg("status"), py::arg("name"), py::arg("page_size"))
      .def(
          "create_template",
          [](GraphClient& client, const std::string& name, const std::string& language,
             const std::string& category, const std::string& components) {
            boost::json::value created;
            {
              py::gil_scoped_release release;
              boost::json::value parsed = client_json_argument(components, "components");
              if (!parsed.is_array())
                wacloud::throw_invalid_parameter("components", "must be a list");
              created = client.create_template(name, language, category, parsed.as_array());
            }
            return webhook_json(created);
          },
          py::arg("name"), py::arg("language"), py::arg("category"), py::arg("components"))
      .def("delete_template", &GraphClient::delete_template, py::arg("name"),
           py::call_guard<py::gil_scoped_release>())
      .def("get_business_profile",
           [](GraphClient& client) {
             boost::json::value profile;
             {
               py::gil_scoped_release release;
               profile = client.get_business_profile();
             }
             return webhook_json(profile);
           })
      .def(
          "update_business_profile",
          [](GraphClient& client, const std::string& fields) {
            py::gil_scoped_release release;
            boost::json::value parsed = client_json_argument(fields, "fields");
            if (!parsed.is_object())
              wacloud::throw_invalid_parameter("fields", "must be an object");
            client.update_business_profile(parsed.as_object());
          },
          py::arg("fields"))
      .def("get_phone_number",
           [](GraphClient& client) {
             boost::json::value number;
             {
               py::gil_scoped_release release;
               number = client.get_phone_number();
             }
             return webhook_json(number);
           })
      .def(
          "debug_token",
          [](GraphClient& client, const std::string& input_token) {
            wacloud::TokenInfo info;
            {
              py::gil_scoped_release release;
              info = client.debug_token(input_token);
            }
            return client_token_info(info);
          },
          py::arg("input_token") = "")
      .def("backoff_seconds", &GraphClient::backoff_seconds, py::arg("attempt"),
           py::arg("retry_after") = py::none());
}

// ---- circuit breaker -------------------------------------------------------
// Calls take the time from Python (wacloud/circuit.py reads its clock), so one
// clock drives every backend and tests can move it. Results are plain tuples
// and dicts; the Python module turns them into its types.
void bind_circuit_breaker(py::module_& m) {
  using wacloud::CircuitBreaker;
  using wacloud::CircuitBreakerConfig;
  auto make_config = [](int failure_threshold, std::optional<double> error_rate,
                        double window_seconds, int min_calls, double cool_down_seconds,
                        double max_cool_down_seconds) {
    CircuitBreakerConfig config;
    config.failure_threshold = failure_threshold;
    config.error_rate = error_rate;
    config.window_seconds = window_seconds;
    config.min_calls = min_calls;
    config.cool_down_seconds = cool_down_seconds;
    config.max_cool_down_seconds = max_cool_down_seconds;
    return config;
  };
  auto transition = [](wacloud::CircuitTransition t) {
    return std::string(wacloud::circuit_transition_name(t));
  };
  py::class_<CircuitBreaker, std::shared_ptr<CircuitBreaker>>(m, "CircuitBreaker")
      .def(
          "allow",
          [transition](CircuitBreaker& breaker, const std::string& key, double now) {
            wacloud::CircuitPermit permit;
            {
              py::gil_scoped_release release;
              permit = breaker.allow(key, now);
            }
            return py::make_tuple(permit.allowed, permit.probe, permit.retry_in,
                                  transition(permit.transition));
          },
          py::arg("key"), py::arg("now"))
      .def(
          "record_success",
          [transition](CircuitBreaker& breaker, const std::string& key, double now) {
            py::gil_scoped_release release;
            return transition(breaker.record_success(key, now));
          },
          py::arg("key"), py::arg("now"))
      .def(
          "record_failure",
          [transition](CircuitBreaker& breaker, const std::string& key, double now) {
            py::gil_scoped_release release;
            return transition(breaker.record_failure(key, now));
          },
          py::arg("key"), py::arg("now"))
      .def(
          "status",
          [](CircuitBreaker& breaker, const std::string& key) {
            wacloud::CircuitRecord record;
            {
              py::gil_scoped_release release;
              record = breaker.status(key);
            }
            py::dict view;
            view["state"] = std::string(wacloud::circuit_state_name(record.state));
            view["consecutive_failures"] = record.consecutive_failures;
            view["window_start"] = record.window_start;
            view["calls"] = record.calls;
            view["failures"] = record.failures;
            view["opened_at"] = record.opened_at;
            view["cool_down"] = record.cool_down;
            view["probe_started"] = record.probe_started;
            return view;
          },
          py::arg("key"));
  py::class_<wacloud::MemoryCircuitBreaker, CircuitBreaker,
             std::shared_ptr<wacloud::MemoryCircuitBreaker>>(m, "MemoryCircuitBreaker")
      .def(py::init([make_config](int failure_threshold, std::optional<double> error_rate,
                                  double window_seconds, int min_calls, double cool_down_seconds,
                                  double max_cool_down_seconds) {
             return std::make_shared<wacloud::MemoryCircuitBreaker>(
                 make_config(failure_threshold, error_rate, window_seconds, min_calls,
                             cool_down_seconds, max_cool_down_seconds));
           }),
           py::arg("failure_threshold") = 5, py::arg("error_rate") = 0.5,
           py::arg("window_seconds") = 60.0, py::arg("min_calls") = 20,
           py::arg("cool_down_seconds") = 30.0, py::arg("max_cool_down_seconds") = 300.0);
  py::class_<wacloud::SqliteCircuitBreaker, CircuitBreaker,
             std::shared_ptr<wacloud::SqliteCircuitBreaker>>(m, "SqliteCircuitBreaker")
      .def(py::init([make_config](std::string path, int failure_threshold,
                                  std::optional<double> error_rate, double window_seconds,
                                  int min_calls, double cool_down_seconds,
                                  double max_cool_down_seconds) {
             return std::make_shared<wacloud::SqliteCircuitBreaker>(
                 std::move(path), make_config(failure_threshold, error_rate, window_seconds,
                                              min_calls, cool_down_seconds, max_cool_down_seconds));
           }),
           py::arg("path"), py::arg("failure_threshold") = 5, py::arg("error_rate") = 0.5,
           py::arg("window_seconds") = 60.0, py::arg("min_calls") = 20,
           py::arg("cool_down_seconds") = 30.0, py::arg("max_cool_down_seconds") = 300.0)
      .def_property_readonly("path", &wacloud::SqliteCircuitBreaker::path);
}

// @@ bind functions above this line (one `void bind_<concern>(py::module_&)` each)

}  // namespace

PYBIND11_MODULE(_core, m) {
  m.doc() = "wacloud's C++ core. Use the modules of the `wacloud` package instead.";
  py::register_exception_translator(&translate_exception);
  bind_signature(m);
  bind_phone(m);
  bind_webhook(m);
  bind_media(m);
  bind_rate_limiter(m);
  bind_client(m);
  bind_circuit_breaker(m);
  // @@ bind calls above this line
}
