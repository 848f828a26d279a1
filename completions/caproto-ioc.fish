complete -c caproto-ioc -s d -l db -d 'Serve the records of an EPICS database file, as softIoc -d (repeat for more files; alone or beside an example; see docs/db.md)' -r -F
complete -c caproto-ioc -s m -l macros -d 'Macro definitions for the -d files, as softIoc -m: NAME=VALUE,NAME2=VALUE2' -r
complete -c caproto-ioc -s I -l include-path -d 'Directory searched for a -d file\'s `include` files (repeatable; default: .)' -r -F
complete -c caproto-ioc -l prefix -d 'PV name prefix (default: the example\'s own, e.g. "simple:")' -r
complete -c caproto-ioc -l type -d 'defaultdict: native type of the PVs it makes' -r -f -a "double\t'DBF_DOUBLE'
float\t'DBF_FLOAT'
long\t'DBF_LONG'
short\t'DBF_SHORT'
char\t'DBF_CHAR'
enum\t'DBF_ENUM with states "Off", "On"'
string\t'DBF_STRING'"
complete -c caproto-ioc -l count -d 'defaultdict: element count of the PVs it makes' -r
complete -c caproto-ioc -l interfaces -d 'Interfaces to serve on (overrides EPICS_CAS_INTF_ADDR_LIST)' -r
complete -c caproto-ioc -l port -d 'TCP/UDP port (overrides EPICS_CAS_SERVER_PORT); 0 binds an ephemeral TCP port and UDP on the same number (see --port-file)' -r
complete -c caproto-ioc -l port-file -d 'Once every socket is bound, write the TCP port clients connect to (also the UDP search port when the port is 0), one decimal line, to FILE; written whole (a temporary file renamed) so a reader never sees part of it' -r -F
complete -c caproto-ioc -l circuit-threads -d 'Threads that run client circuits, each with its own single-threaded runtime; a new client goes to the one with the fewest (default: one per CPU core). 0 runs circuits as tasks on the shared multi-threaded runtime' -r
complete -c caproto-ioc -l rt-priority -d 'Real-time (SCHED_FIFO) priority of the circuit threads when the process may use one (root, CAP_SYS_NICE, RLIMIT_RTPRIO), as an EPICS IOC\'s CA server threads have (the search responder\'s thread gets 8 less); 0 keeps normal priority' -r
complete -c caproto-ioc -s a -l acf -d 'Access security file (EPICS ACF syntax) enforced for every client; SIGHUP reloads it (a bad file is logged and the old rules stay)' -r -F
complete -c caproto-ioc -l putlog -d 'Append put-log records (writes that a TRAPWRITE rule granted: user, host, PV, old and new value) to this file, apart from other logs' -r -F
complete -c caproto-ioc -l rate -d 'Update rate in Hz for fast-updating examples (ticker)' -r
complete -c caproto-ioc -l log-control -d 'Serve log-control PVs PREFIX:level, PREFIX:pv, PREFIX:addr and PREFIX:role that change the terminal and --log-file handlers at run time (see docs/logging.md)' -r
complete -c caproto-ioc -l metrics -d 'Serve Prometheus metrics over HTTP at http://ADDR/metrics (e.g. 127.0.0.1:9464): clients, channels, requests by command, bytes, searches, beacons, access denials, log shipping, process figures (see docs/metrics.md); OpenMetrics when the scraper asks for it' -r
complete -c caproto-ioc -l stats -d 'Serve devIocStats-style health PVs PREFIX:CA_CLNT_CNT, PREFIX:CA_CONN_CNT, PREFIX:UPTIME, PREFIX:MEM_USED, PREFIX:IOC_CPU_LOAD, PREFIX:FD_CNT, ... (see docs/metrics.md), updated every second' -r
complete -c caproto-ioc -l log-file -d 'Also append log records to this file (at DEBUG, or more with -vvv)' -r -F
complete -c caproto-ioc -l log-file-max-size -d 'Rotate --log-file before it grows past SIZE bytes (K, M, G suffixes: 1024-based)' -r
complete -c caproto-ioc -l log-file-keep -d 'With --log-file-max-size: rotated files to keep, PATH.1 (newest) to PATH.N' -r
complete -c caproto-ioc -l log-ship -d 'Also ship records to a collector (repeatable): tcp://HOST:PORT (JSON lines), syslog://HOST:PORT, syslog+udp://HOST:PORT or unixgram:///dev/log (RFC 5424); per-destination ?level=L&pv=P&addr=A&role=R (see docs/logging.md)' -r
complete -c caproto-ioc -l log-ship-level -d 'Level of --log-ship destinations without their own ?level= (default: INFO, or the terminal level if more verbose)' -r
complete -c caproto-ioc -l log-disable -d 'Drop every record at LEVEL or more verbose, whatever the handlers want (Python\'s logging.disable): e.g. debug keeps INFO and above' -r
complete -c caproto-ioc -l log-pv -d 'Only log records about PVs matching this name or pattern (* and ? wildcards; repeatable)' -r
complete -c caproto-ioc -l log-addr -d 'Only log records involving this address: HOST (all ports) or HOST:PORT (repeatable)' -r
complete -c caproto-ioc -l log-role -d 'Only log records from this side of the conversation' -r -f -a "client\t'Records produced by client code (`role = "client"`)'
server\t'Records produced by server code (`role = "server"`)'"
complete -c caproto-ioc -l log-format -d 'Log line format' -r -f -a "text\t'caproto\'s one-line text format'
json\t'One JSON object per line with the same fields'"
complete -c caproto-ioc -l list -d 'List the available examples and exit'
complete -c caproto-ioc -l list-pvs -d 'Print the served PV names once the server is listening (defaultdict: the PVs made, when it stops)'
complete -c caproto-ioc -l any-name -d 'defaultdict: serve every name, not only those under --prefix'
complete -c caproto-ioc -l acf-client-ip -d 'Match the ACF\'s host access groups (HAG) against the address each client connects from, not the host name it sends (EPICS asCheckClientIP); HAG hosts are resolved when the file is loaded'
complete -c caproto-ioc -s v -l verbose -d 'Show more log messages (-v info, -vv every CA command, -vvv also payload detail)'
complete -c caproto-ioc -s q -l quiet -d 'Show fewer log messages (-q errors only, -qq none)'
complete -c caproto-ioc -l no-color -d 'Do not colour log lines (also honoured: the NO_COLOR environment variable)'
complete -c caproto-ioc -s h -l help -d 'Print help (see more with \'--help\')'
complete -c caproto-ioc -s V -l version -d 'Print version'
