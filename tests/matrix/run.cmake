# loopline-matrix run end to end on QEMU (label qemu: real guests under TCG, one at a time
# with the other QEMU tests). test-matrix-run.sh says what each checks.
set(LP_MX_RUN_ENV "MATRIX=$<TARGET_FILE:loopline-matrix>;LP_SOURCE_DIR=${PROJECT_SOURCE_DIR};LP_MATRIX_CACHE=${CMAKE_BINARY_DIR}/matrix-cache")
add_test(NAME matrix-run-regression COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/test-matrix-run.sh --regression)
set_tests_properties(matrix-run-regression PROPERTIES LABELS "qemu;matrix" TIMEOUT 900
  RESOURCE_LOCK hil-qemu ENVIRONMENT "${LP_MX_RUN_ENV}")
# a rack board (a QEMU machine behind the qemu power driver, provisioned by the matrix),
# its HIL lock and the fault proxy that listens for it
add_test(NAME matrix-run-rack COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/test-matrix-run.sh --rack)
set_tests_properties(matrix-run-rack PROPERTIES LABELS "qemu;matrix" TIMEOUT 900
  RESOURCE_LOCK hil-qemu ENVIRONMENT "${LP_MX_RUN_ENV}")
foreach(spec ci-x86_64 ci-aarch64 ci-packages)
  if(EXISTS ${CMAKE_CURRENT_LIST_DIR}/specs/${spec}.yaml)
    add_test(NAME matrix-run-${spec} COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/test-matrix-run.sh
             ${CMAKE_CURRENT_LIST_DIR}/specs/${spec}.yaml)
    set_tests_properties(matrix-run-${spec} PROPERTIES LABELS "qemu;matrix" TIMEOUT 1800
      RESOURCE_LOCK hil-qemu ENVIRONMENT "${LP_MX_RUN_ENV}")
  endif()
endforeach()
