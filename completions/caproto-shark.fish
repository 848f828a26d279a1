complete -c caproto-shark -l port -d 'TCP/UDP port CA servers listen on (repeatable). Default: EPICS_CA_SERVER_PORT and EPICS_CAS_SERVER_PORT if set, else 5064. Connections seen from their SYN, or whose commands tell the roles, are decoded on any port' -r
complete -c caproto-shark -l repeater-port -d 'UDP port of the CA repeater (repeatable). Default: EPICS_CA_REPEATER_PORT, else 5065' -r
complete -c caproto-shark -l summary-every -d 'Every DURATION of capture time (`30s`, `5m`, `1h`), emit a summary of that period as an INFO record (target caproto::shark::summary): messages, bytes, busiest PVs, circuits, unanswered searches, busiest searchers, beacon anomalies, bytes lost and messages damaged. Records go wherever the others go (--log-format json, --log-file, --log-ship)' -r
complete -c caproto-shark -l max-message -d 'Largest CA message accepted, in bytes; a header announcing more is reported and skipped' -r
complete -c caproto-shark -l max-flow-buffer -d 'Bytes one TCP flow may hold out of order before missing bytes are given up on' -r
complete -c caproto-shark -l metrics -d 'Serve Prometheus metrics of the traffic at http://ADDR/metrics (e.g. 127.0.0.1:9465): messages by command, searches and unanswered names, beacon anomalies, lost bytes, per-PV and per-client counts (see docs/metrics.md). The endpoint stays up after the input ends, until Ctrl-C or SIGTERM' -r
complete -c caproto-shark -l metrics-top -d 'With --metrics: how many of the busiest PVs and client hosts are exported by name' -r
complete -c caproto-shark -l metrics-pv -d 'With --metrics: also export every PV matching PATTERN (`*`, `?`; repeatable)' -r
complete -c caproto-shark -l log-file -d 'Also append log records to this file (at DEBUG, or more with -vvv)' -r -F
complete -c caproto-shark -l log-file-max-size -d 'Rotate --log-file before it grows past SIZE bytes (K, M, G suffixes: 1024-based)' -r
complete -c caproto-shark -l log-file-keep -d 'With --log-file-max-size: rotated files to keep, PATH.1 (newest) to PATH.N' -r
complete -c caproto-shark -l log-ship -d 'Also ship records to a collector (repeatable): tcp://HOST:PORT (JSON lines), syslog://HOST:PORT, syslog+udp://HOST:PORT or unixgram:///dev/log (RFC 5424); per-destination ?level=L&pv=P&addr=A&role=R (see docs/logging.md)' -r
complete -c caproto-shark -l log-ship-level -d 'Level of --log-ship destinations without their own ?level= (default: INFO, or the terminal level if more verbose)' -r
complete -c caproto-shark -l log-disable -d 'Drop every record at LEVEL or more verbose, whatever the handlers want (Python\'s logging.disable): e.g. debug keeps INFO and above' -r
complete -c caproto-shark -l log-pv -d 'Only log records about PVs matching this name or pattern (* and ? wildcards; repeatable)' -r
complete -c caproto-shark -l log-addr -d 'Only log records involving this address: HOST (all ports) or HOST:PORT (repeatable)' -r
complete -c caproto-shark -l log-role -d 'Only log records from this side of the conversation' -r -f -a "client\t'Records produced by client code (`role = "client"`)'
server\t'Records produced by server code (`role = "server"`)'"
complete -c caproto-shark -l log-format -d 'Log line format' -r -f -a "text\t'caproto\'s one-line text format'
json\t'One JSON object per line with the same fields'"
complete -c caproto-shark -l summary -d 'At the end (or on Ctrl-C) print totals per PV, per circuit, searches per name (unanswered first) with the busiest searchers, and beacon anomalies'
complete -c caproto-shark -l top -d 'A live view instead of records, iftop for Channel Access: the busiest PVs (messages/s, bytes/s), clients and servers, unanswered searches and search storms, beacon anomalies and errors, redrawn each second. Keys: s or 1-5 choose the sort column, q quits. On a capture file it shows the final picture until q. Needs a terminal'
complete -c caproto-shark -s v -l verbose -d 'Show more log messages (-v info, -vv every CA command, -vvv also payload detail)'
complete -c caproto-shark -s q -l quiet -d 'Show fewer log messages (-q errors only, -qq none)'
complete -c caproto-shark -l no-color -d 'Do not colour log lines (also honoured: the NO_COLOR environment variable)'
complete -c caproto-shark -s h -l help -d 'Print help (see more with \'--help\')'
complete -c caproto-shark -s V -l version -d 'Print version'
