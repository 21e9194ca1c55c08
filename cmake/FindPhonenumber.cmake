# Google's libphonenumber ships no CMake package: find its header and library.
# Searched: WACLOUD_PHONENUMBER_ROOT (a CMake variable or environment variable naming a
# prefix with include/phonenumbers/ and lib/), the compiler's default places (Debian's and
# Ubuntu's libphonenumber-dev put the headers in /usr/include), and .deps/usr of a checkout.
# On Debian 12 libphonenumber-dev cannot be installed next to libboost-json1.81-dev, so
# scripts/bootstrap.sh unpacks its headers into .deps/ and the runtime library comes from
# libphonenumber8. With Phonenumber_USE_STATIC_LIBS the static archive is taken, with what
# it needs (below).
if(NOT DEFINED WACLOUD_PHONENUMBER_ROOT AND DEFINED ENV{WACLOUD_PHONENUMBER_ROOT})
  set(WACLOUD_PHONENUMBER_ROOT "$ENV{WACLOUD_PHONENUMBER_ROOT}")
endif()
set(_phonenumber_hints "${CMAKE_SOURCE_DIR}/.deps/usr")
if(Phonenumber_USE_STATIC_LIBS)
  # The headers scripts/wheel_deps.sh installs beside its archive, found through
  # CMAKE_PREFIX_PATH: the same build as the library, no -dev package needed.
  set(_phonenumber_hints)
endif()
if(WACLOUD_PHONENUMBER_ROOT)
  list(PREPEND _phonenumber_hints "${WACLOUD_PHONENUMBER_ROOT}")
endif()

find_path(Phonenumber_INCLUDE_DIR phonenumbers/phonenumberutil.h
  HINTS ${_phonenumber_hints} PATH_SUFFIXES include)
if(Phonenumber_USE_STATIC_LIBS)
  # Not Debian's libphonenumber.a (.deps/ or /usr/lib): it is not position-independent.
  # scripts/wheel_deps.sh builds one, found through CMAKE_PREFIX_PATH.
  find_library(Phonenumber_LIBRARY NAMES libphonenumber.a HINTS ${WACLOUD_PHONENUMBER_ROOT}
    PATH_SUFFIXES lib lib/${CMAKE_LIBRARY_ARCHITECTURE})
else()
  # Shared libraries only, by full name: the archive next to the headers in .deps/ (or an
  # unpacked -dev package) must not be picked without the libraries it needs.
  find_library(Phonenumber_LIBRARY NAMES libphonenumber.so libphonenumber.so.8
    HINTS ${_phonenumber_hints} PATH_SUFFIXES lib lib/${CMAKE_LIBRARY_ARCHITECTURE})
endif()
find_package(Protobuf QUIET)

include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(Phonenumber
  REQUIRED_VARS Phonenumber_LIBRARY Phonenumber_INCLUDE_DIR)

if(Phonenumber_FOUND AND NOT TARGET Phonenumber::Phonenumber)
  add_library(Phonenumber::Phonenumber UNKNOWN IMPORTED)
  set_target_properties(Phonenumber::Phonenumber PROPERTIES
    IMPORTED_LOCATION "${Phonenumber_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${Phonenumber_INCLUDE_DIR}")
  if(Phonenumber_USE_STATIC_LIBS)
    # What Debian's libphonenumber.so.8 links: ICU (regular expressions, Unicode) as archives,
    # those scripts/wheel_deps.sh builds (with ICU's stub data library); protobuf's lite
    # runtime (its messages are MessageLite) and abseil as shared libraries, which auditwheel
    # bundles: Debian builds their archives without -fPIC (local-exec TLS), so they cannot go
    # into a shared module.
    set(_phonenumber_archives)
    foreach(_lib IN ITEMS icui18n icuuc icudata)
      find_library(Phonenumber_${_lib}_LIBRARY NAMES lib${_lib}.a)
      list(APPEND _phonenumber_archives "${Phonenumber_${_lib}_LIBRARY}")
    endforeach()
    set(_suffixes ${CMAKE_FIND_LIBRARY_SUFFIXES})
    set(CMAKE_FIND_LIBRARY_SUFFIXES .so)
    foreach(_lib IN ITEMS protobuf-lite absl_raw_hash_set absl_hash absl_strings absl_throw_delegate)
      find_library(Phonenumber_${_lib}_LIBRARY NAMES ${_lib})
      list(APPEND _phonenumber_archives "${Phonenumber_${_lib}_LIBRARY}")
    endforeach()
    set(CMAKE_FIND_LIBRARY_SUFFIXES ${_suffixes})
    foreach(_lib IN LISTS _phonenumber_archives)
      if(NOT _lib)
        wacloud_missing("${_lib} (for a static libphonenumber)")
      endif()
    endforeach()
    find_package(Threads REQUIRED)
    set_property(TARGET Phonenumber::Phonenumber PROPERTY INTERFACE_LINK_LIBRARIES
      ${_phonenumber_archives} Threads::Threads ${CMAKE_DL_LIBS})
  elseif(Protobuf_FOUND)
    target_link_libraries(Phonenumber::Phonenumber INTERFACE protobuf::libprotobuf)
  endif()
endif()
mark_as_advanced(Phonenumber_INCLUDE_DIR Phonenumber_LIBRARY)
