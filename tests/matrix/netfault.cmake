# The network fault proxy (matrix/netfault.c, netproxy.c, cmd-net.c).
# test-matrix-netstate (unit): the control file, the watch, the drop-after budget and the
# connection log, in-process.
# test-matrix-netfault (component): real `loopline-matrix fault-proxy` processes, one per
# connection with a socketpair as the guest's side (as QEMU's guestfwd cmd: runs them),
# against servers on 127.0.0.1, and curl over TLS to nginx resuming a cut download.
lp_unit_test(test-matrix-netstate ${CMAKE_CURRENT_LIST_DIR}/test-matrix-netstate.c
             LIBS loopline-matrix-core)

