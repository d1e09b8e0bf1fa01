# spec parsing, expansion and filters (cmocka, against a throwaway repository made by
# mx-fixture.h), and the check/list commands end to end.
lp_unit_test(test-matrix-spec test-matrix-spec.c LIBS loopline-matrix-core LABELS matrix)
lp_unit_test(test-matrix-expand test-matrix-expand.c LIBS loopline-matrix-core LABELS matrix)

add_test(NAME test-matrix-cli COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/test-matrix-cli.sh)
set_tests_properties(test-matrix-cli PROPERTIES LABELS "component;matrix" TIMEOUT 120
  ENVIRONMENT "MATRIX=$<TARGET_FILE:loopline-matrix>;LP_SOURCE_DIR=${PROJECT_SOURCE_DIR}")
