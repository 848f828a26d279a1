complete -c caproto-put -l format -d 'Python-style format string. Tokens: {pv_name}, {response} (and attributes such as {response.data}), {which} (Old/New) and, for time types, {timestamp}' -r
complete -c caproto-put -s w -l timeout -d 'Timeout (\'wait\') in seconds for server responses [default: $EPICS_CLI_TIMEOUT, else $CAPROTO_DEFAULT_TIMEOUT, else 2]' -r
complete -c caproto-put -s p -l priority -d 'Channel Access virtual circuit priority, 0 (lowest) to 99 (highest)' -r
complete -c caproto-put -l array-pad -d 'With --array: pad the array with zeros up to this length' -r
complete -c caproto-put -l log-file -d 'Also append log records to this file (at DEBUG, or more with -vvv)' -r -F
complete -c caproto-put -l log-file-max-size -d 'Rotate --log-file before it grows past SIZE bytes (K, M, G suffixes: 1024-based)' -r
complete -c caproto-put -l log-file-keep -d 'With --log-file-max-size: rotated files to keep, PATH.1 (newest) to PATH.N' -r
complete -c caproto-put -l log-ship -d 'Also ship records to a collector (repeatable): tcp://HOST:PORT (JSON lines), syslog://HOST:PORT, syslog+udp://HOST:PORT or unixgram:///dev/log (RFC 5424); per-destination ?level=L&pv=P&addr=A&role=R (see docs/logging.md)' -r
complete -c caproto-put -l log-ship-level -d 'Level of --log-ship destinations without their own ?level= (default: INFO, or the terminal level if more verbose)' -r
complete -c caproto-put -l log-disable -d 'Drop every record at LEVEL or more verbose, whatever the handlers want (Python\'s logging.disable): e.g. debug keeps INFO and above' -r
complete -c caproto-put -l log-pv -d 'Only log records about PVs matching this name or pattern (* and ? wildcards; repeatable)' -r
complete -c caproto-put -l log-addr -d 'Only log records involving this address: HOST (all ports) or HOST:PORT (repeatable)' -r
complete -c caproto-put -l log-role -d 'Only log records from this side of the conversation' -r -f -a "client\t'Records produced by client code (`role = "client"`)'
server\t'Records produced by server code (`role = "server"`)'"
complete -c caproto-put -l log-format -d 'Log line format' -r -f -a "text\t'caproto\'s one-line text format'
json\t'One JSON object per line with the same fields'"
complete -c caproto-put -l no-repeater -d 'Do not start a Channel Access repeater process'
complete -c caproto-put -s c -l notify -d 'Request notification of completion, and wait for it'
complete -c caproto-put -s t -l terse -d 'Display data only. Unpack scalars: [3.] -> 3'
complete -c caproto-put -s l -l wide -d 'Wide mode, showing \'name timestamp value status\' (implies reading as time type)'
complete -c caproto-put -s n -d 'Read enums back as integers (default: their state strings)'
complete -c caproto-put -s a -l array -d 'Interpret DATA as an array, its elements separated by spaces'
complete -c caproto-put -l file -d 'Interpret DATA as the name of a file holding the value(s)'
complete -c caproto-put -s S -d 'Interpret DATA as a string of characters (written to CHAR arrays byte by byte)'
complete -c caproto-put -s s -d 'Take every value as a string (no number parsing; enums by state name), as caput -s'
complete -c caproto-put -s v -l verbose -d 'Show more log messages (-v info, -vv every CA command, -vvv also payload detail)'
complete -c caproto-put -s q -l quiet -d 'Show fewer log messages (-q errors only, -qq none)'
complete -c caproto-put -l no-color -d 'Do not colour log lines (also honoured: the NO_COLOR environment variable)'
complete -c caproto-put -s h -l help -d 'Print help (see more with \'--help\')'
complete -c caproto-put -s V -l version -d 'Print version'
