# The history (results.c), the reports and the gate.
add_library(mx-fake STATIC ${CMAKE_CURRENT_LIST_DIR}/mx-fake.c)
target_link_libraries(mx-fake PUBLIC loopline-matrix-core)
target_include_directories(mx-fake PUBLIC ${CMAKE_CURRENT_LIST_DIR})
add_executable(mx-fake-run ${CMAKE_CURRENT_LIST_DIR}/mx-fake-run.c)
target_link_libraries(mx-fake-run PRIVATE mx-fake)

lp_unit_test(test-matrix-results ${CMAKE_CURRENT_LIST_DIR}/test-matrix-results.c LIBS mx-fake)
lp_unit_test(test-matrix-gate ${CMAKE_CURRENT_LIST_DIR}/test-matrix-gate.c LIBS mx-fake)
lp_unit_test(test-matrix-report ${CMAKE_CURRENT_LIST_DIR}/test-matrix-report.c LIBS mx-fake)

# The commands on a synthetic history: show, history, report (JUnit parsed back by
# python3's XML parser and xmllint), gate exit codes and --json, usage errors.
add_test(NAME matrix-results-cli COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/test-matrix-results-cli.sh)
set_tests_properties(matrix-results-cli PROPERTIES LABELS "component;matrix" TIMEOUT 120
  ENVIRONMENT "MATRIX=$<TARGET_FILE:loopline-matrix>;FAKE=$<TARGET_FILE:mx-fake-run>")

# The HTML report looked at in headless Chromium: a screenshot of a run with every status
# (build/…/tests/matrix/matrix-report.png), checked for the status colours. It may install
# chromium with apt-get, so it shares the "apt" lock with lava-lab (which installs LAVA).
add_test(NAME matrix-html-screenshot COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/test-matrix-html-screenshot.sh)
set_tests_properties(matrix-html-screenshot PROPERTIES LABELS "component;matrix" TIMEOUT 240
  SKIP_RETURN_CODE 77 RESOURCE_LOCK apt
  ENVIRONMENT "MATRIX=$<TARGET_FILE:loopline-matrix>;FAKE=$<TARGET_FILE:mx-fake-run>;OUT=${CMAKE_CURRENT_BINARY_DIR}")
