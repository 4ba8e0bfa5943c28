# omniroute build helpers: one library target per module, one test binary per module.
include_guard(GLOBAL)

# Compiler launcher, sanitizers and the warning set applied to our own targets only.
function(omni_setup_toolchain)
  find_program(OMNI_CCACHE ccache)
  if(OMNI_CCACHE)
    # Paths relative to the checkout and the working directory left out of the hash: a clone in
    # another directory (CI's fresh clone) reuses what this one compiled.
    set(CMAKE_CXX_COMPILER_LAUNCHER ${CMAKE_COMMAND} -E env CCACHE_BASEDIR=${PROJECT_SOURCE_DIR}
        CCACHE_NOHASHDIR=true ${OMNI_CCACHE} PARENT_SCOPE)
  endif()
  if(OMNI_SANITIZE)
    add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
    add_link_options(-fsanitize=address,undefined)
  endif()
endfunction()

# Warnings are errors in our code; third-party headers come in as SYSTEM includes.
function(omni_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Werror -Wno-missing-field-initializers)
  # GCC 12 at -O3 reports false -Wrestrict positives inside libstdc++'s string code (GCC bug 105329).
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    target_compile_options(${target} PRIVATE -Wno-error=restrict)
  endif()
  # librdkafka's rd_kafka_producev() argument macros are GNU statement expressions.
  if(CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    target_compile_options(${target} PRIVATE -Wno-gnu-statement-expression)
  endif()
endfunction()

function(omni_find_dependencies)
  find_package(PkgConfig REQUIRED)
  find_package(Threads REQUIRED)
  find_package(Boost 1.74 REQUIRED)
  find_package(yaml-cpp REQUIRED)
  find_package(spdlog REQUIRED)
  find_package(fmt REQUIRED)
  find_package(nlohmann_json 3.10 REQUIRED)
  find_package(simdjson 3.0 REQUIRED)  # provider payloads (connectors/payload.cc)
  find_package(OpenSSL REQUIRED)
  find_package(SQLite3 REQUIRED)
  pkg_check_modules(RDKAFKA REQUIRED IMPORTED_TARGET GLOBAL rdkafka)
  pkg_check_modules(SYSTEMD REQUIRED IMPORTED_TARGET GLOBAL libsystemd)
  pkg_check_modules(GMIME REQUIRED IMPORTED_TARGET GLOBAL gmime-3.0)
  pkg_check_modules(LIBXML2 REQUIRED IMPORTED_TARGET GLOBAL libxml-2.0)
  if(OMNI_BUILD_TESTS)
    find_package(GTest REQUIRED)
  endif()
  if(OMNI_BUILD_BENCH)
    find_package(benchmark REQUIRED)
  endif()
endfunction()

# omni_library(NAME <name> SOURCES ... [DEPS ...] [PRIVATE_DEPS ...])
# Makes omni_<name> with the alias omni::<name>; includes resolve from the repository root.
function(omni_library)
  cmake_parse_arguments(ARG "" "NAME" "SOURCES;DEPS;PRIVATE_DEPS" ${ARGN})
  set(target omni_${ARG_NAME})
  add_library(${target} STATIC ${ARG_SOURCES})
  add_library(omni::${ARG_NAME} ALIAS ${target})
  target_include_directories(${target} PUBLIC ${PROJECT_SOURCE_DIR})
  target_link_libraries(${target} PUBLIC ${ARG_DEPS} PRIVATE ${ARG_PRIVATE_DEPS})
  omni_warnings(${target})
endfunction()

# omni_connector(NAME <channel> SOURCES ... [DEPS ...]): one channel, from its folder
# connectors/<channel>/. Makes omni_connector_<channel> on omni::connector_base plus the channel's
# own DEPS (GMime only for imap, ...) and links it into omni::connectors, whose registry
# (connectors/registry.cc) lists the channel.
function(omni_connector)
  cmake_parse_arguments(ARG "" "NAME" "SOURCES;DEPS" ${ARGN})
  omni_library(NAME connector_${ARG_NAME} SOURCES ${ARG_SOURCES} DEPS omni::connector_base ${ARG_DEPS})
  target_link_libraries(omni_connectors PUBLIC omni_connector_${ARG_NAME})
endfunction()

# omni_test(NAME <name> SOURCES ... [DEPS ...] [LABELS ...] [TIMEOUT s])
# One GoogleTest binary per module, registered with ctest as one test.
function(omni_test)
  cmake_parse_arguments(ARG "" "NAME;TIMEOUT" "SOURCES;DEPS;LABELS" ${ARGN})
  set(target ${ARG_NAME}_test)
  add_executable(${target} ${ARG_SOURCES})
  target_link_libraries(${target} PRIVATE ${ARG_DEPS} GTest::gtest GTest::gmock GTest::gtest_main)
  target_include_directories(${target} PRIVATE ${PROJECT_SOURCE_DIR})
  omni_warnings(${target})
  add_test(NAME ${ARG_NAME} COMMAND ${target})
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 300)
  endif()
  set_tests_properties(${ARG_NAME} PROPERTIES TIMEOUT ${ARG_TIMEOUT}
    LABELS "${ARG_LABELS}"
    ENVIRONMENT "OMNI_SOURCE_DIR=${PROJECT_SOURCE_DIR};OMNI_BINARY_DIR=${PROJECT_BINARY_DIR};ASAN_OPTIONS=detect_leaks=1:abort_on_error=1;UBSAN_OPTIONS=print_stacktrace=1")
endfunction()

# omni_bench(NAME <name> SOURCES ... [DEPS ...]): a Google Benchmark program run by `make bench`.
function(omni_bench)
  cmake_parse_arguments(ARG "" "NAME" "SOURCES;DEPS" ${ARGN})
  set(target ${ARG_NAME}_bench)
  add_executable(${target} ${ARG_SOURCES})
  target_link_libraries(${target} PRIVATE ${ARG_DEPS} benchmark::benchmark)
  target_include_directories(${target} PRIVATE ${PROJECT_SOURCE_DIR})
  omni_warnings(${target})
endfunction()

# omni_embed_files(<out_var> DIR <dir> NAMESPACE <ns> SYMBOL <name>): generates a .cc (path in
# <out_var>, add it to a library's SOURCES) defining `const core::http::embedded_site <ns>::<name>`
# with every file of <dir>, so an installed binary serves its pages with no files beside it.
function(omni_embed_files out_var)
  cmake_parse_arguments(ARG "" "DIR;NAMESPACE;SYMBOL" "" ${ARGN})
  file(GLOB inputs CONFIGURE_DEPENDS ${ARG_DIR}/*)
  set(out ${CMAKE_CURRENT_BINARY_DIR}/${ARG_SYMBOL}.cc)
  add_custom_command(
    OUTPUT ${out}
    COMMAND ${CMAKE_COMMAND} -DSRC_DIR=${ARG_DIR} -DOUT=${out} -DNAMESPACE=${ARG_NAMESPACE}
            -DSYMBOL=${ARG_SYMBOL} -P ${PROJECT_SOURCE_DIR}/cmake/embed_files.cmake
    DEPENDS ${inputs} ${PROJECT_SOURCE_DIR}/cmake/embed_files.cmake
    COMMENT "Embedding ${ARG_DIR}")
  set(${out_var} ${out} PARENT_SCOPE)
endfunction()
