# The LAVA executors' results (matrix/lava-results.c, lava-exec.c).
# test-matrix-lava (unit): LAVA's logs in lava-run's and the lab's spelling, verdicts,
# garbage refused with its line, the REST test list, result.json per verdict.
lp_unit_test(test-matrix-lava ${CMAKE_CURRENT_LIST_DIR}/test-matrix-lava.c
             LIBS loopline-matrix-core)
