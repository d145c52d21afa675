
use builtin;
use str;

set edit:completion:arg-completer[gatepass] = {|@words|
    fn spaces {|n|
        builtin:repeat $n ' ' | str:join ''
    }
    fn cand {|text desc|
        edit:complex-candidate $text &display=$text' '(spaces (- 14 (wcswidth $text)))$desc
    }
    var command = 'gatepass'
    for word $words[1..-1] {
        if (str:has-prefix $word '-') {
            break
        }
        set command = $command';'$word
    }
    var completions = [
        &'gatepass'= {
            cand --socket 'The daemon''s Unix socket [env: GATEPASS_SOCKET]'
            cand --server 'The daemon over HTTPS: its admin listener for commands (with an API token from GATEPASS_API_TOKEN or a prompt); for `redeem`, its redeem listener [env: GATEPASS_SERVER]'
            cand --ca-pin 'The CA pin of the --server (sha256:HEX, printed by gatepassd and `gatepass doctor`)'
            cand --clipboard 'Console: how `c` copies a revealed token'
            cand --readonly 'Console: look, never change anything (auditors are always read-only)'
            cand --mouse 'Console: capture the mouse (wheel scrolls, click selects); off by default so text, such as a revealed token, stays selectable'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
            cand tokens 'Enrollment tokens'
            cand hosts 'Hosts enrolled with tokens'
            cand audit 'The audit log: who did what, and every redemption attempt'
            cand tenants 'The tenants open to you'
            cand apitokens 'Personal API tokens (gpa_…) for the HTTPS admin listener'
            cand doctor 'Checks the daemon, your identity and role, the TLS pin, the clipboard path and the config'
            cand backup 'Admins: writes a consistent snapshot of the running daemon''s store to FILE (new, 0600), for `gatepassd restore FILE --data-dir DIR`. Keep hmac.key, ca.pem and ca.key with it'
            cand redeem 'Enroll this host: redeem an enrollment token against the daemon''s redeem listener (--server https://HOST:PORT) and write ca.pem, cert.pem, key.pem and host-id'
            cand completions 'Prints a shell completion script (also in assets/completions/ of the source)'
            cand man 'Prints the man page, roff (also in assets/man/ of the source): `gatepass man | man -l -`'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'gatepass;tokens'= {
            cand -h 'Print help'
            cand --help 'Print help'
            cand list 'List tokens (never their secrets)'
            cand create 'Mint a token. Prints the token alone on stdout, everything else on stderr'
            cand show 'Show one token'
            cand disable 'Disable tokens (reversible with enable)'
            cand enable 'Enable disabled tokens'
            cand revoke 'Revoke tokens for good; enrolled hosts keep their enrollment'
            cand delete 'Delete tokens: they leave lists, their audit trails stay'
            cand extend 'Give a token a new expiry (audited as updated)'
            cand clone 'Mint a token with another''s settings and a new secret: --name NEW, and any create flag to change one (labels are added to the source''s)'
            cand purge 'Delete expired, revoked and used-up tokens'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'gatepass;tokens;list'= {
            cand --status 'Only tokens with this status'
            cand --group 'Only tokens whose hosts join this group'
            cand --sort 'The column to sort by [default: name]'
            cand --tenant 'Only the tokens of this tenant'
            cand --desc 'Sort in descending order'
            cand --json 'Print JSON'
            cand --csv 'Print CSV'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'gatepass;tokens;create'= {
            cand --name 'Unique name, 1–64 characters'
            cand --ttl 'Lifetime: 15m, 1h, 1d, 3d, 14d, 90d… (default: the daemon''s, 3d unless configured)'
            cand --expires 'Expiry as an RFC 3339 date and time, e.g. 2030-01-31T18:00:00Z'
            cand --uses 'How many hosts may use it: 1 (default), a number, or unlimited'
            cand --group 'Group the enrolled hosts join'
            cand --label 'Label handed to enrolled hosts, key=value (repeatable)'
            cand --description 'What it is for (up to 512 characters)'
            cand --owner 'Owner of the enrolled hosts (admins only; default: you): a member of the tenant'
            cand --tenant 'The tenant to mint in: needed when more than one is open to you (`tenants list`)'
            cand --allow-cidr 'Only hosts from this address or CIDR may redeem it (repeatable)'
            cand --not-before 'Not valid before this RFC 3339 time'
            cand --no-expiry 'Never expires (if the daemon allows it)'
            cand --json 'Print {"token": {…}, "secret": "gpt_…"}'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'gatepass;tokens;show'= {
            cand --json 'Print the token as JSON'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'gatepass;tokens;disable'= {
            cand --status 'Also every token with this status (with --group: both must match)'
            cand --group 'Also every token whose hosts join this group (with --status: both must match)'
            cand --dry-run 'Only list the tokens it would act on'
            cand --json 'Print each token (or each result) as JSON'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'gatepass;tokens;enable'= {
            cand --status 'Also every token with this status (with --group: both must match)'
            cand --group 'Also every token whose hosts join this group (with --status: both must match)'
            cand --dry-run 'Only list the tokens it would act on'
            cand --json 'Print each token (or each result) as JSON'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'gatepass;tokens;revoke'= {
            cand --status 'Also every token with this status (with --group: both must match)'
            cand --group 'Also every token whose hosts join this group (with --status: both must match)'
            cand --dry-run 'Only list the tokens it would act on'
            cand --json 'Print each token (or each result) as JSON'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'gatepass;tokens;delete'= {
            cand --status 'Also every token with this status (with --group: both must match)'
            cand --group 'Also every token whose hosts join this group (with --status: both must match)'
            cand --dry-run 'Only list the tokens it would act on'
            cand --json 'Print each token (or each result) as JSON'
            cand --yes 'Do not ask for confirmation'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'gatepass;tokens;extend'= {
            cand --ttl 'Lifetime from now: 15m, 1h, 1d, 7d…'
            cand --expires 'Expiry as an RFC 3339 date and time, e.g. 2030-01-31T18:00:00Z'
            cand --no-expiry 'Never expires (if the daemon allows it)'
            cand --shorten 'Allow a new expiry earlier than the current one (without it, a shorter lifetime is refused: extending never cuts a token''s life short by surprise)'
            cand --json 'Print the token as JSON'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'gatepass;tokens;clone'= {
            cand --name 'Unique name, 1–64 characters'
            cand --ttl 'Lifetime: 15m, 1h, 1d, 3d, 14d, 90d… (default: the daemon''s, 3d unless configured)'
            cand --expires 'Expiry as an RFC 3339 date and time, e.g. 2030-01-31T18:00:00Z'
            cand --uses 'How many hosts may use it: 1 (default), a number, or unlimited'
            cand --group 'Group the enrolled hosts join'
            cand --label 'Label handed to enrolled hosts, key=value (repeatable)'
            cand --description 'What it is for (up to 512 characters)'
            cand --owner 'Owner of the enrolled hosts (admins only; default: you): a member of the tenant'
            cand --tenant 'The tenant to mint in: needed when more than one is open to you (`tenants list`)'
            cand --allow-cidr 'Only hosts from this address or CIDR may redeem it (repeatable)'
            cand --not-before 'Not valid before this RFC 3339 time'
            cand --no-expiry 'Never expires (if the daemon allows it)'
            cand --json 'Print {"token": {…}, "secret": "gpt_…"}'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'gatepass;tokens;purge'= {
            cand --dry-run 'Only list what would be deleted'
            cand --yes 'Do not ask for confirmation'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'gatepass;tokens;help'= {
            cand list 'List tokens (never their secrets)'
            cand create 'Mint a token. Prints the token alone on stdout, everything else on stderr'
            cand show 'Show one token'
            cand disable 'Disable tokens (reversible with enable)'
            cand enable 'Enable disabled tokens'
            cand revoke 'Revoke tokens for good; enrolled hosts keep their enrollment'
            cand delete 'Delete tokens: they leave lists, their audit trails stay'
            cand extend 'Give a token a new expiry (audited as updated)'
            cand clone 'Mint a token with another''s settings and a new secret: --name NEW, and any create flag to change one (labels are added to the source''s)'
            cand purge 'Delete expired, revoked and used-up tokens'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'gatepass;tokens;help;list'= {
        }
        &'gatepass;tokens;help;create'= {
        }
        &'gatepass;tokens;help;show'= {
        }
        &'gatepass;tokens;help;disable'= {
        }
        &'gatepass;tokens;help;enable'= {
        }
        &'gatepass;tokens;help;revoke'= {
        }
        &'gatepass;tokens;help;delete'= {
        }
        &'gatepass;tokens;help;extend'= {
        }
        &'gatepass;tokens;help;clone'= {
        }
        &'gatepass;tokens;help;purge'= {
        }
        &'gatepass;tokens;help;help'= {
        }
        &'gatepass;hosts'= {
            cand -h 'Print help'
            cand --help 'Print help'
            cand list 'List enrolled hosts'
            cand remove 'Remove a host from the records (audited). Its token''s use count stays as it was'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'gatepass;hosts;list'= {
            cand --token 'Only hosts enrolled with this token (name or id)'
            cand --tenant 'Only the hosts of this tenant'
            cand --json 'Print JSON'
            cand --csv 'Print CSV'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'gatepass;hosts;remove'= {
            cand --json 'Print the removed host as JSON'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'gatepass;hosts;help'= {
            cand list 'List enrolled hosts'
            cand remove 'Remove a host from the records (audited). Its token''s use count stays as it was'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'gatepass;hosts;help;list'= {
        }
        &'gatepass;hosts;help;remove'= {
        }
        &'gatepass;hosts;help;help'= {
        }
        &'gatepass;audit'= {
            cand --since 'Only events newer than this (e.g. 24h, 7d) or since an RFC 3339 time'
            cand --token 'Only events about this token (name or id; deleted tokens by id)'
            cand --actor 'Only events by this actor (a user name, or host:NAME@ADDRESS)'
            cand --limit 'At most this many events (the newest; at least 1)'
            cand --before 'Only events older than this sequence number: the `seq` of the oldest event of the previous page (a cursor, with --limit, to page back through the log)'
            cand --tenant 'Only the events of this tenant'
            cand --json 'Print the events as JSON'
            cand -h 'Print help'
            cand --help 'Print help'
            cand verify 'Check the audit log''s hash chain: reports OK or the first bad event'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'gatepass;audit;verify'= {
            cand --json 'Print the result as JSON'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'gatepass;audit;help'= {
            cand verify 'Check the audit log''s hash chain: reports OK or the first bad event'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'gatepass;audit;help;verify'= {
        }
        &'gatepass;audit;help;help'= {
        }
        &'gatepass;tenants'= {
            cand -h 'Print help'
            cand --help 'Print help'
            cand list 'The tenants you have a role in: name, your role there, and the tokens and hosts of it you see'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'gatepass;tenants;list'= {
            cand --json 'Print JSON (admins also get each tenant''s members)'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'gatepass;tenants;help'= {
            cand list 'The tenants you have a role in: name, your role there, and the tokens and hosts of it you see'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'gatepass;tenants;help;list'= {
        }
        &'gatepass;tenants;help;help'= {
        }
        &'gatepass;apitokens'= {
            cand -h 'Print help'
            cand --help 'Print help'
            cand list 'Your API tokens (admins: everyone''s)'
            cand create 'Create an API token for yourself. Prints the token alone on stdout'
            cand delete 'Delete an API token (by id, or one of yours by name): it stops working at once'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'gatepass;apitokens;list'= {
            cand --tenant 'Only the API tokens of this tenant'
            cand --json 'Print JSON'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'gatepass;apitokens;create'= {
            cand --name 'Its name, unique among yours (1–64 characters)'
            cand --ttl 'Lifetime (default 14d, at least 1d)'
            cand --expires 'Expiry as an RFC 3339 date and time'
            cand --path-prefix 'Valid only for request paths under this prefix, e.g. /v1/tokens'
            cand --referrer 'Valid only when the Referer''s host ends with this value'
            cand --remark 'A note for yourself: what uses it (up to 512 characters)'
            cand --scope 'What it may do: read (GET only), mint (read, and create tokens) or manage (all your role allows; the default)'
            cand --tenant 'The one tenant it acts in: needed when you hold the REST API role in several'
            cand --json 'Print {"api_token": {…}, "secret": "gpa_…"}'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'gatepass;apitokens;delete'= {
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'gatepass;apitokens;help'= {
            cand list 'Your API tokens (admins: everyone''s)'
            cand create 'Create an API token for yourself. Prints the token alone on stdout'
            cand delete 'Delete an API token (by id, or one of yours by name): it stops working at once'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'gatepass;apitokens;help;list'= {
        }
        &'gatepass;apitokens;help;create'= {
        }
        &'gatepass;apitokens;help;delete'= {
        }
        &'gatepass;apitokens;help;help'= {
        }
        &'gatepass;doctor'= {
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'gatepass;backup'= {
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'gatepass;redeem'= {
            cand --server 'The daemon''s redeem listener, https://HOST:PORT [env: GATEPASS_SERVER]'
            cand --ca-pin 'The daemon''s CA pin, sha256:HEX (printed by gatepassd, `tokens create` and the console)'
            cand --token-file 'Read the token from this file (surrounding whitespace is ignored; - reads standard input)'
            cand --out 'Write ca.pem, cert.pem, key.pem and host-id here [default: /etc/gatepass for root, ./gatepass otherwise]'
            cand --hostname 'The host name to enroll as [default: the machine''s host name]'
            cand --token 'Never used: a token on the command line is refused (see --token-file)'
            cand --force 'Enroll again even though --out already holds an enrollment (replaced only on success)'
            cand --insecure-skip-pin 'Do not check the server''s CA: anyone on the network path could take the token'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'gatepass;completions'= {
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'gatepass;man'= {
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'gatepass;help'= {
            cand tokens 'Enrollment tokens'
            cand hosts 'Hosts enrolled with tokens'
            cand audit 'The audit log: who did what, and every redemption attempt'
            cand tenants 'The tenants open to you'
            cand apitokens 'Personal API tokens (gpa_…) for the HTTPS admin listener'
            cand doctor 'Checks the daemon, your identity and role, the TLS pin, the clipboard path and the config'
            cand backup 'Admins: writes a consistent snapshot of the running daemon''s store to FILE (new, 0600), for `gatepassd restore FILE --data-dir DIR`. Keep hmac.key, ca.pem and ca.key with it'
            cand redeem 'Enroll this host: redeem an enrollment token against the daemon''s redeem listener (--server https://HOST:PORT) and write ca.pem, cert.pem, key.pem and host-id'
            cand completions 'Prints a shell completion script (also in assets/completions/ of the source)'
            cand man 'Prints the man page, roff (also in assets/man/ of the source): `gatepass man | man -l -`'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'gatepass;help;tokens'= {
            cand list 'List tokens (never their secrets)'
            cand create 'Mint a token. Prints the token alone on stdout, everything else on stderr'
            cand show 'Show one token'
            cand disable 'Disable tokens (reversible with enable)'
            cand enable 'Enable disabled tokens'
            cand revoke 'Revoke tokens for good; enrolled hosts keep their enrollment'
            cand delete 'Delete tokens: they leave lists, their audit trails stay'
            cand extend 'Give a token a new expiry (audited as updated)'
            cand clone 'Mint a token with another''s settings and a new secret: --name NEW, and any create flag to change one (labels are added to the source''s)'
            cand purge 'Delete expired, revoked and used-up tokens'
        }
        &'gatepass;help;tokens;list'= {
        }
        &'gatepass;help;tokens;create'= {
        }
        &'gatepass;help;tokens;show'= {
        }
        &'gatepass;help;tokens;disable'= {
        }
        &'gatepass;help;tokens;enable'= {
        }
        &'gatepass;help;tokens;revoke'= {
        }
        &'gatepass;help;tokens;delete'= {
        }
        &'gatepass;help;tokens;extend'= {
        }
        &'gatepass;help;tokens;clone'= {
        }
        &'gatepass;help;tokens;purge'= {
        }
        &'gatepass;help;hosts'= {
            cand list 'List enrolled hosts'
            cand remove 'Remove a host from the records (audited). Its token''s use count stays as it was'
        }
        &'gatepass;help;hosts;list'= {
        }
        &'gatepass;help;hosts;remove'= {
        }
        &'gatepass;help;audit'= {
            cand verify 'Check the audit log''s hash chain: reports OK or the first bad event'
        }
        &'gatepass;help;audit;verify'= {
        }
        &'gatepass;help;tenants'= {
            cand list 'The tenants you have a role in: name, your role there, and the tokens and hosts of it you see'
        }
        &'gatepass;help;tenants;list'= {
        }
        &'gatepass;help;apitokens'= {
            cand list 'Your API tokens (admins: everyone''s)'
            cand create 'Create an API token for yourself. Prints the token alone on stdout'
            cand delete 'Delete an API token (by id, or one of yours by name): it stops working at once'
        }
        &'gatepass;help;apitokens;list'= {
        }
        &'gatepass;help;apitokens;create'= {
        }
        &'gatepass;help;apitokens;delete'= {
        }
        &'gatepass;help;doctor'= {
        }
        &'gatepass;help;backup'= {
        }
        &'gatepass;help;redeem'= {
        }
        &'gatepass;help;completions'= {
        }
        &'gatepass;help;man'= {
        }
        &'gatepass;help;help'= {
        }
    ]
    $completions[$command]
}
