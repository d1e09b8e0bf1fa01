# loopline-matrix lava-jobs: generated jobs validate (LAVA's schema, lava-run --validate;
# label qemu too: it builds QEMU firmware, which the instrumented Asan build cannot link;
# the hil-qemu lock: every test that builds into the shared matrix-cache holds it),
# and `run --executor lava-run` runs them end to end under lava-run (TCG). test-lava-gen.sh says what each checks.
set(LP_LAVA_GEN_ENV "MATRIX=$<TARGET_FILE:loopline-matrix>;LP_SOURCE_DIR=${PROJECT_SOURCE_DIR};LP_MATRIX_CACHE=${CMAKE_BINARY_DIR}/matrix-cache")
add_test(NAME lava-gen-validate COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/test-lava-gen.sh validate)
set_tests_properties(lava-gen-validate PROPERTIES LABELS "lava;qemu" TIMEOUT 900
  RESOURCE_LOCK hil-qemu ENVIRONMENT "${LP_LAVA_GEN_ENV}")
add_test(NAME lava-run-executor COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/test-lava-gen.sh executor)
set_tests_properties(lava-run-executor PROPERTIES LABELS "lava;qemu" TIMEOUT 1200
  RESOURCE_LOCK hil-qemu ENVIRONMENT "${LP_LAVA_GEN_ENV}")
