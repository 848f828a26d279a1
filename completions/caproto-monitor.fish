complete -c caproto-monitor -l format -d 'Python-style format string. Tokens: {pv_name}, {response} (and attributes such as {response.data}), {callback_count}, {timestamp} (also {timestamp:%H:%M:%S.%f}) and {timedelta} (time since the previous update; for the first, the update\'s age)' -r
complete -c caproto-monitor -s t -d 'camonitor\'s timestamp modes, and its line layout: any of s (server stamps), c (client clock, in parentheses), n (none), r (relative), i (incremental), I (incremental by PV)' -r
complete -c caproto-monitor -l duration -d 'Stop after this many seconds. Runs indefinitely by default' -r
complete -c caproto-monitor -l maximum -d 'Stop after this many updates (over all PVs). Unlimited by default' -r
complete -c caproto-monitor -s w -l timeout -d 'Timeout (\'wait\') in seconds for server responses [default: $EPICS_CLI_TIMEOUT, else $CAPROTO_DEFAULT_TIMEOUT, else 2]' -r
complete -c caproto-monitor -s p -l priority -d 'Channel Access virtual circuit priority, 0 (lowest) to 99 (highest)' -r
complete -c caproto-monitor -s m -d 'Channel Access event mask: any combination of \'v\' (value), \'a\' (alarm), \'l\' (log/archive), \'p\' (property)' -r
complete -c caproto-monitor -s # -d 'Request and print only the first COUNT elements of an array' -r
complete -c caproto-monitor -s e -d 'Use %e format with a precision of <nr> digits (e.g. -e5 or -e 5)' -r
complete -c caproto-monitor -s f -d 'Use %f format with a precision of <nr> digits (e.g. -f5 or -f 5)' -r
complete -c caproto-monitor -s g -d 'Use %g format with a precision of <nr> digits (e.g. -g5 or -g 5)' -r
complete -c caproto-monitor -s F -d 'Use <ofs> as an alternate output field separator (e.g. -F*, -F \'*\', -F \' ** \')' -r
complete -c caproto-monitor -l log-file -d 'Also append log records to this file (at DEBUG, or more with -vvv)' -r -F
complete -c caproto-monitor -l log-file-max-size -d 'Rotate --log-file before it grows past SIZE bytes (K, M, G suffixes: 1024-based)' -r
complete -c caproto-monitor -l log-file-keep -d 'With --log-file-max-size: rotated files to keep, PATH.1 (newest) to PATH.N' -r
complete -c caproto-monitor -l log-ship -d 'Also ship records to a collector (repeatable): tcp://HOST:PORT (JSON lines), syslog://HOST:PORT, syslog+udp://HOST:PORT or unixgram:///dev/log (RFC 5424); per-destination ?level=L&pv=P&addr=A&role=R (see docs/logging.md)' -r
complete -c caproto-monitor -l log-ship-level -d 'Level of --log-ship destinations without their own ?level= (default: INFO, or the terminal level if more verbose)' -r
complete -c caproto-monitor -l log-disable -d 'Drop every record at LEVEL or more verbose, whatever the handlers want (Python\'s logging.disable): e.g. debug keeps INFO and above' -r
complete -c caproto-monitor -l log-pv -d 'Only log records about PVs matching this name or pattern (* and ? wildcards; repeatable)' -r
complete -c caproto-monitor -l log-addr -d 'Only log records involving this address: HOST (all ports) or HOST:PORT (repeatable)' -r
complete -c caproto-monitor -l log-role -d 'Only log records from this side of the conversation' -r -f -a "client\t'Records produced by client code (`role = "client"`)'
server\t'Records produced by server code (`role = "server"`)'"
complete -c caproto-monitor -l log-format -d 'Log line format' -r -f -a "text\t'caproto\'s one-line text format'
json\t'One JSON object per line with the same fields'"
complete -c caproto-monitor -l strict -d 'Exit (status 1) for PVs not found within the timeout, and stop following a PV once its circuit is lost, instead of reporting "*** Not connected" / "*** disconnected" and searching until it (re)connects'
complete -c caproto-monitor -l no-repeater -d 'Do not start a Channel Access repeater process'
complete -c caproto-monitor -s n -d 'Print enums as integers (default: their state strings)'
complete -c caproto-monitor -s S -d 'Print an array of chars as a string (long string)'
complete -c caproto-monitor -s s -d 'Print floats with %f (caproto\'s stand-in for the server\'s string form)'
complete -c caproto-monitor -l lx -d 'Round to a long integer and print as hex number (also -lx)'
complete -c caproto-monitor -l lo -d 'Round to a long integer and print as octal number (also -lo)'
complete -c caproto-monitor -l lb -d 'Round to a long integer and print as binary number (also -lb)'
complete -c caproto-monitor -l 0x -d 'Print as hex number (also -0x)'
complete -c caproto-monitor -l 0o -d 'Print as octal number (also -0o)'
complete -c caproto-monitor -l 0b -d 'Print as binary number (also -0b)'
complete -c caproto-monitor -s v -l verbose -d 'Show more log messages (-v info, -vv every CA command, -vvv also payload detail)'
complete -c caproto-monitor -s q -l quiet -d 'Show fewer log messages (-q errors only, -qq none)'
complete -c caproto-monitor -l no-color -d 'Do not colour log lines (also honoured: the NO_COLOR environment variable)'
complete -c caproto-monitor -s h -l help -d 'Print help (see more with \'--help\')'
complete -c caproto-monitor -s V -l version -d 'Print version'
