// Boost.JSON compiled into the core, for builds with WACLOUD_STATIC_DEPS (wheels): Debian's
// libboost_json.a is not position-independent and cannot be linked into a shared module.
#include <boost/json/src.hpp>
