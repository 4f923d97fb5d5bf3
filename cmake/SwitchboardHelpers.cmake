# Small helpers so that every library, service and test is declared the same way.

# sb_library(<name> SOURCES ... DEPS ...)
#   Target sb_<name> (alias sb::<name>) from libs/<name>/src, public headers in libs/<name>/include.
function(sb_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS;PRIVATE_DEPS" ${ARGN})
  add_library(sb_${name} ${ARG_SOURCES})
  add_library(sb::${name} ALIAS sb_${name})
  target_include_directories(sb_${name} PUBLIC ${CMAKE_CURRENT_SOURCE_DIR}/include)
  target_link_libraries(sb_${name} PUBLIC ${ARG_DEPS} PRIVATE ${ARG_PRIVATE_DEPS})
endfunction()

# sb_test(<name> SOURCES ... DEPS ... [LABELS ...] [TIMEOUT s])
#   A Catch2 executable registered with CTest as one test per TEST_CASE.
#   Label "integration" for tests that start real Postgres/Redis (see libs/testing).
function(sb_test name)
  if(NOT SB_ENABLE_TESTS)
    return()
  endif()
  cmake_parse_arguments(ARG "" "TIMEOUT" "SOURCES;DEPS;LABELS" ${ARGN})
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 300)
  endif()
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} sb::catch_main)
  set(props TIMEOUT ${ARG_TIMEOUT})
  if(ARG_LABELS)
    list(APPEND props LABELS "${ARG_LABELS}")
  else()
    list(APPEND props LABELS unit)
  endif()
  catch_discover_tests(${name} PROPERTIES ${props} TEST_PREFIX "${name}: ")
endfunction()
