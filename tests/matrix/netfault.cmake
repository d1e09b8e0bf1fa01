# The network fault proxy (matrix/netfault.c, netproxy.c, cmd-net.c).
# test-matrix-netstate (unit): the control file, the watch, the drop-after budget and the
# connection log, in-process.
# test-matrix-netfault (component): real `loopline-matrix fault-proxy` processes, one per
# connection with a socketpair as the guest's side (as QEMU's guestfwd cmd: runs them),
# against servers on 127.0.0.1, and curl over TLS to nginx resuming a cut download.
lp_unit_test(test-matrix-netstate ${CMAKE_CURRENT_LIST_DIR}/test-matrix-netstate.c
             LIBS loopline-matrix-core)

add_executable(test-matrix-netfault ${CMAKE_CURRENT_LIST_DIR}/test-matrix-netfault.c)
target_link_libraries(test-matrix-netfault PRIVATE loopline-matrix-core PkgConfig::CMOCKA)
add_dependencies(test-matrix-netfault loopline-matrix)
add_test(NAME test-matrix-netfault COMMAND test-matrix-netfault)
set_tests_properties(test-matrix-netfault PROPERTIES LABELS component TIMEOUT 300
  ENVIRONMENT "LP_SOURCE_DIR=${PROJECT_SOURCE_DIR};LP_MATRIX=$<TARGET_FILE:loopline-matrix>")
