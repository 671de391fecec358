# Dependencies of the test suite when cross-compiling, where Debian's x86-64 library packages
# do not apply: GoogleTest is built from Debian's source package (/usr/src/googletest), and the
# header-only nlohmann-json is taken from the host's headers through a folder holding only it.
if(NOT TARGET GTest::gtest)
  set(INSTALL_GTEST OFF CACHE BOOL "" FORCE)
  add_subdirectory(/usr/src/googletest ${CMAKE_BINARY_DIR}/googletest EXCLUDE_FROM_ALL)
endif()
if(NOT TARGET nlohmann_json::nlohmann_json)
  set(cross_include ${CMAKE_BINARY_DIR}/cross-include)
  file(MAKE_DIRECTORY ${cross_include})
  file(CREATE_LINK /usr/include/nlohmann ${cross_include}/nlohmann SYMBOLIC)
  add_library(nlohmann_json::nlohmann_json INTERFACE IMPORTED)
  target_include_directories(nlohmann_json::nlohmann_json SYSTEM INTERFACE ${cross_include})
endif()
