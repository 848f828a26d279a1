complete -c caproto-repeater -l bind -d 'Address to bind, e.g. 127.0.0.1 to serve only this host. Default: the single address in EPICS_CAS_INTF_ADDR_LIST if it names one, else 0.0.0.0' -r
complete -c caproto-repeater -l log-file -d 'Write log records to this file instead of standard error' -r -F
complete -c caproto-repeater -l log-pv -d 'Only log records about PVs matching this glob (repeatable; * is a wildcard)' -r
complete -c caproto-repeater -l log-addr -d 'Only log records about this host or host:port (repeatable)' -r
complete -c caproto-repeater -l log-role -d 'Only log records of this role' -r -f -a "client\t''
server\t''"
complete -c caproto-repeater -l log-format -d 'Log line format' -r -f -a "text\t''
json\t''"
complete -c caproto-repeater -s v -l verbose -d 'Show more log messages (-v: channel and context records; -vvv: every command sent and received)'
complete -c caproto-repeater -s q -l quiet -d 'Show only warnings and errors'
complete -c caproto-repeater -l no-color -d 'Suppress ANSI colour codes in log messages'
complete -c caproto-repeater -s h -l help -d 'Print help (see more with \'--help\')'
complete -c caproto-repeater -s V -l version -d 'Print version'
