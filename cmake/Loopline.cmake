# Helpers shared by every folder.

# lp_unit_test(NAME SOURCES... [LIBS ...]): a cmocka test binary registered with CTest
# under the label "unit".
function(lp_unit_test name)
  cmake_parse_arguments(A "" "" "LIBS;LABELS" ${ARGN})
  add_executable(${name} ${A_UNPARSED_ARGUMENTS})
  target_link_libraries(${name} PRIVATE loopline PkgConfig::CMOCKA ${A_LIBS})
  add_test(NAME ${name} COMMAND ${name})
  set(labels unit ${A_LABELS})
  set_tests_properties(${name} PROPERTIES LABELS "${labels}" TIMEOUT 300
                       ENVIRONMENT "LP_SOURCE_DIR=${PROJECT_SOURCE_DIR};LP_BUILD_DIR=${PROJECT_BINARY_DIR}")
endfunction()

# lp_fuzz_target(NAME SOURCE [LIBS ...]): tests/fuzz/fuzz-NAME.c with corpus folder
# tests/fuzz/corpus/NAME. With LP_FUZZ a libFuzzer binary is built; in every build a
# replay binary runs the corpus once as a normal CTest test (label "fuzz-replay").
function(lp_fuzz_target name source)
  cmake_parse_arguments(A "" "" "LIBS" ${ARGN})
  set(corpus ${PROJECT_SOURCE_DIR}/tests/fuzz/corpus/${name})
  if(LP_FUZZ)
    add_executable(fuzz-${name} ${source})
    target_link_libraries(fuzz-${name} PRIVATE loopline ${A_LIBS})
    target_link_options(fuzz-${name} PRIVATE -fsanitize=fuzzer)
  endif()
  add_executable(replay-${name} ${source} ${PROJECT_SOURCE_DIR}/tests/fuzz/replay-main.c)
  target_link_libraries(replay-${name} PRIVATE loopline ${A_LIBS})
  add_test(NAME fuzz-replay-${name} COMMAND replay-${name} ${corpus})
  set_tests_properties(fuzz-replay-${name} PROPERTIES LABELS "fuzz-replay" TIMEOUT 300)
endfunction()
