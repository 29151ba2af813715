# sk_library() and sk_test() are the only ways targets are declared (STYLE.md section 9).
set(SK_WARNINGS -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wcast-qual -Wformat=2
    -Wimplicit-fallthrough -Wmissing-declarations -Werror
    # Designated initializers (STYLE.md section 2) leave the other members at their defaults.
    -Wno-missing-field-initializers)

# sk_library(NAME name SRCS a.cc b.cc DEPS x y [PUBLIC_DEPS ...])
function(sk_library)
  cmake_parse_arguments(SK "" "NAME" "SRCS;DEPS" ${ARGN})
  add_library(${SK_NAME} STATIC ${SK_SRCS})
  target_include_directories(${SK_NAME} PUBLIC ${PROJECT_SOURCE_DIR})
  target_compile_options(${SK_NAME} PRIVATE ${SK_WARNINGS})
  target_link_libraries(${SK_NAME} PUBLIC ${SK_DEPS})
endfunction()

# sk_test(NAME name SRCS a_test.cc DEPS x y LABELS unit|integration|e2e [TIMEOUT s])
function(sk_test)
  cmake_parse_arguments(SK "" "NAME;TIMEOUT" "SRCS;DEPS;LABELS" ${ARGN})
  add_executable(${SK_NAME} ${SK_SRCS})
  if("unit" IN_LIST SK_LABELS)
    add_dependencies(unit_tests ${SK_NAME})  # `ninja unit_tests` builds the unit tier only
  endif()
  target_compile_options(${SK_NAME} PRIVATE ${SK_WARNINGS})
  target_link_libraries(${SK_NAME} PRIVATE ${SK_DEPS} GTest::gmock GTest::gtest_main)
  if(NOT SK_TIMEOUT)
    set(SK_TIMEOUT 120)
  endif()
  # One variable only: gtest_discover_tests splits a ';' list into separate properties.
  # The source dir is read from the build dir's CMakeCache.txt (tests/support).
  gtest_discover_tests(${SK_NAME}
    DISCOVERY_TIMEOUT 60
    NO_PRETTY_VALUES
    PROPERTIES LABELS "${SK_LABELS}" TIMEOUT ${SK_TIMEOUT}
    ENVIRONMENT "SK_BINARY_DIR=${PROJECT_BINARY_DIR}")
endfunction()
