complete -c caproto-get -l format -d 'Python-style format string. Tokens: {pv_name}, {response} (and attributes such as {response.data}, {response.status.name}, {response.metadata.units}), and for time types {timestamp}, also with a strftime pattern: {timestamp:%Y-%m-%d %H:%M:%S}. Takes precedence over --terse and --wide' -r
complete -c caproto-get -s w -l timeout -d 'Timeout (\'wait\') in seconds for server responses [default: $EPICS_CLI_TIMEOUT, else $CAPROTO_DEFAULT_TIMEOUT, else 2]' -r
complete -c caproto-get -s p -l priority -d 'Channel Access virtual circuit priority, 0 (lowest) to 99 (highest)' -r
complete -c caproto-get -s d -d 'Request a class of data type (native, status, time, graphic, control) or a specific type by number (\'3\') or case-insensitive name (\'enum\', \'DBR_TIME_DOUBLE\'). See --list-types' -r
complete -c caproto-get -s # -d 'Request and print only the first COUNT elements of an array' -r
complete -c caproto-get -s e -d 'Use %e format with a precision of <nr> digits (e.g. -e5 or -e 5)' -r
complete -c caproto-get -s f -d 'Use %f format with a precision of <nr> digits (e.g. -f5 or -f 5)' -r
complete -c caproto-get -s g -d 'Use %g format with a precision of <nr> digits (e.g. -g5 or -g 5)' -r
complete -c caproto-get -s F -d 'Use <ofs> as an alternate output field separator (e.g. -F*, -F \'*\', -F \' ** \')' -r
complete -c caproto-get -l log-file -d 'Also append log records to this file (at DEBUG, or more with -vvv)' -r -F
complete -c caproto-get -l log-file-max-size -d 'Rotate --log-file before it grows past SIZE bytes (K, M, G suffixes: 1024-based)' -r
complete -c caproto-get -l log-file-keep -d 'With --log-file-max-size: rotated files to keep, PATH.1 (newest) to PATH.N' -r
complete -c caproto-get -l log-ship -d 'Also ship records to a collector (repeatable): tcp://HOST:PORT (JSON lines), syslog://HOST:PORT, syslog+udp://HOST:PORT or unixgram:///dev/log (RFC 5424); per-destination ?level=L&pv=P&addr=A&role=R (see docs/logging.md)' -r
complete -c caproto-get -l log-ship-level -d 'Level of --log-ship destinations without their own ?level= (default: INFO, or the terminal level if more verbose)' -r
complete -c caproto-get -l log-disable -d 'Drop every record at LEVEL or more verbose, whatever the handlers want (Python\'s logging.disable): e.g. debug keeps INFO and above' -r
complete -c caproto-get -l log-pv -d 'Only log records about PVs matching this name or pattern (* and ? wildcards; repeatable)' -r
complete -c caproto-get -l log-addr -d 'Only log records involving this address: HOST (all ports) or HOST:PORT (repeatable)' -r
complete -c caproto-get -l log-role -d 'Only log records from this side of the conversation' -r -f -a "client\t'Records produced by client code (`role = "client"`)'
server\t'Records produced by server code (`role = "server"`)'"
complete -c caproto-get -l log-format -d 'Log line format' -r -f -a "text\t'caproto\'s one-line text format'
json\t'One JSON object per line with the same fields'"
complete -c caproto-get -l no-repeater -d 'Do not start a Channel Access repeater process'
complete -c caproto-get -s c -l notify -d 'Accepted for compatibility with caget; has no effect (reads always wait for completion)'
complete -c caproto-get -s t -l terse -d 'Display data only. Unpack scalars: [3.] -> 3'
complete -c caproto-get -s a -l wide -d 'Wide mode, showing \'name timestamp value status\' (implies -d time)'
complete -c caproto-get -l list-types -d 'List the values -d accepts and exit'
complete -c caproto-get -s n -d 'Print enums as integers (default: their state strings)'
complete -c caproto-get -s S -d 'Print an array of chars as a string (long string)'
complete -c caproto-get -s s -d 'Print floats with %f (caproto\'s stand-in for the server\'s string form)'
complete -c caproto-get -l lx -d 'Round to a long integer and print as hex number (also -lx)'
complete -c caproto-get -l lo -d 'Round to a long integer and print as octal number (also -lo)'
complete -c caproto-get -l lb -d 'Round to a long integer and print as binary number (also -lb)'
complete -c caproto-get -l 0x -d 'Print as hex number (also -0x)'
complete -c caproto-get -l 0o -d 'Print as octal number (also -0o)'
complete -c caproto-get -l 0b -d 'Print as binary number (also -0b)'
complete -c caproto-get -s v -l verbose -d 'Show more log messages (-v info, -vv every CA command, -vvv also payload detail)'
complete -c caproto-get -s q -l quiet -d 'Show fewer log messages (-q errors only, -qq none)'
complete -c caproto-get -l no-color -d 'Do not colour log lines (also honoured: the NO_COLOR environment variable)'
complete -c caproto-get -s h -l help -d 'Print help (see more with \'--help\')'
complete -c caproto-get -s V -l version -d 'Print version'
