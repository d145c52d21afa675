# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_gatepass_global_optspecs
    string join \n socket= server= ca-pin= readonly mouse clipboard= h/help V/version
end

function __fish_gatepass_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_gatepass_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_gatepass_using_subcommand
    set -l cmd (__fish_gatepass_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c gatepass -n "__fish_gatepass_needs_command" -l socket -d 'The daemon\'s Unix socket [env: GATEPASS_SOCKET]' -r -F
complete -c gatepass -n "__fish_gatepass_needs_command" -l server -d 'The daemon over HTTPS: its admin listener for commands (with an API token from GATEPASS_API_TOKEN or a prompt); for `redeem`, its redeem listener [env: GATEPASS_SERVER]' -r
complete -c gatepass -n "__fish_gatepass_needs_command" -l ca-pin -d 'The CA pin of the --server (sha256:HEX, printed by gatepassd and `gatepass doctor`)' -r
complete -c gatepass -n "__fish_gatepass_needs_command" -l clipboard -d 'Console: how `c` copies a revealed token' -r -f -a "auto\t'System clipboard when local with a display, OSC 52 otherwise or when it fails'
local\t'The system clipboard only'
osc52\t'OSC 52 through the terminal only'
off\t'Never copy (select the token with the mouse instead)'"
complete -c gatepass -n "__fish_gatepass_needs_command" -l readonly -d 'Console: look, never change anything (auditors are always read-only)'
complete -c gatepass -n "__fish_gatepass_needs_command" -l mouse -d 'Console: capture the mouse (wheel scrolls, click selects); off by default so text, such as a revealed token, stays selectable'
complete -c gatepass -n "__fish_gatepass_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c gatepass -n "__fish_gatepass_needs_command" -s V -l version -d 'Print version'
complete -c gatepass -n "__fish_gatepass_needs_command" -f -a "tokens" -d 'Enrollment tokens'
complete -c gatepass -n "__fish_gatepass_needs_command" -f -a "hosts" -d 'Hosts enrolled with tokens'
complete -c gatepass -n "__fish_gatepass_needs_command" -f -a "audit" -d 'The audit log: who did what, and every redemption attempt'
complete -c gatepass -n "__fish_gatepass_needs_command" -f -a "tenants" -d 'The tenants open to you'
complete -c gatepass -n "__fish_gatepass_needs_command" -f -a "apitokens" -d 'Personal API tokens (gpa_…) for the HTTPS admin listener'
complete -c gatepass -n "__fish_gatepass_needs_command" -f -a "doctor" -d 'Checks the daemon, your identity and role, the TLS pin, the clipboard path and the config'
complete -c gatepass -n "__fish_gatepass_needs_command" -f -a "backup" -d 'Admins: writes a consistent snapshot of the running daemon\'s store to FILE (new, 0600), for `gatepassd restore FILE --data-dir DIR`. Keep hmac.key, ca.pem and ca.key with it'
complete -c gatepass -n "__fish_gatepass_needs_command" -f -a "redeem" -d 'Enroll this host: redeem an enrollment token against the daemon\'s redeem listener (--server https://HOST:PORT) and write ca.pem, cert.pem, key.pem and host-id'
complete -c gatepass -n "__fish_gatepass_needs_command" -f -a "completions" -d 'Prints a shell completion script (also in assets/completions/ of the source)'
complete -c gatepass -n "__fish_gatepass_needs_command" -f -a "man" -d 'Prints the man page, roff (also in assets/man/ of the source): `gatepass man | man -l -`'
complete -c gatepass -n "__fish_gatepass_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c gatepass -n "__fish_gatepass_using_subcommand tokens; and not __fish_seen_subcommand_from list create show disable enable revoke delete extend clone purge help" -s h -l help -d 'Print help'
complete -c gatepass -n "__fish_gatepass_using_subcommand tokens; and not __fish_seen_subcommand_from list create show disable enable revoke delete extend clone purge help" -f -a "list" -d 'List tokens (never their secrets)'
complete -c gatepass -n "__fish_gatepass_using_subcommand tokens; and not __fish_seen_subcommand_from list create show disable enable revoke delete extend clone purge help" -f -a "create" -d 'Mint a token. Prints the token alone on stdout, everything else on stderr'
complete -c gatepass -n "__fish_gatepass_using_subcommand tokens; and not __fish_seen_subcommand_from list create show disable enable revoke delete extend clone purge help" -f -a "show" -d 'Show one token'
complete -c gatepass -n "__fish_gatepass_using_subcommand tokens; and not __fish_seen_subcommand_from list create show disable enable revoke delete extend clone purge help" -f -a "disable" -d 'Disable tokens (reversible with enable)'
complete -c gatepass -n "__fish_gatepass_using_subcommand tokens; and not __fish_seen_subcommand_from list create show disable enable revoke delete extend clone purge help" -f -a "enable" -d 'Enable disabled tokens'
complete -c gatepass -n "__fish_gatepass_using_subcommand tokens; and not __fish_seen_subcommand_from list create show disable enable revoke delete extend clone purge help" -f -a "revoke" -d 'Revoke tokens for good; enrolled hosts keep their enrollment'
complete -c gatepass -n "__fish_gatepass_using_subcommand tokens; and not __fish_seen_subcommand_from list create show disable enable revoke delete extend clone purge help" -f -a "delete" -d 'Delete tokens: they leave lists, their audit trails stay'
complete -c gatepass -n "__fish_gatepass_using_subcommand tokens; and not __fish_seen_subcommand_from list create show disable enable revoke delete extend clone purge help" -f -a "extend" -d 'Give a token a new expiry (audited as updated)'
complete -c gatepass -n "__fish_gatepass_using_subcommand tokens; and not __fish_seen_subcommand_from list create show disable enable revoke delete extend clone purge help" -f -a "clone" -d 'Mint a token with another\'s settings and a new secret: --name NEW, and any create flag to change one (labels are added to the source\'s)'
complete -c gatepass -n "__fish_gatepass_using_subcommand tokens; and not __fish_seen_subcommand_from list create show disable enable revoke delete extend clone purge help" -f -a "purge" -d 'Delete expired, revoked and used-up tokens'
complete -c gatepass -n "__fish_gatepass_using_subcommand tokens; and not __fish_seen_subcommand_from list create show disable enable revoke delete extend clone purge help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c gatepass -n "__fish_gatepass_using_subcommand tokens; and __fish_seen_subcommand_from list" -l status -d 'Only tokens with this status' -r -f -a "active\t''
disabled\t''
expired\t''
exhausted\t'Every use spent (also accepted: used-up)'
revoked\t''
expiring-soon\t'Active, and expiring within a day (as the console\'s status filter)'
never-used\t'Never redeemed, whatever the status'"
complete -c gatepass -n "__fish_gatepass_using_subcommand tokens; and __fish_seen_subcommand_from list" -l group -d 'Only tokens whose hosts join this group' -r
complete -c gatepass -n "__fish_gatepass_using_subcommand tokens; and __fish_seen_subcommand_from list" -l sort -d 'The column to sort by [default: name]' -r -f -a "name\t''
status\t''
uses\t''
last-used\t''
group\t''
owner\t''
expires\t''
created\t''
description\t''"
complete -c gatepass -n "__fish_gatepass_using_subcommand tokens; and __fish_seen_subcommand_from list" -l tenant -d 'Only the tokens of this tenant' -r
complete -c gatepass -n "__fish_gatepass_using_subcommand tokens; and __fish_seen_subcommand_from list" -l desc -d 'Sort in descending order'
complete -c gatepass -n "__fish_gatepass_using_subcommand tokens; and __fish_seen_subcommand_from list" -l json -d 'Print JSON'
complete -c gatepass -n "__fish_gatepass_using_subcommand tokens; and __fish_seen_subcommand_from list" -l csv -d 'Print CSV'
complete -c gatepass -n "__fish_gatepass_using_subcommand tokens; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c gatepass -n "__fish_gatepass_using_subcommand tokens; and __fish_seen_subcommand_from create" -l name -d 'Unique name, 1–64 characters' -r
complete -c gatepass -n "__fish_gatepass_using_subcommand tokens; and __fish_seen_subcommand_from create" -l ttl -d 'Lifetime: 15m, 1h, 1d, 3d, 14d, 90d… (default: the daemon\'s, 3d unless configured)' -r
complete -c gatepass -n "__fish_gatepass_using_subcommand tokens; and __fish_seen_subcommand_from create" -l expires -d 'Expiry as an RFC 3339 date and time, e.g. 2030-01-31T18:00:00Z' -r
complete -c gatepass -n "__fish_gatepass_using_subcommand tokens; and __fish_seen_subcommand_from create" -l uses -d 'How many hosts may use it: 1 (default), a number, or unlimited' -r
complete -c gatepass -n "__fish_gatepass_using_subcommand tokens; and __fish_seen_subcommand_from create" -l group -d 'Group the enrolled hosts join' -r
complete -c gatepass -n "__fish_gatepass_using_subcommand tokens; and __fish_seen_subcommand_from create" -l label -d 'Label handed to enrolled hosts, key=value (repeatable)' -r
complete -c gatepass -n "__fish_gatepass_using_subcommand tokens; and __fish_seen_subcommand_from create" -l description -d 'What it is for (up to 512 characters)' -r
complete -c gatepass -n "__fish_gatepass_using_subcommand tokens; and __fish_seen_subcommand_from create" -l owner -d 'Owner of the enrolled hosts (admins only; default: you): a member of the tenant' -r
complete -c gatepass -n "__fish_gatepass_using_subcommand tokens; and __fish_seen_subcommand_from create" -l tenant -d 'The tenant to mint in: needed when more than one is open to you (`tenants list`)' -r
complete -c gatepass -n "__fish_gatepass_using_subcommand tokens; and __fish_seen_subcommand_from create" -l allow-cidr -d 'Only hosts from this address or CIDR may redeem it (repeatable)' -r
complete -c gatepass -n "__fish_gatepass_using_subcommand tokens; and __fish_seen_subcommand_from create" -l not-before -d 'Not valid before this RFC 3339 time' -r
complete -c gatepass -n "__fish_gatepass_using_subcommand tokens; and __fish_seen_subcommand_from create" -l no-expiry -d 'Never expires (if the daemon allows it)'
complete -c gatepass -n "__fish_gatepass_using_subcommand tokens; and __fish_seen_subcommand_from create" -l json -d 'Print {"token": {…}, "secret": "gpt_…"}'
complete -c gatepass -n "__fish_gatepass_using_subcommand tokens; and __fish_seen_subcommand_from create" -s h -l help -d 'Print help'
complete -c gatepass -n "__fish_gatepass_using_subcommand tokens; and __fish_seen_subcommand_from show" -l json -d 'Print the token as JSON'
complete -c gatepass -n "__fish_gatepass_using_subcommand tokens; and __fish_seen_subcommand_from show" -s h -l help -d 'Print help'
complete -c gatepass -n "__fish_gatepass_using_subcommand tokens; and __fish_seen_subcommand_from disable" -l status -d 'Also every token with this status (with --group: both must match)' -r -f -a "active\t''
disabled\t''
expired\t''
exhausted\t'Every use spent (also accepted: used-up)'
revoked\t''
expiring-soon\t'Active, and expiring within a day (as the console\'s status filter)'
never-used\t'Never redeemed, whatever the status'"
complete -c gatepass -n "__fish_gatepass_using_subcommand tokens; and __fish_seen_subcommand_from disable" -l group -d 'Also every token whose hosts join this group (with --status: both must match)' -r
complete -c gatepass -n "__fish_gatepass_using_subcommand tokens; and __fish_seen_subcommand_from disable" -l dry-run -d 'Only list the tokens it would act on'
complete -c gatepass -n "__fish_gatepass_using_subcommand tokens; and __fish_seen_subcommand_from disable" -l json -d 'Print each token (or each result) as JSON'
complete -c gatepass -n "__fish_gatepass_using_subcommand tokens; and __fish_seen_subcommand_from disable" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c gatepass -n "__fish_gatepass_using_subcommand tokens; and __fish_seen_subcommand_from enable" -l status -d 'Also every token with this status (with --group: both must match)' -r -f -a "active\t''
disabled\t''
expired\t''
exhausted\t'Every use spent (also accepted: used-up)'
revoked\t''
expiring-soon\t'Active, and expiring within a day (as the console\'s status filter)'
never-used\t'Never redeemed, whatever the status'"
complete -c gatepass -n "__fish_gatepass_using_subcommand tokens; and __fish_seen_subcommand_from enable" -l group -d 'Also every token whose hosts join this group (with --status: both must match)' -r
complete -c gatepass -n "__fish_gatepass_using_subcommand tokens; and __fish_seen_subcommand_from enable" -l dry-run -d 'Only list the tokens it would act on'
complete -c gatepass -n "__fish_gatepass_using_subcommand tokens; and __fish_seen_subcommand_from enable" -l json -d 'Print each token (or each result) as JSON'
complete -c gatepass -n "__fish_gatepass_using_subcommand tokens; and __fish_seen_subcommand_from enable" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c gatepass -n "__fish_gatepass_using_subcommand tokens; and __fish_seen_subcommand_from revoke" -l status -d 'Also every token with this status (with --group: both must match)' -r -f -a "active\t''
disabled\t''
expired\t''
exhausted\t'Every use spent (also accepted: used-up)'
revoked\t''
expiring-soon\t'Active, and expiring within a day (as the console\'s status filter)'
never-used\t'Never redeemed, whatever the status'"
complete -c gatepass -n "__fish_gatepass_using_subcommand tokens; and __fish_seen_subcommand_from revoke" -l group -d 'Also every token whose hosts join this group (with --status: both must match)' -r
complete -c gatepass -n "__fish_gatepass_using_subcommand tokens; and __fish_seen_subcommand_from revoke" -l dry-run -d 'Only list the tokens it would act on'
complete -c gatepass -n "__fish_gatepass_using_subcommand tokens; and __fish_seen_subcommand_from revoke" -l json -d 'Print each token (or each result) as JSON'
complete -c gatepass -n "__fish_gatepass_using_subcommand tokens; and __fish_seen_subcommand_from revoke" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c gatepass -n "__fish_gatepass_using_subcommand tokens; and __fish_seen_subcommand_from delete" -l status -d 'Also every token with this status (with --group: both must match)' -r -f -a "active\t''
disabled\t''
expired\t''
exhausted\t'Every use spent (also accepted: used-up)'
revoked\t''
expiring-soon\t'Active, and expiring within a day (as the console\'s status filter)'
never-used\t'Never redeemed, whatever the status'"
complete -c gatepass -n "__fish_gatepass_using_subcommand tokens; and __fish_seen_subcommand_from delete" -l group -d 'Also every token whose hosts join this group (with --status: both must match)' -r
complete -c gatepass -n "__fish_gatepass_using_subcommand tokens; and __fish_seen_subcommand_from delete" -l dry-run -d 'Only list the tokens it would act on'
complete -c gatepass -n "__fish_gatepass_using_subcommand tokens; and __fish_seen_subcommand_from delete" -l json -d 'Print each token (or each result) as JSON'
complete -c gatepass -n "__fish_gatepass_using_subcommand tokens; and __fish_seen_subcommand_from delete" -l yes -d 'Do not ask for confirmation'
complete -c gatepass -n "__fish_gatepass_using_subcommand tokens; and __fish_seen_subcommand_from delete" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c gatepass -n "__fish_gatepass_using_subcommand tokens; and __fish_seen_subcommand_from extend" -l ttl -d 'Lifetime from now: 15m, 1h, 1d, 7d…' -r
complete -c gatepass -n "__fish_gatepass_using_subcommand tokens; and __fish_seen_subcommand_from extend" -l expires -d 'Expiry as an RFC 3339 date and time, e.g. 2030-01-31T18:00:00Z' -r
complete -c gatepass -n "__fish_gatepass_using_subcommand tokens; and __fish_seen_subcommand_from extend" -l no-expiry -d 'Never expires (if the daemon allows it)'
complete -c gatepass -n "__fish_gatepass_using_subcommand tokens; and __fish_seen_subcommand_from extend" -l shorten -d 'Allow a new expiry earlier than the current one (without it, a shorter lifetime is refused: extending never cuts a token\'s life short by surprise)'
complete -c gatepass -n "__fish_gatepass_using_subcommand tokens; and __fish_seen_subcommand_from extend" -l json -d 'Print the token as JSON'
complete -c gatepass -n "__fish_gatepass_using_subcommand tokens; and __fish_seen_subcommand_from extend" -s h -l help -d 'Print help'
complete -c gatepass -n "__fish_gatepass_using_subcommand tokens; and __fish_seen_subcommand_from clone" -l name -d 'Unique name, 1–64 characters' -r
complete -c gatepass -n "__fish_gatepass_using_subcommand tokens; and __fish_seen_subcommand_from clone" -l ttl -d 'Lifetime: 15m, 1h, 1d, 3d, 14d, 90d… (default: the daemon\'s, 3d unless configured)' -r
complete -c gatepass -n "__fish_gatepass_using_subcommand tokens; and __fish_seen_subcommand_from clone" -l expires -d 'Expiry as an RFC 3339 date and time, e.g. 2030-01-31T18:00:00Z' -r
complete -c gatepass -n "__fish_gatepass_using_subcommand tokens; and __fish_seen_subcommand_from clone" -l uses -d 'How many hosts may use it: 1 (default), a number, or unlimited' -r
complete -c gatepass -n "__fish_gatepass_using_subcommand tokens; and __fish_seen_subcommand_from clone" -l group -d 'Group the enrolled hosts join' -r
complete -c gatepass -n "__fish_gatepass_using_subcommand tokens; and __fish_seen_subcommand_from clone" -l label -d 'Label handed to enrolled hosts, key=value (repeatable)' -r
complete -c gatepass -n "__fish_gatepass_using_subcommand tokens; and __fish_seen_subcommand_from clone" -l description -d 'What it is for (up to 512 characters)' -r
complete -c gatepass -n "__fish_gatepass_using_subcommand tokens; and __fish_seen_subcommand_from clone" -l owner -d 'Owner of the enrolled hosts (admins only; default: you): a member of the tenant' -r
complete -c gatepass -n "__fish_gatepass_using_subcommand tokens; and __fish_seen_subcommand_from clone" -l tenant -d 'The tenant to mint in: needed when more than one is open to you (`tenants list`)' -r
complete -c gatepass -n "__fish_gatepass_using_subcommand tokens; and __fish_seen_subcommand_from clone" -l allow-cidr -d 'Only hosts from this address or CIDR may redeem it (repeatable)' -r
complete -c gatepass -n "__fish_gatepass_using_subcommand tokens; and __fish_seen_subcommand_from clone" -l not-before -d 'Not valid before this RFC 3339 time' -r
complete -c gatepass -n "__fish_gatepass_using_subcommand tokens; and __fish_seen_subcommand_from clone" -l no-expiry -d 'Never expires (if the daemon allows it)'
complete -c gatepass -n "__fish_gatepass_using_subcommand tokens; and __fish_seen_subcommand_from clone" -l json -d 'Print {"token": {…}, "secret": "gpt_…"}'
complete -c gatepass -n "__fish_gatepass_using_subcommand tokens; and __fish_seen_subcommand_from clone" -s h -l help -d 'Print help'
complete -c gatepass -n "__fish_gatepass_using_subcommand tokens; and __fish_seen_subcommand_from purge" -l dry-run -d 'Only list what would be deleted'
complete -c gatepass -n "__fish_gatepass_using_subcommand tokens; and __fish_seen_subcommand_from purge" -l yes -d 'Do not ask for confirmation'
complete -c gatepass -n "__fish_gatepass_using_subcommand tokens; and __fish_seen_subcommand_from purge" -s h -l help -d 'Print help'
complete -c gatepass -n "__fish_gatepass_using_subcommand tokens; and __fish_seen_subcommand_from help" -f -a "list" -d 'List tokens (never their secrets)'
complete -c gatepass -n "__fish_gatepass_using_subcommand tokens; and __fish_seen_subcommand_from help" -f -a "create" -d 'Mint a token. Prints the token alone on stdout, everything else on stderr'
complete -c gatepass -n "__fish_gatepass_using_subcommand tokens; and __fish_seen_subcommand_from help" -f -a "show" -d 'Show one token'
complete -c gatepass -n "__fish_gatepass_using_subcommand tokens; and __fish_seen_subcommand_from help" -f -a "disable" -d 'Disable tokens (reversible with enable)'
complete -c gatepass -n "__fish_gatepass_using_subcommand tokens; and __fish_seen_subcommand_from help" -f -a "enable" -d 'Enable disabled tokens'
complete -c gatepass -n "__fish_gatepass_using_subcommand tokens; and __fish_seen_subcommand_from help" -f -a "revoke" -d 'Revoke tokens for good; enrolled hosts keep their enrollment'
complete -c gatepass -n "__fish_gatepass_using_subcommand tokens; and __fish_seen_subcommand_from help" -f -a "delete" -d 'Delete tokens: they leave lists, their audit trails stay'
complete -c gatepass -n "__fish_gatepass_using_subcommand tokens; and __fish_seen_subcommand_from help" -f -a "extend" -d 'Give a token a new expiry (audited as updated)'
complete -c gatepass -n "__fish_gatepass_using_subcommand tokens; and __fish_seen_subcommand_from help" -f -a "clone" -d 'Mint a token with another\'s settings and a new secret: --name NEW, and any create flag to change one (labels are added to the source\'s)'
complete -c gatepass -n "__fish_gatepass_using_subcommand tokens; and __fish_seen_subcommand_from help" -f -a "purge" -d 'Delete expired, revoked and used-up tokens'
complete -c gatepass -n "__fish_gatepass_using_subcommand tokens; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c gatepass -n "__fish_gatepass_using_subcommand hosts; and not __fish_seen_subcommand_from list remove help" -s h -l help -d 'Print help'
complete -c gatepass -n "__fish_gatepass_using_subcommand hosts; and not __fish_seen_subcommand_from list remove help" -f -a "list" -d 'List enrolled hosts'
complete -c gatepass -n "__fish_gatepass_using_subcommand hosts; and not __fish_seen_subcommand_from list remove help" -f -a "remove" -d 'Remove a host from the records (audited). Its token\'s use count stays as it was'
complete -c gatepass -n "__fish_gatepass_using_subcommand hosts; and not __fish_seen_subcommand_from list remove help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c gatepass -n "__fish_gatepass_using_subcommand hosts; and __fish_seen_subcommand_from list" -l token -d 'Only hosts enrolled with this token (name or id)' -r
complete -c gatepass -n "__fish_gatepass_using_subcommand hosts; and __fish_seen_subcommand_from list" -l tenant -d 'Only the hosts of this tenant' -r
complete -c gatepass -n "__fish_gatepass_using_subcommand hosts; and __fish_seen_subcommand_from list" -l json -d 'Print JSON'
complete -c gatepass -n "__fish_gatepass_using_subcommand hosts; and __fish_seen_subcommand_from list" -l csv -d 'Print CSV'
complete -c gatepass -n "__fish_gatepass_using_subcommand hosts; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c gatepass -n "__fish_gatepass_using_subcommand hosts; and __fish_seen_subcommand_from remove" -l json -d 'Print the removed host as JSON'
complete -c gatepass -n "__fish_gatepass_using_subcommand hosts; and __fish_seen_subcommand_from remove" -s h -l help -d 'Print help'
complete -c gatepass -n "__fish_gatepass_using_subcommand hosts; and __fish_seen_subcommand_from help" -f -a "list" -d 'List enrolled hosts'
complete -c gatepass -n "__fish_gatepass_using_subcommand hosts; and __fish_seen_subcommand_from help" -f -a "remove" -d 'Remove a host from the records (audited). Its token\'s use count stays as it was'
complete -c gatepass -n "__fish_gatepass_using_subcommand hosts; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c gatepass -n "__fish_gatepass_using_subcommand audit; and not __fish_seen_subcommand_from verify help" -l since -d 'Only events newer than this (e.g. 24h, 7d) or since an RFC 3339 time' -r
complete -c gatepass -n "__fish_gatepass_using_subcommand audit; and not __fish_seen_subcommand_from verify help" -l token -d 'Only events about this token (name or id; deleted tokens by id)' -r
complete -c gatepass -n "__fish_gatepass_using_subcommand audit; and not __fish_seen_subcommand_from verify help" -l actor -d 'Only events by this actor (a user name, or host:NAME@ADDRESS)' -r
complete -c gatepass -n "__fish_gatepass_using_subcommand audit; and not __fish_seen_subcommand_from verify help" -l limit -d 'At most this many events (the newest; at least 1)' -r
complete -c gatepass -n "__fish_gatepass_using_subcommand audit; and not __fish_seen_subcommand_from verify help" -l before -d 'Only events older than this sequence number: the `seq` of the oldest event of the previous page (a cursor, with --limit, to page back through the log)' -r
complete -c gatepass -n "__fish_gatepass_using_subcommand audit; and not __fish_seen_subcommand_from verify help" -l tenant -d 'Only the events of this tenant' -r
complete -c gatepass -n "__fish_gatepass_using_subcommand audit; and not __fish_seen_subcommand_from verify help" -l json -d 'Print the events as JSON'
complete -c gatepass -n "__fish_gatepass_using_subcommand audit; and not __fish_seen_subcommand_from verify help" -s h -l help -d 'Print help'
complete -c gatepass -n "__fish_gatepass_using_subcommand audit; and not __fish_seen_subcommand_from verify help" -f -a "verify" -d 'Check the audit log\'s hash chain: reports OK or the first bad event'
complete -c gatepass -n "__fish_gatepass_using_subcommand audit; and not __fish_seen_subcommand_from verify help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c gatepass -n "__fish_gatepass_using_subcommand audit; and __fish_seen_subcommand_from verify" -l json -d 'Print the result as JSON'
complete -c gatepass -n "__fish_gatepass_using_subcommand audit; and __fish_seen_subcommand_from verify" -s h -l help -d 'Print help'
complete -c gatepass -n "__fish_gatepass_using_subcommand audit; and __fish_seen_subcommand_from help" -f -a "verify" -d 'Check the audit log\'s hash chain: reports OK or the first bad event'
complete -c gatepass -n "__fish_gatepass_using_subcommand audit; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c gatepass -n "__fish_gatepass_using_subcommand tenants; and not __fish_seen_subcommand_from list help" -s h -l help -d 'Print help'
complete -c gatepass -n "__fish_gatepass_using_subcommand tenants; and not __fish_seen_subcommand_from list help" -f -a "list" -d 'The tenants you have a role in: name, your role there, and the tokens and hosts of it you see'
complete -c gatepass -n "__fish_gatepass_using_subcommand tenants; and not __fish_seen_subcommand_from list help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c gatepass -n "__fish_gatepass_using_subcommand tenants; and __fish_seen_subcommand_from list" -l json -d 'Print JSON (admins also get each tenant\'s members)'
complete -c gatepass -n "__fish_gatepass_using_subcommand tenants; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c gatepass -n "__fish_gatepass_using_subcommand tenants; and __fish_seen_subcommand_from help" -f -a "list" -d 'The tenants you have a role in: name, your role there, and the tokens and hosts of it you see'
complete -c gatepass -n "__fish_gatepass_using_subcommand tenants; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c gatepass -n "__fish_gatepass_using_subcommand apitokens; and not __fish_seen_subcommand_from list create delete help" -s h -l help -d 'Print help'
complete -c gatepass -n "__fish_gatepass_using_subcommand apitokens; and not __fish_seen_subcommand_from list create delete help" -f -a "list" -d 'Your API tokens (admins: everyone\'s)'
complete -c gatepass -n "__fish_gatepass_using_subcommand apitokens; and not __fish_seen_subcommand_from list create delete help" -f -a "create" -d 'Create an API token for yourself. Prints the token alone on stdout'
complete -c gatepass -n "__fish_gatepass_using_subcommand apitokens; and not __fish_seen_subcommand_from list create delete help" -f -a "delete" -d 'Delete an API token (by id, or one of yours by name): it stops working at once'
complete -c gatepass -n "__fish_gatepass_using_subcommand apitokens; and not __fish_seen_subcommand_from list create delete help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c gatepass -n "__fish_gatepass_using_subcommand apitokens; and __fish_seen_subcommand_from list" -l tenant -d 'Only the API tokens of this tenant' -r
complete -c gatepass -n "__fish_gatepass_using_subcommand apitokens; and __fish_seen_subcommand_from list" -l json -d 'Print JSON'
complete -c gatepass -n "__fish_gatepass_using_subcommand apitokens; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c gatepass -n "__fish_gatepass_using_subcommand apitokens; and __fish_seen_subcommand_from create" -l name -d 'Its name, unique among yours (1–64 characters)' -r
complete -c gatepass -n "__fish_gatepass_using_subcommand apitokens; and __fish_seen_subcommand_from create" -l ttl -d 'Lifetime (default 14d, at least 1d)' -r
complete -c gatepass -n "__fish_gatepass_using_subcommand apitokens; and __fish_seen_subcommand_from create" -l expires -d 'Expiry as an RFC 3339 date and time' -r
complete -c gatepass -n "__fish_gatepass_using_subcommand apitokens; and __fish_seen_subcommand_from create" -l path-prefix -d 'Valid only for request paths under this prefix, e.g. /v1/tokens' -r
complete -c gatepass -n "__fish_gatepass_using_subcommand apitokens; and __fish_seen_subcommand_from create" -l referrer -d 'Valid only when the Referer\'s host ends with this value' -r
complete -c gatepass -n "__fish_gatepass_using_subcommand apitokens; and __fish_seen_subcommand_from create" -l remark -d 'A note for yourself: what uses it (up to 512 characters)' -r
complete -c gatepass -n "__fish_gatepass_using_subcommand apitokens; and __fish_seen_subcommand_from create" -l scope -d 'What it may do: read (GET only), mint (read, and create tokens) or manage (all your role allows; the default)' -r -f -a "read\t''
mint\t''
manage\t''"
complete -c gatepass -n "__fish_gatepass_using_subcommand apitokens; and __fish_seen_subcommand_from create" -l tenant -d 'The one tenant it acts in: needed when you hold the REST API role in several' -r
complete -c gatepass -n "__fish_gatepass_using_subcommand apitokens; and __fish_seen_subcommand_from create" -l json -d 'Print {"api_token": {…}, "secret": "gpa_…"}'
complete -c gatepass -n "__fish_gatepass_using_subcommand apitokens; and __fish_seen_subcommand_from create" -s h -l help -d 'Print help'
complete -c gatepass -n "__fish_gatepass_using_subcommand apitokens; and __fish_seen_subcommand_from delete" -s h -l help -d 'Print help'
complete -c gatepass -n "__fish_gatepass_using_subcommand apitokens; and __fish_seen_subcommand_from help" -f -a "list" -d 'Your API tokens (admins: everyone\'s)'
complete -c gatepass -n "__fish_gatepass_using_subcommand apitokens; and __fish_seen_subcommand_from help" -f -a "create" -d 'Create an API token for yourself. Prints the token alone on stdout'
complete -c gatepass -n "__fish_gatepass_using_subcommand apitokens; and __fish_seen_subcommand_from help" -f -a "delete" -d 'Delete an API token (by id, or one of yours by name): it stops working at once'
complete -c gatepass -n "__fish_gatepass_using_subcommand apitokens; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c gatepass -n "__fish_gatepass_using_subcommand doctor" -s h -l help -d 'Print help'
complete -c gatepass -n "__fish_gatepass_using_subcommand backup" -s h -l help -d 'Print help'
complete -c gatepass -n "__fish_gatepass_using_subcommand redeem" -l server -d 'The daemon\'s redeem listener, https://HOST:PORT [env: GATEPASS_SERVER]' -r
complete -c gatepass -n "__fish_gatepass_using_subcommand redeem" -l ca-pin -d 'The daemon\'s CA pin, sha256:HEX (printed by gatepassd, `tokens create` and the console)' -r
complete -c gatepass -n "__fish_gatepass_using_subcommand redeem" -l token-file -d 'Read the token from this file (surrounding whitespace is ignored; - reads standard input)' -r -F
complete -c gatepass -n "__fish_gatepass_using_subcommand redeem" -l out -d 'Write ca.pem, cert.pem, key.pem and host-id here [default: /etc/gatepass for root, ./gatepass otherwise]' -r -F
complete -c gatepass -n "__fish_gatepass_using_subcommand redeem" -l hostname -d 'The host name to enroll as [default: the machine\'s host name]' -r
complete -c gatepass -n "__fish_gatepass_using_subcommand redeem" -l token -d 'Never used: a token on the command line is refused (see --token-file)' -r
complete -c gatepass -n "__fish_gatepass_using_subcommand redeem" -l force -d 'Enroll again even though --out already holds an enrollment (replaced only on success)'
complete -c gatepass -n "__fish_gatepass_using_subcommand redeem" -l insecure-skip-pin -d 'Do not check the server\'s CA: anyone on the network path could take the token'
complete -c gatepass -n "__fish_gatepass_using_subcommand redeem" -s h -l help -d 'Print help'
complete -c gatepass -n "__fish_gatepass_using_subcommand completions" -s h -l help -d 'Print help'
complete -c gatepass -n "__fish_gatepass_using_subcommand man" -s h -l help -d 'Print help'
complete -c gatepass -n "__fish_gatepass_using_subcommand help; and not __fish_seen_subcommand_from tokens hosts audit tenants apitokens doctor backup redeem completions man help" -f -a "tokens" -d 'Enrollment tokens'
complete -c gatepass -n "__fish_gatepass_using_subcommand help; and not __fish_seen_subcommand_from tokens hosts audit tenants apitokens doctor backup redeem completions man help" -f -a "hosts" -d 'Hosts enrolled with tokens'
complete -c gatepass -n "__fish_gatepass_using_subcommand help; and not __fish_seen_subcommand_from tokens hosts audit tenants apitokens doctor backup redeem completions man help" -f -a "audit" -d 'The audit log: who did what, and every redemption attempt'
complete -c gatepass -n "__fish_gatepass_using_subcommand help; and not __fish_seen_subcommand_from tokens hosts audit tenants apitokens doctor backup redeem completions man help" -f -a "tenants" -d 'The tenants open to you'
complete -c gatepass -n "__fish_gatepass_using_subcommand help; and not __fish_seen_subcommand_from tokens hosts audit tenants apitokens doctor backup redeem completions man help" -f -a "apitokens" -d 'Personal API tokens (gpa_…) for the HTTPS admin listener'
complete -c gatepass -n "__fish_gatepass_using_subcommand help; and not __fish_seen_subcommand_from tokens hosts audit tenants apitokens doctor backup redeem completions man help" -f -a "doctor" -d 'Checks the daemon, your identity and role, the TLS pin, the clipboard path and the config'
complete -c gatepass -n "__fish_gatepass_using_subcommand help; and not __fish_seen_subcommand_from tokens hosts audit tenants apitokens doctor backup redeem completions man help" -f -a "backup" -d 'Admins: writes a consistent snapshot of the running daemon\'s store to FILE (new, 0600), for `gatepassd restore FILE --data-dir DIR`. Keep hmac.key, ca.pem and ca.key with it'
complete -c gatepass -n "__fish_gatepass_using_subcommand help; and not __fish_seen_subcommand_from tokens hosts audit tenants apitokens doctor backup redeem completions man help" -f -a "redeem" -d 'Enroll this host: redeem an enrollment token against the daemon\'s redeem listener (--server https://HOST:PORT) and write ca.pem, cert.pem, key.pem and host-id'
complete -c gatepass -n "__fish_gatepass_using_subcommand help; and not __fish_seen_subcommand_from tokens hosts audit tenants apitokens doctor backup redeem completions man help" -f -a "completions" -d 'Prints a shell completion script (also in assets/completions/ of the source)'
complete -c gatepass -n "__fish_gatepass_using_subcommand help; and not __fish_seen_subcommand_from tokens hosts audit tenants apitokens doctor backup redeem completions man help" -f -a "man" -d 'Prints the man page, roff (also in assets/man/ of the source): `gatepass man | man -l -`'
complete -c gatepass -n "__fish_gatepass_using_subcommand help; and not __fish_seen_subcommand_from tokens hosts audit tenants apitokens doctor backup redeem completions man help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c gatepass -n "__fish_gatepass_using_subcommand help; and __fish_seen_subcommand_from tokens" -f -a "list" -d 'List tokens (never their secrets)'
complete -c gatepass -n "__fish_gatepass_using_subcommand help; and __fish_seen_subcommand_from tokens" -f -a "create" -d 'Mint a token. Prints the token alone on stdout, everything else on stderr'
complete -c gatepass -n "__fish_gatepass_using_subcommand help; and __fish_seen_subcommand_from tokens" -f -a "show" -d 'Show one token'
complete -c gatepass -n "__fish_gatepass_using_subcommand help; and __fish_seen_subcommand_from tokens" -f -a "disable" -d 'Disable tokens (reversible with enable)'
complete -c gatepass -n "__fish_gatepass_using_subcommand help; and __fish_seen_subcommand_from tokens" -f -a "enable" -d 'Enable disabled tokens'
complete -c gatepass -n "__fish_gatepass_using_subcommand help; and __fish_seen_subcommand_from tokens" -f -a "revoke" -d 'Revoke tokens for good; enrolled hosts keep their enrollment'
complete -c gatepass -n "__fish_gatepass_using_subcommand help; and __fish_seen_subcommand_from tokens" -f -a "delete" -d 'Delete tokens: they leave lists, their audit trails stay'
complete -c gatepass -n "__fish_gatepass_using_subcommand help; and __fish_seen_subcommand_from tokens" -f -a "extend" -d 'Give a token a new expiry (audited as updated)'
complete -c gatepass -n "__fish_gatepass_using_subcommand help; and __fish_seen_subcommand_from tokens" -f -a "clone" -d 'Mint a token with another\'s settings and a new secret: --name NEW, and any create flag to change one (labels are added to the source\'s)'
complete -c gatepass -n "__fish_gatepass_using_subcommand help; and __fish_seen_subcommand_from tokens" -f -a "purge" -d 'Delete expired, revoked and used-up tokens'
complete -c gatepass -n "__fish_gatepass_using_subcommand help; and __fish_seen_subcommand_from hosts" -f -a "list" -d 'List enrolled hosts'
complete -c gatepass -n "__fish_gatepass_using_subcommand help; and __fish_seen_subcommand_from hosts" -f -a "remove" -d 'Remove a host from the records (audited). Its token\'s use count stays as it was'
complete -c gatepass -n "__fish_gatepass_using_subcommand help; and __fish_seen_subcommand_from audit" -f -a "verify" -d 'Check the audit log\'s hash chain: reports OK or the first bad event'
complete -c gatepass -n "__fish_gatepass_using_subcommand help; and __fish_seen_subcommand_from tenants" -f -a "list" -d 'The tenants you have a role in: name, your role there, and the tokens and hosts of it you see'
complete -c gatepass -n "__fish_gatepass_using_subcommand help; and __fish_seen_subcommand_from apitokens" -f -a "list" -d 'Your API tokens (admins: everyone\'s)'
complete -c gatepass -n "__fish_gatepass_using_subcommand help; and __fish_seen_subcommand_from apitokens" -f -a "create" -d 'Create an API token for yourself. Prints the token alone on stdout'
complete -c gatepass -n "__fish_gatepass_using_subcommand help; and __fish_seen_subcommand_from apitokens" -f -a "delete" -d 'Delete an API token (by id, or one of yours by name): it stops working at once'
