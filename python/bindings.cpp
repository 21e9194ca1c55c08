// The only pybind11 file: adapts types between Python and the C++ core,
// releases the GIL around C++ work once Python buffers are read, and maps C++
// exceptions to the classes of `wacloud.errors`. No behaviour lives here.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <string>
#include <string_view>

#include "wacloud/errors.hpp"
#include "wacloud/signature.hpp"

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
          py::arg("retry_after") = retry_after);
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

// @@ bind functions above this line (one `void bind_<concern>(py::module_&)` each)

}  // namespace

PYBIND11_MODULE(_core, m) {
  m.doc() = "wacloud's C++ core. Use the modules of the `wacloud` package instead.";
  py::register_exception_translator(&translate_exception);
  bind_signature(m);
  // @@ bind calls above this line
}
