# Sourced by scripts/test, scripts/demo and .ci/run: keep every Channel Access
# process on loopback (project rule). Ports are left to the caller: the test
# harness picks a free port per test.
export EPICS_CA_AUTO_ADDR_LIST=NO
export EPICS_CA_ADDR_LIST=127.0.0.1
export EPICS_CAS_INTF_ADDR_LIST=127.0.0.1
export EPICS_CAS_AUTO_BEACON_ADDR_LIST=NO
export EPICS_CAS_BEACON_ADDR_LIST=127.0.0.1
unset EPICS_CA_NAME_SERVERS
