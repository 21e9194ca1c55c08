// The only pybind11 file: adapts types between Python and the C++ core,
// releases the GIL around C++ work once Python buffers are read, and maps C++
// exceptions to the classes of `wacloud.errors`. No behaviour lives here.
// It is longer than our other files on purpose: every binding lives here, one
// `bind_<concern>` section per core header, so the Python boundary is one place.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

// After Python.h, which pybind11 includes: the webhook section builds datetimes
// and its own field descriptors.
#include <datetime.h>
#include <structmember.h>

#include <algorithm>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
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
    case K::kFlow:
      return "flow";
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
          py::arg("error_user_msg") = info.user_message, py::arg("result") = info.partial_result);
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

// `work(body)` on the bytes of `body`, with the GIL released only when the body is
// larger than this. Checking or parsing a webhook body of a few KiB takes a
// microsecond or two; handing the GIL over and taking it back costs a tenth of
// that, and no other thread gets far in so short a pause. A larger bytearray,
// mutable, is copied before the GIL goes; a smaller one is read in place, held
// with the GIL.
constexpr std::size_t kReleaseGilAbove = 16 * 1024;

template <typename Work>
auto on_body(const py::handle& body, Work work) {
  const std::string_view view = bytes_view(body);
  if (view.size() <= kReleaseGilAbove) return work(view);
  if (PyByteArray_Check(body.ptr())) {
    const std::string copy(view);
    py::gil_scoped_release release;
    return work(std::string_view(copy));
  }
  py::gil_scoped_release release;
  return work(view);
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
        std::string_view secret = bytes_view(app_secret), signature = bytes_view(header);
        return on_body(body, [&](std::string_view payload) {
          return wacloud::verify_signature(secret, payload, signature);
        });
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

// An event's raw dict, and the dicts made for JSON objects inside it, noted by
// address for the fields that are parts of raw (order, referral, contact cards,
// ...): those share raw's dicts, as after json.loads, instead of being made twice.
class WebhookRawParts {
 public:
  // Without an event: no raw, and each part is a dict of its own.
  WebhookRawParts() = default;
  // Makes the event's raw, noting the parts its fields hold.
  explicit WebhookRawParts(const wacloud::Event& event);
  py::object raw() const { return raw_; }
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
  py::object raw_;
  // Borrowed: each dict is alive inside raw_.
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

WebhookRawParts::WebhookRawParts(const wacloud::Event& event) {
  if (const auto* message = std::get_if<wacloud::InboundMessage>(&event.data)) {
    want(message->order);
    want(message->system);
    want(message->referral);
    for (const wacloud::RawJson& card : message->contacts) want(card);
    if (message->context) want(message->context->referred_product);
    if (message->interactive) want(message->interactive->content);
  }
  raw_ = webhook_object(event.raw.get(), this);
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

struct WebhookTypes;

// How one field's value is made from the core's Event. `parts` holds raw and
// the dicts inside it when the field is made together with raw.
using WebhookBuild = py::object (*)(const WebhookTypes&, const wacloud::Event&,
                                    const WebhookRawParts&);
struct WebhookFieldSpec {
  const char* name;
  WebhookBuild build;
  // The value is or holds parts of raw (order, contact cards, ...): made with raw,
  // so that they are raw's very objects, as after json.loads.
  bool in_raw = false;
};

// An event class (InboundMessage, StatusUpdate, ...): per dataclass field, how
// its value is made and where its slot is (see "events made on first read").
struct WebhookEventClass {
  py::object cls;
  PyTypeObject* type = nullptr;  // cls
  wacloud::EventType event_type{};
  std::vector<WebhookFieldSpec> specs;  // dataclass field order
  std::vector<Py_ssize_t> offsets;      // of each field's slot in an instance
  std::size_t raw_index = 0;
  std::string missing;  // why instances cannot be made (a field without a spec), or ""

  PyObject*& slot(PyObject* instance, std::size_t index) const {
    return *reinterpret_cast<PyObject**>(reinterpret_cast<char*>(instance) + offsets[index]);
  }
};

// The classes events are built as, looked up once (never destroyed: they may be
// needed until the interpreter is gone; the event classes' field descriptors
// point to theirs).
struct WebhookTypes {
  const WebhookEventClass* events[7] = {};  // in wacloud::EventType order
  WebhookClass media_ref, location, interactive_reply, button_reply, reaction, message_context,
      error_detail;
  py::object event_types[7];  // EventType members, in wacloud::EventType order
};

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

// Builds one frozen, slotted dataclass (the objects inside events: MediaRef,
// ErrorDetail, ...) without running its __init__: the instance is allocated as
// object.__new__ does and each slot is filled through its member descriptor, as
// object.__setattr__ in the dataclass's own __init__ does, minus the attribute
// lookup and the Python frames. take() checks that every field was set, so a
// field added to the dataclass cannot be forgotten.
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

// The Python value of each type of the core's event fields. All take `parts`
// (see WebhookBuild) so the field templates below can call any of them.
py::object webhook_value(const WebhookTypes&, const std::string& text, const WebhookRawParts&) {
  return webhook_str(text);
}

py::object webhook_value(const WebhookTypes&, const std::optional<std::string>& text,
                         const WebhookRawParts&) {
  return text ? webhook_str(*text) : py::none();
}

py::object webhook_value(const WebhookTypes&, bool flag, const WebhookRawParts&) {
  return py::bool_(flag);
}

py::object webhook_value(const WebhookTypes&, const std::optional<bool>& flag,
                         const WebhookRawParts&) {
  return flag ? py::object(py::bool_(*flag)) : py::none();
}

py::object webhook_value(const WebhookTypes& types, const std::vector<wacloud::ErrorDetail>& errors,
                         const WebhookRawParts&) {
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
  return std::move(list);
}

py::object webhook_value(const WebhookTypes&, const std::optional<wacloud::RawJson>& part,
                         const WebhookRawParts& parts) {
  return webhook_part(part, parts);
}

py::object webhook_value(const WebhookTypes&, const std::vector<wacloud::RawJson>& cards,
                         const WebhookRawParts& parts) {
  py::list list(cards.size());
  for (std::size_t i = 0; i < cards.size(); ++i) {
    PyList_SET_ITEM(list.ptr(), static_cast<Py_ssize_t>(i),
                    webhook_part(cards[i], parts).release().ptr());
  }
  return std::move(list);
}

py::object webhook_value(const WebhookTypes& types, const std::optional<wacloud::MediaRef>& media,
                         const WebhookRawParts&) {
  if (!media) return py::none();
  return WebhookObject(types.media_ref)
      .set("id", std::string_view(media->id))
      .set("mime_type", media->mime_type)
      .set("sha256", media->sha256)
      .set("caption", media->caption)
      .set("filename", media->filename)
      .set("url", media->url)
      .set("voice", media->voice)
      .set("animated", media->animated)
      .take();
}

py::object webhook_value(const WebhookTypes& types,
                         const std::optional<wacloud::Location>& location, const WebhookRawParts&) {
  if (!location) return py::none();
  return WebhookObject(types.location)
      .set("latitude", py::float_(location->latitude))
      .set("longitude", py::float_(location->longitude))
      .set("name", location->name)
      .set("address", location->address)
      .set("url", location->url)
      .take();
}

py::object webhook_value(const WebhookTypes& types,
                         const std::optional<wacloud::InteractiveReply>& reply,
                         const WebhookRawParts& parts) {
  if (!reply) return py::none();
  return WebhookObject(types.interactive_reply)
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
      .take();
}

py::object webhook_value(const WebhookTypes& types,
                         const std::optional<wacloud::ButtonReply>& button,
                         const WebhookRawParts&) {
  if (!button) return py::none();
  return WebhookObject(types.button_reply)
      .set("payload", button->payload)
      .set("text", button->text)
      .take();
}

py::object webhook_value(const WebhookTypes& types,
                         const std::optional<wacloud::Reaction>& reaction, const WebhookRawParts&) {
  if (!reaction) return py::none();
  return WebhookObject(types.reaction)
      .set("message_id", std::string_view(reaction->message_id))
      .set("emoji", reaction->emoji)
      .take();
}

py::object webhook_value(const WebhookTypes& types,
                         const std::optional<wacloud::MessageContext>& context,
                         const WebhookRawParts& parts) {
  if (!context) return py::none();
  return WebhookObject(types.message_context)
      .set("message_id", context->message_id)
      .set("from_wa_id", context->from_wa_id)
      .set("forwarded", py::bool_(context->forwarded))
      .set("frequently_forwarded", py::bool_(context->frequently_forwarded))
      .set("referred_product", webhook_part(context->referred_product, parts))
      .take();
}

// The core object holding `member`: the Event itself or its data alternative
// (the event class says which one; see WebhookEventClass::event_type).
template <typename Member>
struct WebhookMember;
template <typename Item, typename Value>
struct WebhookMember<Value Item::*> {
  using item = Item;
};

template <auto member>
const auto& webhook_member(const wacloud::Event& event) {
  using Item = typename WebhookMember<decltype(member)>::item;
  if constexpr (std::is_same_v<Item, wacloud::Event>) {
    return event.*member;
  } else {
    return std::get_if<Item>(&event.data)->*member;
  }
}

template <auto member>
py::object webhook_field(const WebhookTypes& types, const wacloud::Event& event,
                         const WebhookRawParts& parts) {
  return webhook_value(types, webhook_member<member>(event), parts);
}

template <auto member>
py::object webhook_time_field(const WebhookTypes&, const wacloud::Event& event,
                              const WebhookRawParts&) {
  return webhook_time(webhook_member<member>(event));
}

template <auto member>
constexpr WebhookFieldSpec webhook_spec(const char* name) {
  return {name, &webhook_field<member>, false};
}

template <auto member>
constexpr WebhookFieldSpec webhook_time_spec(const char* name) {
  return {name, &webhook_time_field<member>, false};
}

template <auto member>
constexpr WebhookFieldSpec webhook_raw_part(const char* name) {
  return {name, &webhook_field<member>, true};
}

// Every field of the event class of `type`, by name; the dataclass says the order.
std::vector<WebhookFieldSpec> webhook_field_specs(wacloud::EventType type) {
  using wacloud::EventType;
  using Event = wacloud::Event;
  std::vector<WebhookFieldSpec> specs = {
      {"event_type",
       [](const WebhookTypes& types, const Event& event, const WebhookRawParts&) {
         return types.event_types[static_cast<int>(event.type())];
       }},
      webhook_spec<&Event::field>("field"),
      webhook_spec<&Event::waba_id>("waba_id"),
      webhook_spec<&Event::phone_number_id>("phone_number_id"),
      webhook_spec<&Event::display_phone_number>("display_phone_number"),
      webhook_time_spec<&Event::timestamp>("timestamp"),
      {"raw",
       [](const WebhookTypes&, const Event&, const WebhookRawParts& parts) { return parts.raw(); },
       true},
  };
  const auto add = [&specs](std::initializer_list<WebhookFieldSpec> own) {
    specs.insert(specs.end(), own);
  };
  switch (type) {
    case EventType::kMessage: {
      using M = wacloud::InboundMessage;
      add({webhook_spec<&M::message_id>("message_id"),
           webhook_spec<&M::from_wa_id>("from_wa_id"),
           webhook_spec<&M::type>("type"),
           webhook_spec<&M::from_user_id>("from_user_id"),
           webhook_spec<&M::from_parent_user_id>("from_parent_user_id"),
           webhook_spec<&M::to_wa_id>("to_wa_id"),
           webhook_spec<&M::to_user_id>("to_user_id"),
           webhook_spec<&M::to_parent_user_id>("to_parent_user_id"),
           webhook_spec<&M::group_id>("group_id"),
           webhook_spec<&M::contact_name>("contact_name"),
           webhook_spec<&M::contact>("contact"),  // in value.contacts, not in raw
           webhook_spec<&M::edited_type>("edited_type"),
           webhook_spec<&M::text>("text"),
           webhook_spec<&M::media>("media"),
           webhook_spec<&M::location>("location"),
           webhook_raw_part<&M::contacts>("contacts"),
           webhook_raw_part<&M::interactive>("interactive"),  // content
           webhook_spec<&M::button>("button"),
           webhook_spec<&M::reaction>("reaction"),
           webhook_raw_part<&M::order>("order"),
           webhook_raw_part<&M::system>("system"),
           webhook_raw_part<&M::referral>("referral"),
           webhook_raw_part<&M::context>("context"),  // referred_product
           webhook_spec<&M::original_message_id>("original_message_id"),
           webhook_spec<&M::unsupported_type>("unsupported_type"),
           webhook_spec<&M::errors>("errors"),
           webhook_spec<&M::is_echo>("is_echo")});
      break;
    }
    case EventType::kStatus: {
      using S = wacloud::StatusUpdate;
      add({webhook_spec<&S::message_id>("message_id"), webhook_spec<&S::status>("status"),
           webhook_spec<&S::recipient_id>("recipient_id"),
           webhook_spec<&S::recipient_user_id>("recipient_user_id"),
           webhook_spec<&S::recipient_parent_user_id>("recipient_parent_user_id"),
           webhook_spec<&S::recipient_type>("recipient_type"),
           webhook_spec<&S::recipient_participant_id>("recipient_participant_id"),
           webhook_spec<&S::contact>("contact"),  // in value.contacts, not in raw
           webhook_spec<&S::conversation_id>("conversation_id"),
           webhook_spec<&S::conversation_origin>("conversation_origin"),
           webhook_time_spec<&S::conversation_expiration>("conversation_expiration"),
           webhook_spec<&S::pricing_category>("pricing_category"),
           webhook_spec<&S::pricing_model>("pricing_model"),
           webhook_spec<&S::pricing_type>("pricing_type"), webhook_spec<&S::billable>("billable"),
           webhook_spec<&S::errors>("errors"),
           webhook_spec<&S::biz_opaque_callback_data>("biz_opaque_callback_data")});
      break;
    }
    case EventType::kError:
      add({webhook_spec<&wacloud::WebhookError::errors>("errors")});
      break;
    case EventType::kTemplateStatus: {
      using T = wacloud::TemplateStatusUpdate;
      add({webhook_spec<&T::template_id>("template_id"),
           webhook_spec<&T::template_name>("template_name"), webhook_spec<&T::language>("language"),
           webhook_spec<&T::status>("status"), webhook_spec<&T::reason>("reason"),
           webhook_spec<&T::category>("category")});
      break;
    }
    case EventType::kFieldUpdate:
      // The change's value is its raw JSON: the same dict.
      add({{"value",
            [](const WebhookTypes&, const Event&, const WebhookRawParts& parts) {
              return parts.raw();
            },
            true}});
      break;
    case EventType::kInvalid: {
      using I = wacloud::InvalidItem;
      add({webhook_spec<&I::kind>("kind"), webhook_spec<&I::path>("path"),
           webhook_spec<&I::reason>("reason"), webhook_spec<&I::item_id>("item_id")});
      break;
    }
    case EventType::kUserIdUpdate: {
      using U = wacloud::UserIdUpdate;
      add({webhook_spec<&U::previous_user_id>("previous_user_id"),
           webhook_spec<&U::user_id>("user_id"),
           webhook_spec<&U::previous_parent_user_id>("previous_parent_user_id"),
           webhook_spec<&U::parent_user_id>("parent_user_id"), webhook_spec<&U::wa_id>("wa_id"),
           webhook_spec<&U::detail>("detail")});
      break;
    }
  }
  return specs;
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

// ---- webhook: events made on first read -------------------------------------
// parse returns instances of the event classes whose slots are all empty but
// raw's, which holds a WebhookSource: the core's Event (the body's events and
// their parsed document are shared). Each field of an event class is a WebhookField descriptor
// (put there as wacloud.events is imported, in place of the slot's member
// descriptor): reading an empty slot makes that field's value from the Event
// and keeps it in the slot. Reading raw, or a field holding parts of it, makes
// raw and every field still empty, then drops the source (with the last one of
// a body, the core's events and document go too). Everything else reads the fields through
// getattr (==, repr, hash, pickle, copy, dataclasses.*), so they see plain
// dataclasses. Only touched with the GIL held. A value is kept only in a slot
// still empty, and raw with its parts only while the source is still there, so
// threads reading one event at once get the same objects even when a garbage
// collection (paused while raw is made) runs other threads' code meanwhile.
struct WebhookSource {
  PyObject ob_base;  // PyObject_HEAD
  // The body's events, shared by its Python events (one allocation per body, no copy).
  std::shared_ptr<const std::vector<wacloud::Event>> body;
  const wacloud::Event* event;  // this one, in body
};

struct WebhookField {
  PyObject ob_base;  // PyObject_HEAD
  const WebhookEventClass* owner;
  std::size_t index;
  PyObject* name;  // str
};

PyTypeObject* webhook_source_type = nullptr;  // set by bind_webhook, never freed
PyTypeObject* webhook_field_type = nullptr;

const WebhookTypes& webhook_types();

// The source an event still holds, or nullptr once raw is made (or for an
// instance made by the class itself).
WebhookSource* webhook_source(PyObject* instance, const WebhookEventClass& cls) {
  PyObject* raw = cls.slot(instance, cls.raw_index);
  if (raw == nullptr || Py_TYPE(raw) != webhook_source_type) return nullptr;
  auto* source = reinterpret_cast<WebhookSource*>(raw);
  return source->event->type() == cls.event_type ? source : nullptr;
}

void webhook_keep(PyObject*& slot, py::object value) {
  if (slot == nullptr) slot = value.release().ptr();
}

// Makes raw and every field of `instance` still empty.
void webhook_make_all(PyObject* instance, const WebhookEventClass& cls, WebhookSource& source) {
  const py::object held = py::reinterpret_borrow<py::object>(reinterpret_cast<PyObject*>(&source));
  const WebhookTypes& types = webhook_types();
  const wacloud::Event& event = *source.event;
  WebhookGcPause pause;
  WebhookRawParts parts(event);
  for (std::size_t i = 0; i < cls.specs.size(); ++i) {
    if (!cls.specs[i].in_raw && cls.slot(instance, i) == nullptr) {
      webhook_keep(cls.slot(instance, i), cls.specs[i].build(types, event, parts));
    }
  }
  // raw and its parts are kept together, so they stay one another's objects.
  std::vector<std::pair<std::size_t, py::object>> made;
  for (std::size_t i = 0; i < cls.specs.size(); ++i) {
    if (cls.specs[i].in_raw) made.emplace_back(i, cls.specs[i].build(types, event, parts));
  }
  if (cls.slot(instance, cls.raw_index) != reinterpret_cast<PyObject*>(&source)) return;
  for (auto& [index, value] : made) {
    PyObject* old = cls.slot(instance, index);
    cls.slot(instance, index) = value.release().ptr();
    Py_XDECREF(old);  // the source, still alive through `held`
  }
}

// C++ errors as the Python error of a CPython slot function.
template <typename Result, typename Body>
Result webhook_guard(Result failed, Body&& body) {
  try {
    return body();
  } catch (py::error_already_set& error) {
    error.restore();
  } catch (const py::builtin_exception& error) {
    error.set_error();
  } catch (const std::bad_alloc&) {
    PyErr_NoMemory();
  } catch (const std::exception& error) {
    PyErr_SetString(PyExc_RuntimeError, error.what());
  }
  return failed;
}

bool webhook_field_applies(const WebhookField& field, PyObject* instance) {
  if (PyObject_TypeCheck(instance, field.owner->type)) return true;
  PyErr_Format(PyExc_TypeError,
               "descriptor '%U' for '%.100s' objects doesn't apply to a '%.100s' object",
               field.name, field.owner->type->tp_name, Py_TYPE(instance)->tp_name);
  return false;
}

PyObject* webhook_field_get(PyObject* self, PyObject* instance, PyObject*) {
  if (instance == nullptr) return Py_NewRef(self);  // read on the class
  const auto& field = *reinterpret_cast<WebhookField*>(self);
  if (!webhook_field_applies(field, instance)) return nullptr;
  const WebhookEventClass& cls = *field.owner;
  PyObject* value = cls.slot(instance, field.index);
  if (value != nullptr && field.index != cls.raw_index) return Py_NewRef(value);
  WebhookSource* source = webhook_source(instance, cls);
  if (source == nullptr) {
    if (value != nullptr) return Py_NewRef(value);
    PyErr_Format(PyExc_AttributeError, "'%.100s' object has no attribute '%U'",
                 Py_TYPE(instance)->tp_name, field.name);
    return nullptr;
  }
  return webhook_guard<PyObject*>(nullptr, [&] {
    // Held: a collection while the value is made may let another thread make raw,
    // which drops the source from the slot.
    const py::object held = py::reinterpret_borrow<py::object>(reinterpret_cast<PyObject*>(source));
    const WebhookFieldSpec& spec = cls.specs[field.index];
    if (spec.in_raw) {
      webhook_make_all(instance, cls, *source);
    } else {
      static const WebhookRawParts kNoParts;
      webhook_keep(cls.slot(instance, field.index),
                   spec.build(webhook_types(), *source->event, kNoParts));
    }
    return Py_NewRef(cls.slot(instance, field.index));
  });
}

// object.__setattr__ / __delattr__ (the dataclass's __init__ and unpickling):
// a parsed event is made whole first, so nothing it holds is lost.
int webhook_field_set(PyObject* self, PyObject* instance, PyObject* value) {
  const auto& field = *reinterpret_cast<WebhookField*>(self);
  if (!webhook_field_applies(field, instance)) return -1;
  const WebhookEventClass& cls = *field.owner;
  if (WebhookSource* source = webhook_source(instance, cls)) {
    if (!webhook_guard(false, [&] {
          webhook_make_all(instance, cls, *source);
          return true;
        })) {
      return -1;
    }
  }
  PyObject*& slot = cls.slot(instance, field.index);
  if (value == nullptr && slot == nullptr) {
    PyErr_Format(PyExc_AttributeError, "'%.100s' object has no attribute '%U'",
                 Py_TYPE(instance)->tp_name, field.name);
    return -1;
  }
  PyObject* old = slot;
  slot = Py_XNewRef(value);
  Py_XDECREF(old);
  return 0;
}

PyObject* webhook_field_repr(PyObject* self) {
  const auto& field = *reinterpret_cast<WebhookField*>(self);
  return PyUnicode_FromFormat("<field '%U' of '%s' objects>", field.name,
                              field.owner->type->tp_name);
}

PyObject* webhook_field_objclass(PyObject* self, void*) {
  return Py_NewRef(reinterpret_cast<WebhookField*>(self)->owner->cls.ptr());
}

void webhook_field_dealloc(PyObject* self) {
  PyTypeObject* type = Py_TYPE(self);
  Py_XDECREF(reinterpret_cast<WebhookField*>(self)->name);
  type->tp_free(self);
  Py_DECREF(type);
}

void webhook_source_dealloc(PyObject* self) {
  PyTypeObject* type = Py_TYPE(self);
  reinterpret_cast<WebhookSource*>(self)->body.~shared_ptr();
  type->tp_free(self);
  Py_DECREF(type);
}

// The two types above, made once by bind_webhook.
void webhook_make_types() {
  static PyMemberDef field_members[] = {
      {"__name__", T_OBJECT, offsetof(WebhookField, name), READONLY, nullptr},
      {nullptr, 0, 0, 0, nullptr}};
  static PyGetSetDef field_getset[] = {
      {"__objclass__", webhook_field_objclass, nullptr, nullptr, nullptr},
      {nullptr, nullptr, nullptr, nullptr, nullptr}};
  static PyType_Slot field_slots[] = {
      {Py_tp_dealloc, reinterpret_cast<void*>(webhook_field_dealloc)},
      {Py_tp_descr_get, reinterpret_cast<void*>(webhook_field_get)},
      {Py_tp_descr_set, reinterpret_cast<void*>(webhook_field_set)},
      {Py_tp_repr, reinterpret_cast<void*>(webhook_field_repr)},
      {Py_tp_members, field_members},
      {Py_tp_getset, field_getset},
      {0, nullptr}};
  static PyType_Spec field_spec = {"wacloud._core.WebhookField", sizeof(WebhookField), 0,
                                   Py_TPFLAGS_DEFAULT | Py_TPFLAGS_DISALLOW_INSTANTIATION,
                                   field_slots};
  static PyType_Slot source_slots[] = {
      {Py_tp_dealloc, reinterpret_cast<void*>(webhook_source_dealloc)}, {0, nullptr}};
  static PyType_Spec source_spec = {"wacloud._core.WebhookSource", sizeof(WebhookSource), 0,
                                    Py_TPFLAGS_DEFAULT | Py_TPFLAGS_DISALLOW_INSTANTIATION,
                                    source_slots};
  webhook_field_type = reinterpret_cast<PyTypeObject*>(PyType_FromSpec(&field_spec));
  if (webhook_field_type == nullptr) throw py::error_already_set();
  webhook_source_type = reinterpret_cast<PyTypeObject*>(PyType_FromSpec(&source_spec));
  if (webhook_source_type == nullptr) throw py::error_already_set();
}

// Looks an event class up and puts a WebhookField on each of its fields. A field
// the binding has no spec for is noted, so parse refuses to make such events
// (as it did when it filled the slots itself) while the module still imports.
const WebhookEventClass* webhook_event_class(const py::module_& events, const py::object& fields_of,
                                             const char* name, wacloud::EventType type) {
  auto* cls = new WebhookEventClass();  // never freed: its descriptors point to it
  cls->cls = events.attr(name);
  cls->type = reinterpret_cast<PyTypeObject*>(cls->cls.ptr());
  cls->event_type = type;
  const std::vector<WebhookFieldSpec> specs = webhook_field_specs(type);
  std::vector<py::object> names;
  for (const py::handle field : fields_of(cls->cls)) {
    py::object field_name = field.attr("name");
    const std::string text = field_name.cast<std::string>();
    py::object slot = cls->cls.attr(field_name);
    Py_ssize_t offset = 0;
    if (PyObject_TypeCheck(slot.ptr(), &PyMemberDescr_Type)) {
      offset = reinterpret_cast<PyMemberDescrObject*>(slot.ptr())->d_member->offset;
    } else if (Py_TYPE(slot.ptr()) == webhook_field_type) {  // put there by a failed first try
      const auto& field = *reinterpret_cast<WebhookField*>(slot.ptr());
      offset = field.owner->offsets[field.index];
    } else {
      throw py::type_error("wacloud.events." + std::string(name) + "." + text +
                           " is not a slot (the events need slots=True)");
    }
    const auto spec = std::find_if(specs.begin(), specs.end(),
                                   [&](const WebhookFieldSpec& s) { return text == s.name; });
    if (spec == specs.end()) {
      if (cls->missing.empty()) {
        cls->missing = "the binding does not set wacloud.events." + std::string(name) + "." + text;
      }
      cls->specs.push_back({"", nullptr, false});
    } else {
      cls->specs.push_back(*spec);
    }
    if (text == "raw") cls->raw_index = cls->offsets.size();
    cls->offsets.push_back(offset);
    names.push_back(std::move(field_name));
  }
  for (const WebhookFieldSpec& spec : specs) {
    if (cls->missing.empty() &&
        std::none_of(names.begin(), names.end(), [&](const py::object& field) {
          return field.cast<std::string>() == spec.name;
        })) {
      cls->missing = "wacloud.events." + std::string(name) + " has no field " + spec.name;
    }
  }
  if (cls->missing.empty()) {
    for (std::size_t i = 0; i < names.size(); ++i) {
      PyObject* descriptor = webhook_field_type->tp_alloc(webhook_field_type, 0);
      if (descriptor == nullptr) throw py::error_already_set();
      auto* field = reinterpret_cast<WebhookField*>(descriptor);
      field->owner = cls;
      field->index = i;
      field->name = Py_NewRef(names[i].ptr());
      const int failed = PyObject_SetAttr(cls->cls.ptr(), names[i].ptr(), descriptor);
      Py_DECREF(descriptor);
      if (failed != 0) throw py::error_already_set();
    }
  }
  return cls;
}

const WebhookTypes& webhook_types() {
  PYBIND11_CONSTINIT static py::gil_safe_call_once_and_store<WebhookTypes> storage;
  return storage
      .call_once_and_store_result([] {
        PyDateTime_IMPORT;
        if (PyDateTimeAPI == nullptr) throw py::error_already_set();
        WebhookTypes types;
        py::module_ events = py::module_::import("wacloud.events");
        py::object fields_of = py::module_::import("dataclasses").attr("fields");
        using wacloud::EventType;
        const std::pair<const char*, EventType> classes[] = {
            {"InboundMessage", EventType::kMessage},
            {"StatusUpdate", EventType::kStatus},
            {"WebhookError", EventType::kError},
            {"TemplateStatusUpdate", EventType::kTemplateStatus},
            {"FieldUpdate", EventType::kFieldUpdate},
            {"InvalidItem", EventType::kInvalid},
            {"UserIdUpdate", EventType::kUserIdUpdate}};
        for (const auto& [name, type] : classes) {
          types.events[static_cast<int>(type)] = webhook_event_class(events, fields_of, name, type);
        }
        const auto load = [&](const char* name) { return WebhookClass(events, fields_of, name); };
        types.media_ref = load("MediaRef");
        types.location = load("Location");
        types.interactive_reply = load("InteractiveReply");
        types.button_reply = load("ButtonReply");
        types.reaction = load("Reaction");
        types.message_context = load("MessageContext");
        types.error_detail = load("ErrorDetail");
        const char* const members[] = {"MESSAGE",         "STATUS",       "ERROR",
                                       "TEMPLATE_STATUS", "FIELD_UPDATE", "INVALID",
                                       "USER_ID_UPDATE"};
        for (int i = 0; i < 7; ++i)
          types.event_types[i] = events.attr("EventType").attr(members[i]);
        return types;
      })
      .get_stored();
}

// One body's events (moved into a vector they share).
py::list webhook_events(const WebhookTypes& types, std::vector<wacloud::Event>&& events) {
  const auto body = std::make_shared<const std::vector<wacloud::Event>>(std::move(events));
  py::list list(body->size());
  for (std::size_t i = 0; i < body->size(); ++i) {
    const wacloud::Event& event = (*body)[i];
    const WebhookEventClass& cls = *types.events[static_cast<int>(event.type())];
    if (!cls.missing.empty()) throw py::type_error(cls.missing);
    PyObject* instance = cls.type->tp_alloc(cls.type, 0);
    if (instance == nullptr) throw py::error_already_set();
    PyList_SET_ITEM(list.ptr(), static_cast<Py_ssize_t>(i), instance);
    PyObject* source = webhook_source_type->tp_alloc(webhook_source_type, 0);
    if (source == nullptr) throw py::error_already_set();
    new (&reinterpret_cast<WebhookSource*>(source)->body) decltype(WebhookSource::body)(body);
    reinterpret_cast<WebhookSource*>(source)->event = &event;
    cls.slot(instance, cls.raw_index) = source;
  }
  return list;
}

void bind_webhook(py::module_& m) {
  webhook_make_types();
  // Called by wacloud.events once its classes exist (see "events made on first read").
  m.def("install_webhook_fields", [] { webhook_types(); });
  m.def(
      "webhook_routing",
      [](const py::object& body) -> py::object {
        std::optional<wacloud::WebhookRouting> routing =
            on_body(body, [](std::string_view view) { return wacloud::webhook_routing(view); });
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
        std::vector<wacloud::Event> events =
            on_body(body, [](std::string_view view) { return wacloud::parse_webhook(view); });
        const WebhookTypes& types = webhook_types();
        WebhookGcPause pause;
        return webhook_events(types, std::move(events));
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
              item = webhook_events(types, std::move(results[i].events));
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
  return py::make_tuple(r.message_id, r.wa_id, r.input, r.message_status, r.user_id);
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
  m.def(
      "build_user_message_payload",
      [](const std::string& type, const std::string& fields, const std::string& user_id,
         const std::string& reply_to) {
        py::gil_scoped_release release;
        wacloud::Message message = client_message(type, fields);
        return boost::json::serialize(
            wacloud::build_user_message_payload(user_id, message, reply_to));
      },
      py::arg("type"), py::arg("fields"), py::arg("user_id"), py::arg("reply_to") = "");
  m.def("is_user_id", &wacloud::is_user_id, py::arg("text"));
  m.def(
      "check_user_id",
      [](const std::string& user_id, const std::string& field) {
        wacloud::check_user_id(user_id, field);
      },
      py::arg("user_id"), py::arg("field") = "recipient");

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
          "prepare_for_user",
          [](GraphClient& client, const std::string& type, const std::string& fields,
             const std::string& user_id, const std::string& reply_to) {
            py::gil_scoped_release release;
            wacloud::PreparedSend prepared =
                client.prepare_for_user(user_id, client_message(type, fields), reply_to);
            return std::make_pair(prepared.payload, prepared.recipient);
          },
          py::arg("type"), py::arg("fields"), py::arg("user_id"), py::arg("reply_to") = "")
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
             const std::string& category, const std::string& components,
             const std::string& parameter_format) {
            boost::json::value created;
            {
              py::gil_scoped_release release;
              boost::json::value parsed = client_json_argument(components, "components");
              if (!parsed.is_array())
                wacloud::throw_invalid_parameter("components", "must be a list");
              created = client.create_template(name, language, category, parsed.as_array(),
                                               parameter_format);
            }
            return webhook_json(created);
          },
          py::arg("name"), py::arg("language"), py::arg("category"), py::arg("components"),
          py::arg("parameter_format") = "")
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
      // Plain JSON Graph calls (a template by id, its edit) need no C++ of their own.
      .def(
          "call",
          [](GraphClient& client, const std::string& method, const std::string& path,
             const std::string& body) {
            boost::json::value answer;
            {
              py::gil_scoped_release release;
              answer = client.call(method, path, body);
            }
            return webhook_json(answer);
          },
          py::arg("method"), py::arg("path"), py::arg("body") = "")
      // Multipart Graph calls (Flow JSON uploads): parts are (name, value, filename, type).
      .def(
          "call_form",
          [](GraphClient& client, const std::string& path,
             const std::vector<std::tuple<std::string, py::bytes, std::string, std::string>>& parts,
             bool idempotent) {
            std::vector<wacloud::FormField> fields;
            fields.reserve(parts.size());
            for (const auto& [name, value, filename, content_type] : parts)
              fields.push_back({name, std::string(value), filename, content_type});
            boost::json::value answer;
            {
              py::gil_scoped_release release;
              answer = client.call_form(path, fields, idempotent);
            }
            return webhook_json(answer);
          },
          py::arg("path"), py::arg("parts"), py::arg("idempotent") = false)
      .def(
          "start_upload_session",
          [](GraphClient& client, const std::string& app_id, const std::string& file_name,
             const std::string& mime_type, std::int64_t file_length) {
            py::gil_scoped_release release;
            return client.start_upload_session(app_id, {"", "", file_name, mime_type}, file_length);
          },
          py::arg("app_id"), py::arg("file_name"), py::arg("mime_type"), py::arg("file_length"))
      .def("upload_session_offset", &GraphClient::upload_session_offset, py::arg("session_id"),
           py::call_guard<py::gil_scoped_release>())
      .def(
          "upload_to_session",
          [](GraphClient& client, const std::string& session_id, const py::object& data,
             const std::string& path, const std::string& file_name, const std::string& mime_type) {
            wacloud::ResumableUpload upload{
                data.is_none() ? std::string() : std::string(bytes_view(data)), path, file_name,
                mime_type};
            py::gil_scoped_release release;
            return client.upload_to_session(session_id, upload);
          },
          py::arg("session_id"), py::arg("data"), py::arg("path"), py::arg("file_name"),
          py::arg("mime_type"))
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
