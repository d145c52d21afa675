
using namespace System.Management.Automation
using namespace System.Management.Automation.Language

Register-ArgumentCompleter -Native -CommandName 'gatepass' -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)

    $commandElements = $commandAst.CommandElements
    $command = @(
        'gatepass'
        for ($i = 1; $i -lt $commandElements.Count; $i++) {
            $element = $commandElements[$i]
            if ($element -isnot [StringConstantExpressionAst] -or
                $element.StringConstantType -ne [StringConstantType]::BareWord -or
                $element.Value.StartsWith('-') -or
                $element.Value -eq $wordToComplete) {
                break
        }
        $element.Value
    }) -join ';'

    $completions = @(switch ($command) {
        'gatepass' {
            [CompletionResult]::new('--socket', '--socket', [CompletionResultType]::ParameterName, 'The daemon''s Unix socket [env: GATEPASS_SOCKET]')
            [CompletionResult]::new('--server', '--server', [CompletionResultType]::ParameterName, 'The daemon over HTTPS: its admin listener for commands (with an API token from GATEPASS_API_TOKEN or a prompt); for `redeem`, its redeem listener [env: GATEPASS_SERVER]')
            [CompletionResult]::new('--ca-pin', '--ca-pin', [CompletionResultType]::ParameterName, 'The CA pin of the --server (sha256:HEX, printed by gatepassd and `gatepass doctor`)')
            [CompletionResult]::new('--clipboard', '--clipboard', [CompletionResultType]::ParameterName, 'Console: how `c` copies a revealed token')
            [CompletionResult]::new('--readonly', '--readonly', [CompletionResultType]::ParameterName, 'Console: look, never change anything (auditors are always read-only)')
            [CompletionResult]::new('--mouse', '--mouse', [CompletionResultType]::ParameterName, 'Console: capture the mouse (wheel scrolls, click selects); off by default so text, such as a revealed token, stays selectable')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('tokens', 'tokens', [CompletionResultType]::ParameterValue, 'Enrollment tokens')
            [CompletionResult]::new('hosts', 'hosts', [CompletionResultType]::ParameterValue, 'Hosts enrolled with tokens')
            [CompletionResult]::new('audit', 'audit', [CompletionResultType]::ParameterValue, 'The audit log: who did what, and every redemption attempt')
            [CompletionResult]::new('tenants', 'tenants', [CompletionResultType]::ParameterValue, 'The tenants open to you')
            [CompletionResult]::new('apitokens', 'apitokens', [CompletionResultType]::ParameterValue, 'Personal API tokens (gpa_…) for the HTTPS admin listener')
            [CompletionResult]::new('doctor', 'doctor', [CompletionResultType]::ParameterValue, 'Checks the daemon, your identity and role, the TLS pin, the clipboard path and the config')
            [CompletionResult]::new('backup', 'backup', [CompletionResultType]::ParameterValue, 'Admins: writes a consistent snapshot of the running daemon''s store to FILE (new, 0600), for `gatepassd restore FILE --data-dir DIR`. Keep hmac.key, ca.pem and ca.key with it')
            [CompletionResult]::new('redeem', 'redeem', [CompletionResultType]::ParameterValue, 'Enroll this host: redeem an enrollment token against the daemon''s redeem listener (--server https://HOST:PORT) and write ca.pem, cert.pem, key.pem and host-id')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Prints a shell completion script (also in assets/completions/ of the source)')
            [CompletionResult]::new('man', 'man', [CompletionResultType]::ParameterValue, 'Prints the man page, roff (also in assets/man/ of the source): `gatepass man | man -l -`')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'gatepass;tokens' {
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List tokens (never their secrets)')
            [CompletionResult]::new('create', 'create', [CompletionResultType]::ParameterValue, 'Mint a token. Prints the token alone on stdout, everything else on stderr')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show one token')
            [CompletionResult]::new('disable', 'disable', [CompletionResultType]::ParameterValue, 'Disable tokens (reversible with enable)')
            [CompletionResult]::new('enable', 'enable', [CompletionResultType]::ParameterValue, 'Enable disabled tokens')
            [CompletionResult]::new('revoke', 'revoke', [CompletionResultType]::ParameterValue, 'Revoke tokens for good; enrolled hosts keep their enrollment')
            [CompletionResult]::new('delete', 'delete', [CompletionResultType]::ParameterValue, 'Delete tokens: they leave lists, their audit trails stay')
            [CompletionResult]::new('extend', 'extend', [CompletionResultType]::ParameterValue, 'Give a token a new expiry (audited as updated)')
            [CompletionResult]::new('clone', 'clone', [CompletionResultType]::ParameterValue, 'Mint a token with another''s settings and a new secret: --name NEW, and any create flag to change one (labels are added to the source''s)')
            [CompletionResult]::new('purge', 'purge', [CompletionResultType]::ParameterValue, 'Delete expired, revoked and used-up tokens')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'gatepass;tokens;list' {
            [CompletionResult]::new('--status', '--status', [CompletionResultType]::ParameterName, 'Only tokens with this status')
            [CompletionResult]::new('--group', '--group', [CompletionResultType]::ParameterName, 'Only tokens whose hosts join this group')
            [CompletionResult]::new('--sort', '--sort', [CompletionResultType]::ParameterName, 'The column to sort by [default: name]')
            [CompletionResult]::new('--tenant', '--tenant', [CompletionResultType]::ParameterName, 'Only the tokens of this tenant')
            [CompletionResult]::new('--desc', '--desc', [CompletionResultType]::ParameterName, 'Sort in descending order')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print JSON')
            [CompletionResult]::new('--csv', '--csv', [CompletionResultType]::ParameterName, 'Print CSV')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'gatepass;tokens;create' {
            [CompletionResult]::new('--name', '--name', [CompletionResultType]::ParameterName, 'Unique name, 1–64 characters')
            [CompletionResult]::new('--ttl', '--ttl', [CompletionResultType]::ParameterName, 'Lifetime: 15m, 1h, 1d, 3d, 14d, 90d… (default: the daemon''s, 3d unless configured)')
            [CompletionResult]::new('--expires', '--expires', [CompletionResultType]::ParameterName, 'Expiry as an RFC 3339 date and time, e.g. 2030-01-31T18:00:00Z')
            [CompletionResult]::new('--uses', '--uses', [CompletionResultType]::ParameterName, 'How many hosts may use it: 1 (default), a number, or unlimited')
            [CompletionResult]::new('--group', '--group', [CompletionResultType]::ParameterName, 'Group the enrolled hosts join')
            [CompletionResult]::new('--label', '--label', [CompletionResultType]::ParameterName, 'Label handed to enrolled hosts, key=value (repeatable)')
            [CompletionResult]::new('--description', '--description', [CompletionResultType]::ParameterName, 'What it is for (up to 512 characters)')
            [CompletionResult]::new('--owner', '--owner', [CompletionResultType]::ParameterName, 'Owner of the enrolled hosts (admins only; default: you): a member of the tenant')
            [CompletionResult]::new('--tenant', '--tenant', [CompletionResultType]::ParameterName, 'The tenant to mint in: needed when more than one is open to you (`tenants list`)')
            [CompletionResult]::new('--allow-cidr', '--allow-cidr', [CompletionResultType]::ParameterName, 'Only hosts from this address or CIDR may redeem it (repeatable)')
            [CompletionResult]::new('--not-before', '--not-before', [CompletionResultType]::ParameterName, 'Not valid before this RFC 3339 time')
            [CompletionResult]::new('--no-expiry', '--no-expiry', [CompletionResultType]::ParameterName, 'Never expires (if the daemon allows it)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print {"token": {…}, "secret": "gpt_…"}')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'gatepass;tokens;show' {
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print the token as JSON')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'gatepass;tokens;disable' {
            [CompletionResult]::new('--status', '--status', [CompletionResultType]::ParameterName, 'Also every token with this status (with --group: both must match)')
            [CompletionResult]::new('--group', '--group', [CompletionResultType]::ParameterName, 'Also every token whose hosts join this group (with --status: both must match)')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'Only list the tokens it would act on')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print each token (or each result) as JSON')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'gatepass;tokens;enable' {
            [CompletionResult]::new('--status', '--status', [CompletionResultType]::ParameterName, 'Also every token with this status (with --group: both must match)')
            [CompletionResult]::new('--group', '--group', [CompletionResultType]::ParameterName, 'Also every token whose hosts join this group (with --status: both must match)')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'Only list the tokens it would act on')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print each token (or each result) as JSON')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'gatepass;tokens;revoke' {
            [CompletionResult]::new('--status', '--status', [CompletionResultType]::ParameterName, 'Also every token with this status (with --group: both must match)')
            [CompletionResult]::new('--group', '--group', [CompletionResultType]::ParameterName, 'Also every token whose hosts join this group (with --status: both must match)')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'Only list the tokens it would act on')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print each token (or each result) as JSON')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'gatepass;tokens;delete' {
            [CompletionResult]::new('--status', '--status', [CompletionResultType]::ParameterName, 'Also every token with this status (with --group: both must match)')
            [CompletionResult]::new('--group', '--group', [CompletionResultType]::ParameterName, 'Also every token whose hosts join this group (with --status: both must match)')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'Only list the tokens it would act on')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print each token (or each result) as JSON')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Do not ask for confirmation')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'gatepass;tokens;extend' {
            [CompletionResult]::new('--ttl', '--ttl', [CompletionResultType]::ParameterName, 'Lifetime from now: 15m, 1h, 1d, 7d…')
            [CompletionResult]::new('--expires', '--expires', [CompletionResultType]::ParameterName, 'Expiry as an RFC 3339 date and time, e.g. 2030-01-31T18:00:00Z')
            [CompletionResult]::new('--no-expiry', '--no-expiry', [CompletionResultType]::ParameterName, 'Never expires (if the daemon allows it)')
            [CompletionResult]::new('--shorten', '--shorten', [CompletionResultType]::ParameterName, 'Allow a new expiry earlier than the current one (without it, a shorter lifetime is refused: extending never cuts a token''s life short by surprise)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print the token as JSON')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'gatepass;tokens;clone' {
            [CompletionResult]::new('--name', '--name', [CompletionResultType]::ParameterName, 'Unique name, 1–64 characters')
            [CompletionResult]::new('--ttl', '--ttl', [CompletionResultType]::ParameterName, 'Lifetime: 15m, 1h, 1d, 3d, 14d, 90d… (default: the daemon''s, 3d unless configured)')
            [CompletionResult]::new('--expires', '--expires', [CompletionResultType]::ParameterName, 'Expiry as an RFC 3339 date and time, e.g. 2030-01-31T18:00:00Z')
            [CompletionResult]::new('--uses', '--uses', [CompletionResultType]::ParameterName, 'How many hosts may use it: 1 (default), a number, or unlimited')
            [CompletionResult]::new('--group', '--group', [CompletionResultType]::ParameterName, 'Group the enrolled hosts join')
            [CompletionResult]::new('--label', '--label', [CompletionResultType]::ParameterName, 'Label handed to enrolled hosts, key=value (repeatable)')
            [CompletionResult]::new('--description', '--description', [CompletionResultType]::ParameterName, 'What it is for (up to 512 characters)')
            [CompletionResult]::new('--owner', '--owner', [CompletionResultType]::ParameterName, 'Owner of the enrolled hosts (admins only; default: you): a member of the tenant')
            [CompletionResult]::new('--tenant', '--tenant', [CompletionResultType]::ParameterName, 'The tenant to mint in: needed when more than one is open to you (`tenants list`)')
            [CompletionResult]::new('--allow-cidr', '--allow-cidr', [CompletionResultType]::ParameterName, 'Only hosts from this address or CIDR may redeem it (repeatable)')
            [CompletionResult]::new('--not-before', '--not-before', [CompletionResultType]::ParameterName, 'Not valid before this RFC 3339 time')
            [CompletionResult]::new('--no-expiry', '--no-expiry', [CompletionResultType]::ParameterName, 'Never expires (if the daemon allows it)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print {"token": {…}, "secret": "gpt_…"}')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'gatepass;tokens;purge' {
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'Only list what would be deleted')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Do not ask for confirmation')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'gatepass;tokens;help' {
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List tokens (never their secrets)')
            [CompletionResult]::new('create', 'create', [CompletionResultType]::ParameterValue, 'Mint a token. Prints the token alone on stdout, everything else on stderr')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show one token')
            [CompletionResult]::new('disable', 'disable', [CompletionResultType]::ParameterValue, 'Disable tokens (reversible with enable)')
            [CompletionResult]::new('enable', 'enable', [CompletionResultType]::ParameterValue, 'Enable disabled tokens')
            [CompletionResult]::new('revoke', 'revoke', [CompletionResultType]::ParameterValue, 'Revoke tokens for good; enrolled hosts keep their enrollment')
            [CompletionResult]::new('delete', 'delete', [CompletionResultType]::ParameterValue, 'Delete tokens: they leave lists, their audit trails stay')
            [CompletionResult]::new('extend', 'extend', [CompletionResultType]::ParameterValue, 'Give a token a new expiry (audited as updated)')
            [CompletionResult]::new('clone', 'clone', [CompletionResultType]::ParameterValue, 'Mint a token with another''s settings and a new secret: --name NEW, and any create flag to change one (labels are added to the source''s)')
            [CompletionResult]::new('purge', 'purge', [CompletionResultType]::ParameterValue, 'Delete expired, revoked and used-up tokens')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'gatepass;tokens;help;list' {
            break
        }
        'gatepass;tokens;help;create' {
            break
        }
        'gatepass;tokens;help;show' {
            break
        }
        'gatepass;tokens;help;disable' {
            break
        }
        'gatepass;tokens;help;enable' {
            break
        }
        'gatepass;tokens;help;revoke' {
            break
        }
        'gatepass;tokens;help;delete' {
            break
        }
        'gatepass;tokens;help;extend' {
            break
        }
        'gatepass;tokens;help;clone' {
            break
        }
        'gatepass;tokens;help;purge' {
            break
        }
        'gatepass;tokens;help;help' {
            break
        }
        'gatepass;hosts' {
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List enrolled hosts')
            [CompletionResult]::new('remove', 'remove', [CompletionResultType]::ParameterValue, 'Remove a host from the records (audited). Its token''s use count stays as it was')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'gatepass;hosts;list' {
            [CompletionResult]::new('--token', '--token', [CompletionResultType]::ParameterName, 'Only hosts enrolled with this token (name or id)')
            [CompletionResult]::new('--tenant', '--tenant', [CompletionResultType]::ParameterName, 'Only the hosts of this tenant')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print JSON')
            [CompletionResult]::new('--csv', '--csv', [CompletionResultType]::ParameterName, 'Print CSV')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'gatepass;hosts;remove' {
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print the removed host as JSON')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'gatepass;hosts;help' {
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List enrolled hosts')
            [CompletionResult]::new('remove', 'remove', [CompletionResultType]::ParameterValue, 'Remove a host from the records (audited). Its token''s use count stays as it was')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'gatepass;hosts;help;list' {
            break
        }
        'gatepass;hosts;help;remove' {
            break
        }
        'gatepass;hosts;help;help' {
            break
        }
        'gatepass;audit' {
            [CompletionResult]::new('--since', '--since', [CompletionResultType]::ParameterName, 'Only events newer than this (e.g. 24h, 7d) or since an RFC 3339 time')
            [CompletionResult]::new('--token', '--token', [CompletionResultType]::ParameterName, 'Only events about this token (name or id; deleted tokens by id)')
            [CompletionResult]::new('--actor', '--actor', [CompletionResultType]::ParameterName, 'Only events by this actor (a user name, or host:NAME@ADDRESS)')
            [CompletionResult]::new('--limit', '--limit', [CompletionResultType]::ParameterName, 'At most this many events (the newest; at least 1)')
            [CompletionResult]::new('--before', '--before', [CompletionResultType]::ParameterName, 'Only events older than this sequence number: the `seq` of the oldest event of the previous page (a cursor, with --limit, to page back through the log)')
            [CompletionResult]::new('--tenant', '--tenant', [CompletionResultType]::ParameterName, 'Only the events of this tenant')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print the events as JSON')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('verify', 'verify', [CompletionResultType]::ParameterValue, 'Check the audit log''s hash chain: reports OK or the first bad event')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'gatepass;audit;verify' {
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print the result as JSON')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'gatepass;audit;help' {
            [CompletionResult]::new('verify', 'verify', [CompletionResultType]::ParameterValue, 'Check the audit log''s hash chain: reports OK or the first bad event')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'gatepass;audit;help;verify' {
            break
        }
        'gatepass;audit;help;help' {
            break
        }
        'gatepass;tenants' {
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'The tenants you have a role in: name, your role there, and the tokens and hosts of it you see')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'gatepass;tenants;list' {
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print JSON (admins also get each tenant''s members)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'gatepass;tenants;help' {
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'The tenants you have a role in: name, your role there, and the tokens and hosts of it you see')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'gatepass;tenants;help;list' {
            break
        }
        'gatepass;tenants;help;help' {
            break
        }
        'gatepass;apitokens' {
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'Your API tokens (admins: everyone''s)')
            [CompletionResult]::new('create', 'create', [CompletionResultType]::ParameterValue, 'Create an API token for yourself. Prints the token alone on stdout')
            [CompletionResult]::new('delete', 'delete', [CompletionResultType]::ParameterValue, 'Delete an API token (by id, or one of yours by name): it stops working at once')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'gatepass;apitokens;list' {
            [CompletionResult]::new('--tenant', '--tenant', [CompletionResultType]::ParameterName, 'Only the API tokens of this tenant')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print JSON')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'gatepass;apitokens;create' {
            [CompletionResult]::new('--name', '--name', [CompletionResultType]::ParameterName, 'Its name, unique among yours (1–64 characters)')
            [CompletionResult]::new('--ttl', '--ttl', [CompletionResultType]::ParameterName, 'Lifetime (default 14d, at least 1d)')
            [CompletionResult]::new('--expires', '--expires', [CompletionResultType]::ParameterName, 'Expiry as an RFC 3339 date and time')
            [CompletionResult]::new('--path-prefix', '--path-prefix', [CompletionResultType]::ParameterName, 'Valid only for request paths under this prefix, e.g. /v1/tokens')
            [CompletionResult]::new('--referrer', '--referrer', [CompletionResultType]::ParameterName, 'Valid only when the Referer''s host ends with this value')
            [CompletionResult]::new('--remark', '--remark', [CompletionResultType]::ParameterName, 'A note for yourself: what uses it (up to 512 characters)')
            [CompletionResult]::new('--scope', '--scope', [CompletionResultType]::ParameterName, 'What it may do: read (GET only), mint (read, and create tokens) or manage (all your role allows; the default)')
            [CompletionResult]::new('--tenant', '--tenant', [CompletionResultType]::ParameterName, 'The one tenant it acts in: needed when you hold the REST API role in several')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print {"api_token": {…}, "secret": "gpa_…"}')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'gatepass;apitokens;delete' {
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'gatepass;apitokens;help' {
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'Your API tokens (admins: everyone''s)')
            [CompletionResult]::new('create', 'create', [CompletionResultType]::ParameterValue, 'Create an API token for yourself. Prints the token alone on stdout')
            [CompletionResult]::new('delete', 'delete', [CompletionResultType]::ParameterValue, 'Delete an API token (by id, or one of yours by name): it stops working at once')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'gatepass;apitokens;help;list' {
            break
        }
        'gatepass;apitokens;help;create' {
            break
        }
        'gatepass;apitokens;help;delete' {
            break
        }
        'gatepass;apitokens;help;help' {
            break
        }
        'gatepass;doctor' {
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'gatepass;backup' {
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'gatepass;redeem' {
            [CompletionResult]::new('--server', '--server', [CompletionResultType]::ParameterName, 'The daemon''s redeem listener, https://HOST:PORT [env: GATEPASS_SERVER]')
            [CompletionResult]::new('--ca-pin', '--ca-pin', [CompletionResultType]::ParameterName, 'The daemon''s CA pin, sha256:HEX (printed by gatepassd, `tokens create` and the console)')
            [CompletionResult]::new('--token-file', '--token-file', [CompletionResultType]::ParameterName, 'Read the token from this file (surrounding whitespace is ignored; - reads standard input)')
            [CompletionResult]::new('--out', '--out', [CompletionResultType]::ParameterName, 'Write ca.pem, cert.pem, key.pem and host-id here [default: /etc/gatepass for root, ./gatepass otherwise]')
            [CompletionResult]::new('--hostname', '--hostname', [CompletionResultType]::ParameterName, 'The host name to enroll as [default: the machine''s host name]')
            [CompletionResult]::new('--token', '--token', [CompletionResultType]::ParameterName, 'Never used: a token on the command line is refused (see --token-file)')
            [CompletionResult]::new('--force', '--force', [CompletionResultType]::ParameterName, 'Enroll again even though --out already holds an enrollment (replaced only on success)')
            [CompletionResult]::new('--insecure-skip-pin', '--insecure-skip-pin', [CompletionResultType]::ParameterName, 'Do not check the server''s CA: anyone on the network path could take the token')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'gatepass;completions' {
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'gatepass;man' {
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'gatepass;help' {
            [CompletionResult]::new('tokens', 'tokens', [CompletionResultType]::ParameterValue, 'Enrollment tokens')
            [CompletionResult]::new('hosts', 'hosts', [CompletionResultType]::ParameterValue, 'Hosts enrolled with tokens')
            [CompletionResult]::new('audit', 'audit', [CompletionResultType]::ParameterValue, 'The audit log: who did what, and every redemption attempt')
            [CompletionResult]::new('tenants', 'tenants', [CompletionResultType]::ParameterValue, 'The tenants open to you')
            [CompletionResult]::new('apitokens', 'apitokens', [CompletionResultType]::ParameterValue, 'Personal API tokens (gpa_…) for the HTTPS admin listener')
            [CompletionResult]::new('doctor', 'doctor', [CompletionResultType]::ParameterValue, 'Checks the daemon, your identity and role, the TLS pin, the clipboard path and the config')
            [CompletionResult]::new('backup', 'backup', [CompletionResultType]::ParameterValue, 'Admins: writes a consistent snapshot of the running daemon''s store to FILE (new, 0600), for `gatepassd restore FILE --data-dir DIR`. Keep hmac.key, ca.pem and ca.key with it')
            [CompletionResult]::new('redeem', 'redeem', [CompletionResultType]::ParameterValue, 'Enroll this host: redeem an enrollment token against the daemon''s redeem listener (--server https://HOST:PORT) and write ca.pem, cert.pem, key.pem and host-id')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Prints a shell completion script (also in assets/completions/ of the source)')
            [CompletionResult]::new('man', 'man', [CompletionResultType]::ParameterValue, 'Prints the man page, roff (also in assets/man/ of the source): `gatepass man | man -l -`')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'gatepass;help;tokens' {
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List tokens (never their secrets)')
            [CompletionResult]::new('create', 'create', [CompletionResultType]::ParameterValue, 'Mint a token. Prints the token alone on stdout, everything else on stderr')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show one token')
            [CompletionResult]::new('disable', 'disable', [CompletionResultType]::ParameterValue, 'Disable tokens (reversible with enable)')
            [CompletionResult]::new('enable', 'enable', [CompletionResultType]::ParameterValue, 'Enable disabled tokens')
            [CompletionResult]::new('revoke', 'revoke', [CompletionResultType]::ParameterValue, 'Revoke tokens for good; enrolled hosts keep their enrollment')
            [CompletionResult]::new('delete', 'delete', [CompletionResultType]::ParameterValue, 'Delete tokens: they leave lists, their audit trails stay')
            [CompletionResult]::new('extend', 'extend', [CompletionResultType]::ParameterValue, 'Give a token a new expiry (audited as updated)')
            [CompletionResult]::new('clone', 'clone', [CompletionResultType]::ParameterValue, 'Mint a token with another''s settings and a new secret: --name NEW, and any create flag to change one (labels are added to the source''s)')
            [CompletionResult]::new('purge', 'purge', [CompletionResultType]::ParameterValue, 'Delete expired, revoked and used-up tokens')
            break
        }
        'gatepass;help;tokens;list' {
            break
        }
        'gatepass;help;tokens;create' {
            break
        }
        'gatepass;help;tokens;show' {
            break
        }
        'gatepass;help;tokens;disable' {
            break
        }
        'gatepass;help;tokens;enable' {
            break
        }
        'gatepass;help;tokens;revoke' {
            break
        }
        'gatepass;help;tokens;delete' {
            break
        }
        'gatepass;help;tokens;extend' {
            break
        }
        'gatepass;help;tokens;clone' {
            break
        }
        'gatepass;help;tokens;purge' {
            break
        }
        'gatepass;help;hosts' {
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List enrolled hosts')
            [CompletionResult]::new('remove', 'remove', [CompletionResultType]::ParameterValue, 'Remove a host from the records (audited). Its token''s use count stays as it was')
            break
        }
        'gatepass;help;hosts;list' {
            break
        }
        'gatepass;help;hosts;remove' {
            break
        }
        'gatepass;help;audit' {
            [CompletionResult]::new('verify', 'verify', [CompletionResultType]::ParameterValue, 'Check the audit log''s hash chain: reports OK or the first bad event')
            break
        }
        'gatepass;help;audit;verify' {
            break
        }
        'gatepass;help;tenants' {
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'The tenants you have a role in: name, your role there, and the tokens and hosts of it you see')
            break
        }
        'gatepass;help;tenants;list' {
            break
        }
        'gatepass;help;apitokens' {
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'Your API tokens (admins: everyone''s)')
            [CompletionResult]::new('create', 'create', [CompletionResultType]::ParameterValue, 'Create an API token for yourself. Prints the token alone on stdout')
            [CompletionResult]::new('delete', 'delete', [CompletionResultType]::ParameterValue, 'Delete an API token (by id, or one of yours by name): it stops working at once')
            break
        }
        'gatepass;help;apitokens;list' {
            break
        }
        'gatepass;help;apitokens;create' {
            break
        }
        'gatepass;help;apitokens;delete' {
            break
        }
        'gatepass;help;doctor' {
            break
        }
        'gatepass;help;backup' {
            break
        }
        'gatepass;help;redeem' {
            break
        }
        'gatepass;help;completions' {
            break
        }
        'gatepass;help;man' {
            break
        }
        'gatepass;help;help' {
            break
        }
    })

    $completions.Where{ $_.CompletionText -like "$wordToComplete*" } |
        Sort-Object -Property ListItemText
}
