# Finds every third-party dependency. Each comes from a Debian bookworm package (tools/deps/debian.txt);
# when one is missing, configure stops with the package to install instead of a CMake backtrace.

find_package(PkgConfig QUIET)
set(SB_MISSING_PACKAGES "")

macro(sb_require found package)
  if(NOT ${found})
    list(APPEND SB_MISSING_PACKAGES ${package})
  endif()
endmacro()

if(NOT PkgConfig_FOUND)
  message(FATAL_ERROR "pkg-config is missing: apt-get install pkg-config (or run tools/dev deps)")
endif()

find_package(Threads REQUIRED)

find_package(Protobuf 3.21 QUIET)
sb_require(Protobuf_FOUND "libprotobuf-dev protobuf-compiler")

find_package(gRPC CONFIG QUIET)
sb_require(gRPC_FOUND "libgrpc++-dev")
find_program(SB_GRPC_CPP_PLUGIN grpc_cpp_plugin)
sb_require(SB_GRPC_CPP_PLUGIN "protobuf-compiler-grpc")

find_package(absl CONFIG QUIET)
sb_require(absl_FOUND "libabsl-dev")

find_package(Boost 1.81 CONFIG QUIET COMPONENTS system json url)
sb_require(Boost_FOUND "libboost1.81-dev libboost-system1.81-dev libboost-json1.81-dev libboost-url1.81-dev")

pkg_check_modules(PQXX QUIET IMPORTED_TARGET libpqxx>=6.4)
sb_require(PQXX_FOUND "libpqxx-dev")

pkg_check_modules(HIREDIS QUIET IMPORTED_TARGET hiredis)
sb_require(HIREDIS_FOUND "libhiredis-dev")

find_package(OpenSSL 3 QUIET)
sb_require(OPENSSL_FOUND "libssl-dev")

find_package(CURL QUIET)
sb_require(CURL_FOUND "libcurl4-openssl-dev")

# The servers' allocator. Their pattern (many threads, short-lived buffers per message) cost glibc
# malloc about a tenth of their CPU in the chat benchmark; jemalloc does better. Not with
# sanitizers, which bring their own allocator.
pkg_check_modules(JEMALLOC QUIET IMPORTED_TARGET jemalloc)
sb_require(JEMALLOC_FOUND "libjemalloc-dev")

if(SB_ENABLE_TESTS)
  find_package(Catch2 2 CONFIG QUIET)
  sb_require(Catch2_FOUND "catch2")
endif()

if(SB_MISSING_PACKAGES)
  list(JOIN SB_MISSING_PACKAGES " " _sb_missing)
  message(FATAL_ERROR
    "Missing Debian packages: ${_sb_missing}\n"
    "Install them with:  sudo apt-get install ${_sb_missing}\n"
    "or run tools/dev deps (installs everything in tools/deps/debian.txt when run as root).")
endif()

# sb::allocator: linked by every server executable (services, the gateway benchmark's server).
add_library(sb_allocator INTERFACE)
add_library(sb::allocator ALIAS sb_allocator)
if(NOT SB_SANITIZE)
  target_link_libraries(sb_allocator INTERFACE PkgConfig::JEMALLOC)
endif()
