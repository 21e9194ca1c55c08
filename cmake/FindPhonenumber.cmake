# Google's libphonenumber ships no CMake package: find its header and library.
# Debian: libphonenumber-dev. On bookworm that package cannot be installed next
# to libboost-json1.81-dev, so scripts/bootstrap.sh unpacks its headers into
# .deps/ and the runtime library comes from libphonenumber8; both are searched.
find_path(Phonenumber_INCLUDE_DIR phonenumbers/phonenumberutil.h
  HINTS "${CMAKE_SOURCE_DIR}/.deps/usr/include")
find_library(Phonenumber_LIBRARY NAMES phonenumber libphonenumber.so.8)
find_package(Protobuf QUIET)

include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(Phonenumber
  REQUIRED_VARS Phonenumber_LIBRARY Phonenumber_INCLUDE_DIR
  REASON_FAILURE_MESSAGE
    "install Debian's libphonenumber-dev (or run scripts/bootstrap.sh, which installs libphonenumber8 and unpacks the headers into .deps/)")

if(Phonenumber_FOUND AND NOT TARGET Phonenumber::Phonenumber)
  add_library(Phonenumber::Phonenumber UNKNOWN IMPORTED)
  set_target_properties(Phonenumber::Phonenumber PROPERTIES
    IMPORTED_LOCATION "${Phonenumber_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${Phonenumber_INCLUDE_DIR}")
  if(Protobuf_FOUND)
    target_link_libraries(Phonenumber::Phonenumber INTERFACE protobuf::libprotobuf)
  endif()
endif()
mark_as_advanced(Phonenumber_INCLUDE_DIR Phonenumber_LIBRARY)
