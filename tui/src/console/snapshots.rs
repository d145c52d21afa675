//! Screens on ratatui's `TestBackend`, snapshot-tested with insta at 80×24 and 120×40: the
//! empty list, a full list sorted each way, the create form with the date picker open, a
//! validation error, the reveal, each confirmation, detail, help, hosts, audit, the too-small
//! notice and NO_COLOR. The screens are reached through `update` with real key presses.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::style::{Color, Modifier};

use super::app::{App, Msg, update};
use super::fixtures::*;
use super::theme::Theme;

const SIZES: [(u16, u16); 3] = [(80, 24), (120, 40), (60, 15)];

/// Snapshots the screen at every size: 80×24, 120×40 and the 60×15 floor.
fn snap(name: &str, app: &mut App) {
    for (w, h) in SIZES {
        insta::assert_snapshot!(format!("{name}_{w}x{h}"), screen(app, w, h));
    }
}

#[test]
fn empty_list() {
    let mut a = app();
    update(&mut a, Msg::Tokens(Vec::new()));
    let s = screen(&mut a, 80, 24);
    assert!(s.contains("No tokens yet. Press n to mint one."), "{s}");
    let footer = s.lines().nth(23).unwrap_or_default();
    assert!(
        footer.contains("n new") && !footer.contains("revoke"),
        "{footer}"
    );
    snap("empty", &mut a);
}

#[test]
fn full_list_sorted_each_way() {
    let mut a = app();
    snap("list_by_name_asc", &mut a);
    // s opens the chooser on the current column; Enter on it flips the direction.
    ch(&mut a, 's');
    key(&mut a, KeyCode::Enter);
    let s = screen(&mut a, 80, 24);
    assert!(s.contains("NAME ▼"), "{s}");
    let web = s.find("web-rollout").unwrap();
    let cache = s.find("cache-nodes").unwrap();
    assert!(web < cache, "descending by name:\n{s}");
    snap("list_by_name_desc", &mut a);
    // Another column: USES, ascending.
    ch(&mut a, 's');
    key(&mut a, KeyCode::Down);
    key(&mut a, KeyCode::Down);
    key(&mut a, KeyCode::Enter);
    let s = screen(&mut a, 120, 40);
    assert!(s.contains("USES ▲"), "{s}");
    snap("list_by_uses_asc", &mut a);
}

#[test]
fn create_form_with_the_date_picker_open() {
    let mut a = app();
    ch(&mut a, 'n');
    typed(&mut a, "web-rollout-2");
    // Down to Expires, then → to "pick a date", then into the calendar.
    while a.ctx() != super::keymap::Ctx::Form
        || !matches!(&a.modal, Some(super::app::Modal::Form(f)) if f.focus == super::form::Field::Expiry)
    {
        key(&mut a, KeyCode::Tab);
    }
    while !matches!(&a.modal, Some(super::app::Modal::Form(f)) if f.expiry == super::form::ExpiryChoice::PickDate)
    {
        key(&mut a, KeyCode::Right);
    }
    key(&mut a, KeyCode::Tab);
    assert_eq!(a.ctx(), super::keymap::Ctx::Calendar);
    key(&mut a, KeyCode::Right);
    key(&mut a, KeyCode::Down);
    key(&mut a, KeyCode::PageDown);
    let s = screen(&mut a, 80, 24);
    // Tomorrow (the initial day) + 1 day + 7 days + one month.
    assert!(s.contains("2027-01-04"), "{s}");
    assert!(s.contains("Mo Tu We Th Fr Sa Su"), "{s}");
    assert!(s.contains("UTC"), "the expiry shows its zone:\n{s}");
    snap("form_date_picker", &mut a);
}

#[test]
fn create_form_validation_error() {
    let mut a = app();
    ch(&mut a, 'n');
    key(&mut a, KeyCode::Tab);
    key(&mut a, KeyCode::Tab);
    key(&mut a, KeyCode::Tab);
    typed(&mut a, "not-a-pair");
    ctrl(&mut a, 's');
    let s = screen(&mut a, 80, 24);
    assert!(s.contains("a name is required"), "{s}");
    assert!(s.contains("is not key=value"), "{s}");
    snap("form_validation", &mut a);
}

/// The screen's text without its spaces, borders and line breaks: a sentence wrapped over
/// several rows is found whole in it.
fn squeezed(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_whitespace() && *c != '│')
        .collect()
}

/// Whether an error beside a field is cut ("✗ a name is req…").
fn cut_beside(s: &str) -> bool {
    s.lines().any(|l| l.contains('✗') && l.contains('…'))
}

/// Issue 17: at 60 columns the Name and Labels errors were cut beside their fields ("✗ a name
/// is req…"); each shows whole under the fields, wrapped, and the field points there.
#[test]
fn create_form_errors_show_whole_at_60_columns() {
    // A Name error, focused.
    let mut a = app();
    ch(&mut a, 'n');
    typed(&mut a, "web ");
    let s = screen(&mut a, 60, 15);
    assert!(
        squeezed(&s).contains(&squeezed("Name: starts or ends with a space")),
        "{s}"
    );
    assert!(s.contains("✗ see below") && !cut_beside(&s), "{s}");
    snap("form_name_error", &mut a);

    // A Labels error, with the focus on another field, and the name's error too.
    let mut a = app();
    ch(&mut a, 'n');
    key(&mut a, KeyCode::Tab);
    key(&mut a, KeyCode::Tab);
    key(&mut a, KeyCode::Tab);
    typed(&mut a, "plan=gold,ke!y=x");
    ctrl(&mut a, 's');
    key(&mut a, KeyCode::Tab);
    key(&mut a, KeyCode::Tab);
    key(&mut a, KeyCode::Tab);
    key(&mut a, KeyCode::Tab);
    let s = screen(&mut a, 60, 15);
    for said in [
        "Name: a name is required",
        "Labels: label key \"ke!y\": letters, digits, . _ / - only",
    ] {
        assert!(squeezed(&s).contains(&squeezed(said)), "{said}:\n{s}");
    }
    assert!(!cut_beside(&s), "{s}");
    snap("form_labels_error", &mut a);
}

#[test]
fn the_reveal() {
    let mut a = revealed();
    let s = screen(&mut a, 80, 24);
    assert!(s.contains(FAKE_SECRET), "{s}");
    assert!(s.contains("only time the token is shown"), "{s}");
    snap("reveal", &mut a);
    // Stray keys do not close it; Enter does, and the token is gone from the screen.
    ch(&mut a, 'q');
    key(&mut a, KeyCode::Down);
    assert!(screen(&mut a, 80, 24).contains(FAKE_SECRET));
    key(&mut a, KeyCode::Enter);
    let s = screen(&mut a, 80, 24);
    assert!(!s.contains(FAKE_SECRET), "{s}");
    assert!(a.modal.is_none());
}

#[test]
fn each_confirmation() {
    let mut a = app();
    // cache-nodes (disabled) is first by name: revoke it.
    ch(&mut a, 'r');
    // The title names the action and the token, as the marked tokens' one does ("Revoke 3
    // tokens?"), whole at 60 columns; the first line, the id the dialog is bound to.
    for (w, h) in SIZES {
        let s = screen(&mut a, w, h);
        assert!(s.contains("┌ Revoke token \"cache-nodes\"? ─"), "{s}");
        assert!(s.contains("│\"cache-nodes\" · id cachexnodesx"), "{s}");
    }
    snap("confirm_revoke", &mut a);
    key(&mut a, KeyCode::Esc);
    // Deleting a token that is not active: y is enough.
    ch(&mut a, 'd');
    let s = screen(&mut a, 80, 24);
    assert!(
        s.contains("┌ Delete token \"cache-nodes\"? ─") && !s.contains("type its name"),
        "{s}"
    );
    snap("confirm_delete", &mut a);
    key(&mut a, KeyCode::Esc);
    // edge-soon is active: deleting it asks for its name.
    key(&mut a, KeyCode::Down);
    key(&mut a, KeyCode::Down);
    ch(&mut a, 'd');
    let s = screen(&mut a, 80, 24);
    assert!(s.contains("type its name"), "{s}");
    snap("confirm_delete_typed", &mut a);
    key(&mut a, KeyCode::Esc);
    // A host.
    key(&mut a, KeyCode::Tab);
    ch(&mut a, 'd');
    let s = screen(&mut a, 80, 24);
    assert!(s.contains("┌ Remove host \"web-01\"? ─"), "{s}");
    snap("confirm_remove_host", &mut a);
}

#[test]
fn detail_help_hosts_and_audit() {
    let mut a = app();
    key(&mut a, KeyCode::Enter);
    let id = match &a.modal {
        Some(super::app::Modal::Detail(d)) => d.id.clone(),
        other => panic!("no detail view: {other:?}"),
    };
    let tokens = token_list();
    let t = tokens.iter().find(|t| t.id == id).unwrap();
    update(
        &mut a,
        Msg::DetailLoaded {
            id: id.clone(),
            hosts: Ok(vec![host("cache-01", t, 4)]),
            audit: Ok(vec![event(1, "created", t), event(4, "disabled", t)]),
        },
    );
    snap("detail", &mut a);
    key(&mut a, KeyCode::Esc);
    ch(&mut a, '?');
    snap("help", &mut a);
    key(&mut a, KeyCode::Esc);
    key(&mut a, KeyCode::Tab);
    snap("hosts", &mut a);
    key(&mut a, KeyCode::Tab);
    snap("audit", &mut a);
}

#[test]
fn too_small() {
    let mut a = app();
    let s = screen(&mut a, 50, 12);
    assert!(s.contains("Terminal too small"), "{s}");
    insta::assert_snapshot!("too_small_50x12", s);
    // Growing again brings the list back, selection intact.
    assert!(screen(&mut a, 80, 24).contains("cache-nodes"));
}

#[test]
fn no_color_keeps_the_selection_visible() {
    let mut a = app();
    a.theme = Theme { color: false };
    key(&mut a, KeyCode::Down);
    let t = terminal(&mut a, 80, 24);
    let buf = t.backend().buffer();
    let mut selected_rows = Vec::new();
    for y in 0..24u16 {
        let mut reversed = true;
        for x in 0..80u16 {
            let c = &buf[(x, y)];
            assert!(
                c.fg == Color::Reset && c.bg == Color::Reset,
                "a colour at {x},{y} with NO_COLOR"
            );
            reversed &= c.modifier.contains(Modifier::REVERSED);
        }
        if reversed {
            selected_rows.push(y);
        }
    }
    // Exactly one whole row is in reverse video: the selected token (row 3 = second token).
    assert_eq!(selected_rows, [4]);
    snap("no_color", &mut a);
}

#[test]
fn the_footer_always_offers_help_and_quit() {
    let mut a = app();
    let s = screen(&mut a, 80, 24);
    let footer = s.lines().nth(23).unwrap_or_default();
    assert!(
        footer.contains("? help") && footer.contains("q quit"),
        "{footer}"
    );
    assert!(
        footer.contains('…'),
        "keys were left out without a sign: {footer}"
    );
    let wide = screen(&mut a, 120, 40);
    let footer = wide.lines().nth(39).unwrap_or_default();
    assert!(
        footer.contains("s sort") && footer.contains("f status"),
        "{footer}"
    );
}

#[test]
fn an_audit_row_opens_in_full() {
    let mut a = app();
    key(&mut a, KeyCode::Tab);
    key(&mut a, KeyCode::Tab);
    key(&mut a, KeyCode::Enter);
    let s = screen(&mut a, 80, 24);
    assert!(
        s.contains("Audit event 3") && s.contains("prev hash"),
        "{s}"
    );
    for _ in 0..50 {
        key(&mut a, KeyCode::Down);
    }
    // Scrolling stops at the end instead of running into empty space.
    assert!(screen(&mut a, 80, 24).contains("prev hash"));
    key(&mut a, KeyCode::Esc);
    assert!(a.modal.is_none());
}

#[test]
fn help_keeps_long_key_labels_and_wrapped_text_clear_of_each_other() {
    let mut a = app();
    ch(&mut a, '?');
    key(&mut a, KeyCode::End);
    let s = screen(&mut a, 120, 40);
    let lines: Vec<Vec<char>> = s.lines().map(|l| l.chars().collect()).collect();
    let find = |line: &[char], what: &str| {
        let w: Vec<char> = what.chars().collect();
        line.windows(w.len()).position(|x| x == w.as_slice())
    };
    let (row, col) = lines
        .iter()
        .enumerate()
        .find_map(|(i, l)| find(l, "type the name, Enter").map(|c| (i, c)))
        .unwrap_or_else(|| panic!("no typed-confirmation key in the help:\n{s}"));
    // The label is longer than the key column: its description starts on the next line, at
    // the description column, and nothing runs into the label.
    let after: String = lines[row][col + "type the name, Enter".len()..]
        .iter()
        .collect();
    assert_eq!(after.trim_end_matches('│').trim(), "", "{s}");
    let next = find(&lines[row + 1], "Type the token's name");
    assert_eq!(next, Some(col - 2 + 14), "{s}");
}

#[test]
fn a_long_connection_error_is_shortened_and_keeps_the_line_readable() {
    let mut a = app();
    let reason = format!(
        "cannot connect to {}/gatepassd.sock: No such file or directory (os error 2)",
        "/run/user/1000/a-rather-long-runtime-folder/gatepass".repeat(2)
    );
    update(&mut a, Msg::Lost(reason.clone()));
    for (w, h) in [(120, 40), (80, 24)] {
        let s = screen(&mut a, w, h);
        let info = s.lines().nth(1).unwrap_or_default();
        assert!(
            info.contains("daemon unreachable (c")
                && info.contains("…); retrying")
                && info.starts_with(" 6 tokens"),
            "{w}x{h}: {info:?}"
        );
        assert!(!info.contains(&reason), "{w}x{h}: {info:?}");
    }
    // A short reason is shown whole.
    update(&mut a, Msg::Lost("connection refused".into()));
    let s = screen(&mut a, 120, 40);
    assert!(
        s.lines()
            .nth(1)
            .is_some_and(|l| l.contains("daemon unreachable (connection refused); retrying")),
        "{s}"
    );
}

#[test]
fn a_cell_longer_than_its_column_ends_in_an_ellipsis_and_keeps_the_columns_aligned() {
    let mut a = app();
    let mut list = token_list();
    list.push(super::fixtures::token(
        "a-rather-long-token-name-for-the-web-tier",
        0,
    ));
    // Wide characters: two columns each, so the cut counts columns, not characters.
    list.push(super::fixtures::token(
        "東京データセンター本番環境クラスタ",
        0,
    ));
    update(&mut a, Msg::Tokens(list));
    for (w, h) in [(80u16, 24u16), (120, 40)] {
        let t = terminal(&mut a, w, h);
        let buf = t.backend().buffer();
        // NAME is as wide as the layout gives it: STATUS starts one column after it.
        let head: Vec<&str> = (0..w).map(|x| buf[(x, 2)].symbol()).collect();
        let at = (0..head.len() - 6)
            .find(|&x| head[x..x + 6].concat() == "STATUS")
            .unwrap();
        let name_w = u16::try_from(at - 1).unwrap();
        assert!(name_w >= 20, "{head:?}");
        let row = |start: &str| {
            (0..h)
                .find(|&y| buf[(0, y)].symbol() == start)
                .unwrap_or_else(|| panic!("no row starting {start:?} at {w}x{h}"))
        };
        for y in [row("a"), row("東")] {
            let name: String = (0..name_w).map(|x| buf[(x, y)].symbol()).collect();
            assert!(name.trim_end().ends_with('…'), "{w}x{h}: {name:?}");
            // The status column starts where it does on every other row.
            let status: String = (name_w + 1..name_w + 7)
                .map(|x| buf[(x, y)].symbol())
                .collect();
            assert_eq!(status, "active", "{w}x{h}: row {y}");
        }
        let s = screen(&mut a, w, h);
        // A name that fits is shown whole, without a mark.
        assert!(s.contains("web-rollout  "), "{s}");
        assert!(s.lines().any(|l| l.starts_with("NAME ▲")), "{s}");
    }
    // At 80 columns NAME takes its share (20) and no more: DESCRIPTION keeps its place.
    let s = screen(&mut a, 80, 24);
    assert!(s.contains("a-rather-long-token… active"), "{s}");
    assert!(s.contains("DESCRIPTION"), "{s}");
    // At 120 it grows into the room the columns shown leave over.
    let s = screen(&mut a, 120, 40);
    assert!(s.contains("a-rather-long-token-name-fo… active"), "{s}");
}

#[test]
fn a_narrow_sorted_column_keeps_its_arrow() {
    let mut a = app();
    // Sort by DESCRIPTION, the last column, the one that takes what is left: every heading
    // has room for its arrow, so it is never cut (the hosts view read `ENROLL… ▼`).
    ch(&mut a, 's');
    for _ in 0..8 {
        key(&mut a, KeyCode::Down);
    }
    key(&mut a, KeyCode::Enter);
    let s = screen(&mut a, 80, 24);
    let header = s
        .lines()
        .find(|l| l.starts_with("NAME"))
        .unwrap_or_default();
    assert!(header.ends_with("DESCRIPTION ▲"), "{header:?}\n{s}");
    key(&mut a, KeyCode::Tab);
    let s = screen(&mut a, 120, 40);
    assert!(s.contains("ENROLLED ▼"), "{s}");
}

#[test]
fn details_scroll_to_their_last_wrapped_line_and_keep_long_hostnames_on_one_row() {
    let mut a = app();
    let long = "lab-03-a-very-long-hostname-in-the-eu-west-datacenter";
    open_details(&mut a, |t| {
        let mut hosts = vec![super::fixtures::host(long, t, 1)];
        hosts.extend((2..5).map(|n| super::fixtures::host(&format!("lab-{n:02}"), t, n)));
        // Audit details long enough to wrap several times at 80 columns.
        let audit = (1..4)
            .map(|seq| {
                let mut e = event(seq, "redeemed", t);
                e.actor = "host:lab-03@127.0.0.1".into();
                for (k, v) in [
                    ("host_id", format!("0Vc3dF7sfz7zjy{seq:02}")),
                    ("hostname", long.to_owned()),
                    ("source", "127.0.0.1".to_owned()),
                    ("uses", format!("{seq}/∞")),
                ] {
                    e.details.insert(k.into(), v);
                }
                e
            })
            .collect();
        (hosts, audit)
    });
    let top = screen(&mut a, 80, 24);
    // The long hostname is cut with "…", and its row keeps its other columns.
    let row = top
        .lines()
        .find(|l| l.starts_with("  lab-03-a-very"))
        .unwrap_or_else(|| panic!("no host row:\n{top}"));
    assert!(row.contains("lab-03-a-very-long-host… 10.0.0.1"), "{row}");
    // End, and PgDn as far as it goes, both show the very last line: the last event's uses.
    key(&mut a, KeyCode::End);
    let end = screen(&mut a, 80, 24);
    assert!(end.contains("uses=3/∞"), "{end}");
    ch(&mut a, 'g');
    assert_eq!(screen(&mut a, 80, 24), top);
    for _ in 0..20 {
        key(&mut a, KeyCode::PageDown);
    }
    assert_eq!(screen(&mut a, 80, 24), end);
    // An event's wrapped rows start under its first row's text, after the time and action.
    let lines: Vec<Vec<char>> = end.lines().map(|l| l.chars().collect()).collect();
    let first = lines
        .iter()
        .position(|l| l.iter().collect::<String>().contains("redeemed"))
        .unwrap_or_else(|| panic!("{end}"));
    let text_col = "  2026-11-25 15:21:00 redeemed       ".chars().count();
    assert_eq!(lines[first][text_col - 1], ' ', "{end}");
    assert_ne!(lines[first][text_col], ' ', "{end}");
    let next = &lines[first + 1];
    assert!(
        next[..text_col].iter().all(|c| *c == ' ') && next[text_col] != ' ',
        "{end}"
    );
}

#[test]
fn a_line_too_long_for_the_screen_is_cut_with_an_ellipsis_never_silently() {
    let mut a = app();
    a.started = Some(started_daemon());
    let s = screen(&mut a, 80, 24);
    let info = s.lines().nth(1).unwrap_or_default();
    // The count and the sort show whole; the note gives way by priority (its data folder
    // first, then the pid: "local daemon" says more than "pid 4242" alone).
    assert!(
        info.starts_with(" 6 tokens · sort NAME ▲ · ⚠ 1 expiring <24h  "),
        "{info:?}"
    );
    assert!(info.ends_with("local daemon, pid 4242"), "{info:?}");
    let s = screen(&mut a, 60, 15);
    let info = s.lines().nth(1).unwrap_or_default();
    assert!(info.ends_with(" local daemon"), "{info:?}");
    // With a status and a short text filter too: both show whole, and the note gives way to
    // its shortest form.
    ch(&mut a, '/');
    typed(&mut a, "web");
    key(&mut a, KeyCode::Enter);
    a.tokens.set_status(super::table::StatusFilter::NeverUsed);
    let s = screen(&mut a, 80, 24);
    let info = s.lines().nth(1).unwrap_or_default();
    assert!(
        info.starts_with(" 2 of 6 tokens · sort NAME ▲ · status: never used · filter: web  ")
            && info.ends_with(" local daemon"),
        "{info:?}"
    );
    // Where not even that fits, the note is cut and says so.
    let s = screen(&mut a, 70, 24);
    let info = s.lines().nth(1).unwrap_or_default();
    assert!(info.ends_with('…'), "{info:?}");
    // A message naming a long token: the name is cut, so the message's end still shows.
    let mut t = super::fixtures::token("x", 0);
    t.name = "production-eu-west-primary-replica-nodes-rollout-2026-11".into();
    update(
        &mut a,
        Msg::TokenChanged {
            token: Box::new(t),
            what: "Disabled".into(),
        },
    );
    let s = screen(&mut a, 80, 24);
    let message = s.lines().nth_back(1).unwrap_or_default();
    assert_eq!(
        message, " Disabled \"production-eu-west-primary-repl…\".",
        "{s}"
    );
    // A message longer than its two lines ends in "…"; the footer still lists the keys.
    update(
        &mut a,
        Msg::ActionFailed {
            what: "Revoke".into(),
            error: "the daemon answered something this console cannot read: ".repeat(3),
        },
    );
    let s = screen(&mut a, 80, 24);
    let lines: Vec<&str> = s.lines().collect();
    let (first, second) = (lines[lines.len() - 3], lines[lines.len() - 2]);
    assert!(first.starts_with(" Revoke failed: the daemon"), "{s}");
    assert!(
        second.ends_with('…') && second.chars().count() <= 80,
        "{second:?}"
    );
    assert!(lines[lines.len() - 1].contains("q quit"), "{s}");
}

#[test]
fn a_name_of_the_longest_allowed_length_shows_whole_where_it_is_typed() {
    let name = format!(
        "{}-rollout",
        "production-eu-west-primary-replica-nodes".repeat(2)
    );
    let name: String = name.chars().take(64).collect();
    // In the create form, at the smallest size.
    let mut a = app();
    ch(&mut a, 'n');
    typed(&mut a, &name);
    let s = screen(&mut a, 80, 24);
    assert!(s.contains(&name), "{s}");
    // In the delete dialog that asks for the name to be typed.
    let a = &mut typed_delete(&name);
    let s = screen(a, 80, 24);
    assert!(s.contains(&name), "{s}");
}

/// Too long to fit beside its field at 60 columns, an error is never cut there (a cut sentence
/// loses its meaning): the field points below, where it shows whole.
#[test]
fn an_error_too_long_beside_its_field_points_to_where_it_shows_whole() {
    let mut a = app();
    ch(&mut a, 'n');
    typed(&mut a, "web");
    // To Uses, choose N uses, then a count that is not a number.
    for _ in 0..5 {
        key(&mut a, KeyCode::Tab);
    }
    key(&mut a, KeyCode::Right);
    key(&mut a, KeyCode::Tab);
    typed(&mut a, "abc");
    let Some(super::app::Modal::Form(f)) = &a.modal else {
        panic!("the form closed");
    };
    assert_eq!(f.focus, super::form::Field::Count);
    let s = screen(&mut a, 60, 15);
    let line = s
        .lines()
        .find(|l| l.contains("›How many"))
        .unwrap_or_else(|| panic!("no count:\n{s}"));
    assert!(
        line.contains("✗ see below") && !line.contains('…'),
        "{line}"
    );
    assert!(
        squeezed(&s).contains(&squeezed("How many: a whole number from 1 to 1000000000")),
        "{s}"
    );
    // Wide enough, the same error shows whole.
    let s = screen(&mut a, 120, 40);
    assert!(s.contains("✗ a whole number from 1 to 1000000000"), "{s}");
}

#[test]
fn esc_on_a_changed_form_asks_before_throwing_it_away() {
    let mut a = app();
    // Untouched: Esc closes at once.
    ch(&mut a, 'n');
    key(&mut a, KeyCode::Esc);
    assert!(a.modal.is_none());
    // Half filled: the first Esc asks; n keeps editing, Esc again (or y) discards.
    ch(&mut a, 'n');
    typed(&mut a, "half");
    key(&mut a, KeyCode::Esc);
    let s = screen(&mut a, 80, 24);
    assert!(a.modal.is_some(), "the form was thrown away:\n{s}");
    assert!(s.contains("Throw away what you typed?"), "{s}");
    ch(&mut a, 'n');
    assert!(a.modal.is_some());
    typed(&mut a, "-done");
    key(&mut a, KeyCode::Esc);
    assert!(a.modal.is_some());
    key(&mut a, KeyCode::Esc);
    assert!(a.modal.is_none());
    // y answers the question: it throws the form away and types nothing (it went into the
    // name field, and the form stayed).
    ch(&mut a, 'n');
    typed(&mut a, "half");
    key(&mut a, KeyCode::Esc);
    ch(&mut a, 'y');
    assert!(a.modal.is_none(), "y did not throw the form away");
    // Other keys wait for an answer: nothing reaches the field.
    ch(&mut a, 'n');
    typed(&mut a, "half");
    key(&mut a, KeyCode::Esc);
    typed(&mut a, "qz");
    let Some(super::app::Modal::Form(f)) = &a.modal else {
        panic!("the form closed");
    };
    assert!(f.discard_asked);
    assert_eq!(super::form::text_of(&f.name), "half");
    ch(&mut a, 'n');
    let Some(super::app::Modal::Form(f)) = &a.modal else {
        panic!("the form closed");
    };
    assert!(!f.discard_asked);
    key(&mut a, KeyCode::Esc);
    key(&mut a, KeyCode::Esc);
    assert!(a.modal.is_none());
    insta::assert_snapshot!("form_discard_asked_80x24", {
        ch(&mut a, 'n');
        typed(&mut a, "x");
        key(&mut a, KeyCode::Esc);
        screen(&mut a, 80, 24)
    });
}

/// The reveal's keys show once (they were drawn twice at 80×24 and 120×40, a rule and blank
/// lines between), and at 60×15 the key that closes it still shows, with the whole token.
#[test]
fn the_reveal_shows_its_keys_once_and_how_to_close_it_at_every_size() {
    let mut a = revealed();
    for (w, h) in [(80, 24), (120, 40), (60, 15)] {
        let s = screen(&mut a, w, h);
        assert_eq!(s.matches("c copy").count(), 1, "{w}×{h}:\n{s}");
        assert!(s.contains("Enter/Esc done, forget it"), "{w}×{h}:\n{s}");
        assert!(s.contains(FAKE_SECRET), "{w}×{h}:\n{s}");
        assert!(s.contains("--ca-pin"), "{w}×{h}:\n{s}");
    }
    insta::assert_snapshot!("reveal_60x15", screen(&mut a, 60, 15));
}

/// The footer keeps `/`, `s` and `?` at 80 and 60 columns; the keys that give way are the
/// last ones, and a "…" says so.
/// A dialog's or a form's keys show once, inside its box (the footer repeated them below).
#[test]
fn dialogs_and_forms_show_their_keys_once() {
    let mut a = app();
    ch(&mut a, 'r');
    let s = screen(&mut a, 120, 40);
    assert_eq!(s.matches("y confirm").count(), 1, "{s}");
    key(&mut a, KeyCode::Esc);
    ch(&mut a, 'n');
    let s = screen(&mut a, 120, 40);
    assert_eq!(s.matches("Ctrl-S create").count(), 1, "{s}");
}

#[test]
fn the_footer_keeps_filter_sort_and_help_when_narrow() {
    let mut a = app();
    for (w, h) in [(80, 24), (60, 15)] {
        let s = screen(&mut a, w, h);
        let footer = s.lines().last().unwrap_or_default();
        for want in ["/ filter", "s sort", "? help", "q quit", "…"] {
            assert!(footer.contains(want), "{w}: {want} missing: {footer}");
        }
    }
}

/// A day in the past picked in the calendar: the error beside the date says "in the past"
/// whole at every size (it was cut), and the message below gives the time and what to do.
#[test]
fn the_calendars_in_the_past_error_is_never_cut() {
    let mut a = app();
    ch(&mut a, 'n');
    typed(&mut a, "web-rollout-2");
    while !matches!(&a.modal, Some(super::app::Modal::Form(f)) if f.focus == super::form::Field::Expiry)
    {
        key(&mut a, KeyCode::Tab);
    }
    while !matches!(&a.modal, Some(super::app::Modal::Form(f)) if f.expiry == super::form::ExpiryChoice::PickDate)
    {
        key(&mut a, KeyCode::Right);
    }
    key(&mut a, KeyCode::Tab);
    // Today, at a time already gone (the fixtures' clock is 17:00 UTC).
    ch(&mut a, 't');
    key(&mut a, KeyCode::Tab);
    for _ in 0..5 {
        key(&mut a, KeyCode::Backspace);
    }
    typed(&mut a, "09:00");
    for (w, h) in [(80, 24), (120, 40), (60, 15)] {
        let s = screen(&mut a, w, h);
        assert!(s.contains("✗ in the past"), "{w}×{h}:\n{s}");
        assert!(
            s.contains("pick a later") && s.contains("time or day"),
            "{w}×{h}:\n{s}"
        );
    }
    snap("form_date_in_the_past", &mut a);
}

#[test]
fn narrow_terminals_keep_names_readable() {
    let mut a = app();
    let s = screen(&mut a, 60, 15);
    assert!(s.contains("cache-nodes "), "{s}");
    assert!(s.contains("web-rollout "), "{s}");
    insta::assert_snapshot!("list_60x15", s);
    key(&mut a, KeyCode::Tab);
    insta::assert_snapshot!("hosts_60x15", screen(&mut a, 60, 15));
}

/// The header warns when active tokens expire within 24 hours (the fixtures' edge-soon, in
/// 30 minutes), and says nothing when none do.
#[test]
fn the_header_warns_of_tokens_expiring_within_a_day() {
    let mut a = app();
    for (w, h) in [(120, 40), (80, 24), (60, 15)] {
        let s = screen(&mut a, w, h);
        let info = s.lines().nth(1).unwrap_or_default();
        assert!(info.contains("⚠ 1 expiring <24h"), "{w}: {info}");
    }
    let far: Vec<_> = super::fixtures::token_list()
        .into_iter()
        .filter(|t| t.name != "edge-soon")
        .collect();
    update(&mut a, Msg::Tokens(far));
    let s = screen(&mut a, 120, 40);
    assert!(!s.contains('⚠'), "{s}");
}

/// The reveal's host command, at each size, is broken only between arguments with ` \\` at
/// each line's end, so a mouse selection pastes as one command; where the pin alone is wider
/// than the screen (60 columns) the screen says to copy it with `j`.
#[test]
fn the_reveals_host_command_is_selectable_at_every_size() {
    let mut a = revealed();
    let pin = format!("sha256:{}", "0aecc1d8".repeat(8));
    for (w, h) in SIZES {
        let s = screen(&mut a, w, h);
        let lines: Vec<&str> = s.lines().collect();
        let first = lines
            .iter()
            .position(|l| l.starts_with("gatepass redeem"))
            .unwrap_or_else(|| panic!("{w}x{h}: {s}"));
        let mut cmd = Vec::new();
        for l in &lines[first..] {
            let l = l.trim_end();
            cmd.push(l.trim_end_matches(" \\").trim_start().to_owned());
            if !l.ends_with(" \\") {
                break;
            }
        }
        let cmd = cmd.join(" ");
        let flat = s.split_whitespace().collect::<Vec<_>>().join(" ");
        if usize::from(w) >= pin.len() + 4 {
            assert_eq!(
                cmd,
                format!(
                    "gatepass redeem --server https://gate.example:8443 --ca-pin {pin} --out \
                     /etc/gatepass"
                ),
                "{w}x{h}: {s}"
            );
        } else {
            assert!(flat.contains("j copies it whole"), "{w}x{h}: {s}");
        }
        assert!(flat.contains("/etc/gatepass"), "{w}x{h}: {s}");
    }
    snap("reveal_host_command", &mut a);
}

/// One long token name cuts itself (with "…") instead of widening NAME until GROUP, OWNER
/// and DESCRIPTION give way: the columns shown are those ordinary names leave room for.
#[test]
fn a_long_token_name_is_cut_and_hides_no_column() {
    let mut a = app();
    let headers = |a: &mut App, w: u16| {
        let s = screen(a, w, 24);
        s.lines().nth(2).unwrap_or_default().to_owned()
    };
    let ordinary: Vec<String> = [80, 100, 120].map(|w| headers(&mut a, w)).to_vec();
    let mut list = super::fixtures::token_list();
    list[0].name = "production-eu-west-primary-replica-nodes-rollout".into();
    update(&mut a, Msg::Tokens(list));
    for (i, w) in [80u16, 100, 120].into_iter().enumerate() {
        let head = headers(&mut a, w);
        for col in ["GROUP", "OWNER", "CREATED", "DESCRIPTION"] {
            assert_eq!(
                ordinary[i].contains(col),
                head.contains(col),
                "{w}: {col}\n{}\n{head}",
                ordinary[i]
            );
        }
        let s = screen(&mut a, w, 24);
        assert!(s.contains("production-eu-"), "{s}");
        assert!(s.contains('…'), "{s}");
    }
    snap("list_long_name", &mut a);
}

/// A message shows on its own lines above the footer, which keeps listing the keys (the
/// message used to replace them); a long one takes two lines instead of losing its end (the
/// tmux setting to turn on was cut at 100 columns), and one row is "1 row".
#[test]
fn a_long_message_takes_two_lines_above_the_footer_and_keeps_its_advice() {
    use super::clipboard::CopyResult;
    let mut a = app();
    let why = "no display".to_owned();
    let msg = CopyResult::Osc52 { why }.message(true, "the host command");
    update(&mut a, Msg::Copied(msg));
    for (w, h) in SIZES {
        let s = screen(&mut a, w, h);
        let lines: Vec<&str> = s.lines().collect();
        let footer = lines[lines.len() - 1];
        assert!(
            footer.contains("q quit") || footer.contains("? help"),
            "{w}x{h}: {s}"
        );
        let message = lines[lines.len() - 3..lines.len() - 1]
            .iter()
            .map(|l| l.trim())
            .collect::<Vec<_>>()
            .join(" ");
        assert!(
            message.contains("`set -g set-clipboard on`"),
            "{w}x{h}: {s}"
        );
        assert!(
            message.ends_with("Select the host command with the mouse."),
            "{w}x{h}: {s}"
        );
    }
    snap("message_two_lines", &mut a);
    update(
        &mut a,
        Msg::Exported(Ok((1, "/home/op/gatepass-tokens.csv".into()))),
    );
    let s = screen(&mut a, 80, 24);
    assert!(
        s.contains("Exported 1 row (mode 0600) to /home/op/gatepass-tokens.csv"),
        "{s}"
    );
    // A long path takes the second line whole (it was the part cut at 80 columns).
    let long = "/root/.local/state/gatepass/gatepass-tokens-2026-12-03-13-01-13.csv";
    update(&mut a, Msg::Exported(Ok((8, long.into()))));
    let s = screen(&mut a, 80, 24);
    assert!(s.contains("Exported 8 rows (mode 0600) to"), "{s}");
    assert!(s.contains(long), "{s}");
    assert!(s.lines().last().unwrap_or_default().contains("quit"), "{s}");
}

/// A token expiring in under 24 hours reads in hours in the EXPIRES column, never "in 1d",
/// so the column agrees with the header's "expiring <24h" count.
#[test]
fn a_token_expiring_within_a_day_reads_in_hours_beside_the_warning() {
    let mut a = app();
    let list: Vec<_> = super::fixtures::token_list()
        .into_iter()
        .map(|mut t| {
            if t.name == "edge-soon" {
                t.expires_at = Some(gatepass_protocol::Timestamp(NOW.0 + 23 * 3_600 + 50 * 60));
            }
            t
        })
        .collect();
    update(&mut a, Msg::Tokens(list));
    for (w, h) in [(120, 40), (80, 24), (60, 15)] {
        let s = screen(&mut a, w, h);
        let info = s.lines().nth(1).unwrap_or_default();
        assert!(info.contains("⚠ 1 expiring <24h"), "{w}: {info}");
        let row = s
            .lines()
            .find(|l| l.contains("edge-soon"))
            .unwrap_or_default();
        assert!(!row.contains("in 1d"), "{w}: {row}");
        if w >= 80 {
            assert!(row.contains("in 23h"), "{w}: {row}");
        }
    }
}

/// Space marks three rows (the info line counts them, each shows ✓), r asks once listing all
/// three, y sends one request each, and each token's result is listed.
#[test]
fn three_marked_tokens_are_revoked_after_one_confirmation() {
    use super::app::{Cmd, ConfirmKind, Modal};
    let mut a = app();
    for _ in 0..3 {
        ch(&mut a, ' ');
    }
    let s = screen(&mut a, 80, 24);
    assert!(s.contains("3 marked"), "{s}");
    assert_eq!(s.matches("✓ ").count(), 3, "{s}");
    ch(&mut a, 'r');
    let s = screen(&mut a, 80, 24);
    for name in [
        "cache-nodes",
        "db-primary",
        "edge-soon",
        "Revoke 3 tokens?",
        "The 3 marked tokens",
    ] {
        assert!(s.contains(name), "{name}:\n{s}");
    }
    snap("confirm_revoke_marked", &mut a);
    insta::assert_snapshot!("confirm_revoke_marked_60x15", screen(&mut a, 60, 15));
    let cmds = upd(&mut a, KeyCode::Char('y'));
    let [Cmd::Bulk { kind, targets }] = cmds.as_slice() else {
        panic!("{cmds:?}");
    };
    assert_eq!(*kind, ConfirmKind::Revoke);
    // In the order the list shows them (not by id).
    let names: Vec<&str> = targets.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["cache-nodes", "db-primary", "edge-soon"]);
    // Two revoked, one refused: each result is said.
    let results = targets
        .iter()
        .map(|t| {
            let r = if t.name == "db-primary" {
                Err("the daemon said no".to_owned())
            } else {
                let mut tok = a.tokens.get(&t.id).cloned().unwrap();
                tok.status = gatepass_protocol::TokenStatus::Revoked;
                Ok(Some(tok))
            };
            (t.clone(), r)
        })
        .collect();
    update(
        &mut a,
        Msg::BulkDone {
            kind: ConfirmKind::Revoke,
            results,
        },
    );
    assert!(matches!(a.modal, Some(Modal::Record { .. })));
    let s = screen(&mut a, 80, 24);
    assert!(s.contains("Revoked 2 of 3 tokens"), "{s}");
    assert!(s.contains("failed: the daemon said no"), "{s}");
    assert!(a.marked.is_empty());
    snap("bulk_results", &mut a);
}

/// C opens the create form filled from the selected token, asking for a new name.
#[test]
fn clone_fills_the_form_from_the_selected_token() {
    use super::app::Cmd;
    let mut a = app();
    key(&mut a, KeyCode::End); // web-rollout: unlimited, group web, env=prod
    ch(&mut a, 'C');
    let s = screen(&mut a, 80, 24);
    assert!(s.contains("Clone of web-rollout"), "{s}");
    snap("form_clone", &mut a);
    typed(&mut a, "web-rollout-2");
    let cmds = update(
        &mut a,
        Msg::Key(KeyEvent::new(KeyCode::Char('s'), KeyModifiers::CONTROL)),
    );
    let [Cmd::Create(req)] = cmds.as_slice() else {
        panic!("{cmds:?}");
    };
    assert_eq!(req.name, "web-rollout-2");
    assert_eq!(req.group.as_deref(), Some("web"));
    assert_eq!(req.labels.get("env").map(String::as_str), Some("prod"));
    assert_eq!(req.max_uses, Some(gatepass_protocol::MaxUses::Unlimited));
    assert_eq!(req.description.as_deref(), Some("rollout of web-rollout"));
    // The source lives 4 days (no preset): the clone asks for the same lifetime from now, as a
    // picked date and time (it used to fall back to the daemon's default of 3 days).
    assert_eq!(req.ttl, None);
    assert_eq!(
        req.expires_at,
        Some(gatepass_protocol::Timestamp(NOW.0 + 4 * 86_400))
    );
}

/// e asks for a new expiry (presets counted from now, or the calendar) and sends it.
#[test]
fn extend_asks_for_a_new_expiry_and_sends_it() {
    use super::app::Cmd;
    let mut a = app();
    key(&mut a, KeyCode::End);
    ch(&mut a, 'e');
    let s = screen(&mut a, 80, 24);
    assert!(s.contains("Extend web-rollout"), "{s}");
    assert!(!s.contains("Description"), "{s}");
    // When it expires now shows from the start, not only after a Ctrl-S that would shorten it.
    for (w, h) in SIZES {
        let s = screen(&mut a, w, h);
        assert!(
            s.contains("Expires now Sat 2026-11-28 17:00 UTC"),
            "{w}x{h}: {s}"
        );
    }
    snap("form_extend", &mut a);
    // 3d (the default here) → 14d.
    key(&mut a, KeyCode::Right);
    let cmds = update(
        &mut a,
        Msg::Key(KeyEvent::new(KeyCode::Char('s'), KeyModifiers::CONTROL)),
    );
    let id = a.tokens.selected().map(|t| t.id.clone()).unwrap();
    assert_eq!(
        cmds,
        vec![Cmd::Extend {
            id,
            expires_at: Some(gatepass_protocol::Timestamp(NOW.0 + 14 * 86_400)),
        }]
    );
}

/// At 60 columns the header still says who you are and that the console is live (the other
/// views' names give way; it cut "alice (ad…" and the live mark).
#[test]
fn a_narrow_header_keeps_the_user_and_the_live_mark() {
    let mut a = app();
    let s = screen(&mut a, 60, 15);
    let header = s.lines().next().unwrap_or_default();
    assert!(
        header.contains("alice (admin)") && header.contains("● live"),
        "{header}"
    );
    // The other views' names show too, in short forms, where they fit (only "[Tokens]" did).
    assert!(header.contains("[Tokens] Hosts Audit API"), "{header}");
    key(&mut a, KeyCode::Tab);
    let s = screen(&mut a, 60, 15);
    assert!(
        s.lines()
            .next()
            .unwrap_or_default()
            .contains("Tokens [Hosts] Audit API"),
        "{s}"
    );
}

/// A daemon that answers while its store does not (`/healthz` 503): the header says the store
/// is unavailable, not "live", and says "live" again once it serves.
#[test]
fn the_header_says_when_the_store_is_unavailable() {
    let mut a = app();
    update(&mut a, Msg::StoreDown(true));
    let s = screen(&mut a, 100, 15);
    let header = s.lines().next().unwrap_or_default();
    assert!(
        header.contains("○ store unavailable") && !header.contains("live"),
        "{header}"
    );
    update(&mut a, Msg::StoreDown(false));
    let s = screen(&mut a, 100, 15);
    assert!(
        s.lines().next().unwrap_or_default().contains("● live"),
        "{s}"
    );
}

/// The form at the 60×15 floor: the expiry's preview keeps its time zone (the relative time and
/// the weekday give way), and the Time field's error shows whole beside it (both were cut).
#[test]
fn a_narrow_form_keeps_the_zone_and_the_time_error() {
    let mut a = app();
    ch(&mut a, 'n');
    typed(&mut a, "web-rollout-2");
    while !matches!(&a.modal, Some(super::app::Modal::Form(f)) if f.focus == super::form::Field::Expiry)
    {
        key(&mut a, KeyCode::Tab);
    }
    let s = screen(&mut a, 60, 15);
    let line = s
        .lines()
        .find(|l| l.contains("›Expires"))
        .unwrap_or_else(|| panic!("{s}"));
    assert!(line.contains("2026-11-28 17:00 UTC"), "{line}");
    snap("form_narrow_preview", &mut a);
    while !matches!(&a.modal, Some(super::app::Modal::Form(f)) if f.expiry == super::form::ExpiryChoice::PickDate)
    {
        key(&mut a, KeyCode::Right);
    }
    key(&mut a, KeyCode::Tab);
    key(&mut a, KeyCode::Tab);
    for _ in 0..5 {
        key(&mut a, KeyCode::Backspace);
    }
    typed(&mut a, "25:00");
    let s = screen(&mut a, 60, 15);
    let line = s
        .lines()
        .find(|l| l.contains("›Time"))
        .unwrap_or_else(|| panic!("{s}"));
    assert!(
        line.contains("✗ \"25:00\" is not HH:MM (24-hour)"),
        "{line}"
    );
    snap("form_time_error", &mut a);
}

/// The extend form with a picked date: the calendar and the time both fit at 60×15 (the time
/// was pushed out of the box by two rows kept for a message there was none of).
#[test]
fn the_extend_form_fits_its_calendar_and_time_at_the_floor() {
    let mut a = app();
    key(&mut a, KeyCode::End);
    ch(&mut a, 'e');
    while !matches!(&a.modal, Some(super::app::Modal::Form(f)) if f.expiry == super::form::ExpiryChoice::PickDate)
    {
        key(&mut a, KeyCode::Right);
    }
    key(&mut a, KeyCode::Tab);
    let s = screen(&mut a, 60, 15);
    assert!(
        s.contains("Expires") && s.contains("Mo Tu We") && s.contains("Time"),
        "{s}"
    );
    snap("form_extend_picked", &mut a);
}

fn started_daemon() -> crate::local::Started {
    let data = "/home/operator/.local/share/gatepass".repeat(2);
    crate::local::Started {
        pid: 4242,
        data_dir: data.clone().into(),
        log: format!("{data}/gatepassd.log").into(),
    }
}

/// At 60×15 the info line under the header says the console started a local daemon (it was
/// cut to "started a loca…", then shrank to a bare "pid 4242"), with a snapshot; wider, the
/// pid and the data folder show too.
#[test]
fn the_started_daemons_pid_shows_at_every_size() {
    let mut a = app();
    a.started = Some(started_daemon());
    let s = screen(&mut a, 60, 15);
    assert!(
        s.lines()
            .nth(1)
            .unwrap_or_default()
            .ends_with(" local daemon"),
        "{s}"
    );
    let s = screen(&mut a, 120, 40);
    assert!(s.contains("local daemon, pid 4242"), "{s}");
    a.started = Some(crate::local::Started {
        pid: 4242,
        data_dir: "/home/op/.local/share/gatepass".into(),
        log: "/home/op/.local/share/gatepass/gatepassd.log".into(),
    });
    let s = screen(&mut a, 120, 40);
    assert!(
        s.contains("started a local daemon, pid 4242 (data /home/op/.local/share/gatepass)"),
        "{s}"
    );
    snap("started_daemon", &mut a);
}

/// The copy message of the reveal shows whole at 60×15, with the token, the host command and
/// the key that closes it (it was long, and cut): blank lines give way first.
#[test]
fn the_reveals_copy_message_fits_at_the_floor() {
    use super::clipboard::CopyResult;
    let mut a = revealed();
    let why = "no display".to_owned();
    for tmux in [false, true] {
        let msg = CopyResult::Osc52 { why: why.clone() }.message(tmux, "the token");
        update(&mut a, Msg::Copied(msg));
        let s = screen(&mut a, 60, 15);
        let flat = s.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(flat.contains(FAKE_SECRET), "{s}");
        assert!(flat.contains("--out /etc/gatepass"), "{s}");
        assert!(
            flat.contains("Sent via OSC 52") && flat.contains("Select the token with the mouse."),
            "tmux {tmux}:\n{s}"
        );
        assert!(
            s.lines().last().unwrap_or_default().contains("Enter"),
            "{s}"
        );
    }
    snap("reveal_copied", &mut a);
}

/// An extend that would shorten the token's life says so and waits for a second Ctrl-S, as
/// `tokens extend` needs `--shorten` (it shortened silently); a longer one goes at once.
#[test]
fn extend_asks_before_shortening_a_tokens_life() {
    use super::app::Cmd;
    let ctrl_s = |a: &mut App| {
        update(
            a,
            Msg::Key(KeyEvent::new(KeyCode::Char('s'), KeyModifiers::CONTROL)),
        )
    };
    let mut a = app();
    key(&mut a, KeyCode::End);
    ch(&mut a, 'e');
    // 3d (as it expires now) → 1d: earlier.
    key(&mut a, KeyCode::Left);
    assert!(ctrl_s(&mut a).is_empty(), "sent without asking");
    let s = screen(&mut a, 80, 24);
    assert!(s.contains("Earlier than it expires now"), "{s}");
    snap("form_extend_shorter", &mut a);
    // Another key takes the question back; asked again, a second Ctrl-S sends it.
    key(&mut a, KeyCode::Tab);
    assert!(ctrl_s(&mut a).is_empty());
    let id = a.tokens.selected().map(|t| t.id.clone()).unwrap();
    assert_eq!(
        ctrl_s(&mut a),
        vec![Cmd::Extend {
            id,
            expires_at: Some(gatepass_protocol::Timestamp(NOW.0 + 86_400)),
        }]
    );
}

/// The header names the tenant shown; with one tenant nothing else changes (no TENANT column,
/// no `T` in the footer).
#[test]
fn the_header_names_the_tenant() {
    let mut a = one_tenant_app();
    let s = screen(&mut a, 120, 40);
    let header = s.lines().next().unwrap_or_default();
    assert!(header.contains("tenant acme · alice (admin)"), "{s}");
    assert!(!s.contains("TENANT") && !s.contains("T tenant"), "{s}");
    // At 80 columns the tenant's name alone keeps the views' names on the line.
    let s = screen(&mut a, 80, 24);
    let header = s.lines().next().unwrap_or_default();
    assert!(
        header.contains("API tokens") && header.contains(" acme · alice (admin)"),
        "{s}"
    );
    snap("tenant_one", &mut a);
}

/// `T` opens the picker: all tenants first, then each with alice's role there and its counts,
/// the one shown marked.
#[test]
fn the_tenant_picker() {
    let mut a = tenants_app();
    ch(&mut a, 'T');
    let s = screen(&mut a, 80, 24);
    assert!(s.contains("Show tenant"), "{s}");
    assert!(s.contains("• all tenants"), "{s}");
    assert!(
        s.contains("acme         admin     3 tokens, 2 hosts"),
        "{s}"
    );
    assert!(s.contains("globex       operator  3 tokens, 1 host"), "{s}");
    snap("tenant_picker", &mut a);
}

/// The view of all tenants: a TENANT column after the name (tokens and hosts), and no `n`.
#[test]
fn all_tenants_show_a_tenant_column_and_offer_no_new() {
    let mut a = tenants_app();
    let s = screen(&mut a, 120, 40);
    assert!(
        s.lines()
            .next()
            .unwrap_or_default()
            .contains("all tenants ·"),
        "{s}"
    );
    assert!(s.contains("NAME ▲") && s.contains("TENANT"), "{s}");
    let footer = s.lines().last().unwrap_or_default();
    assert!(
        !footer.contains("n new") && footer.contains("T tenant"),
        "{footer}"
    );
    snap("tenant_all", &mut a);
    // The sort chooser offers TENANT here (and only here).
    ch(&mut a, 's');
    assert!(screen(&mut a, 120, 40).contains("│ TENANT"));
    key(&mut a, KeyCode::Esc);
    let mut one = one_tenant_app();
    ch(&mut one, 's');
    assert!(!screen(&mut one, 120, 40).contains("TENANT"));
    key(&mut a, KeyCode::Tab);
    let s = screen(&mut a, 120, 40);
    assert!(s.contains("HOSTNAME") && s.contains("TENANT"), "{s}");
    snap("tenant_all_hosts", &mut a);
}

/// An admin of the tenant chooses the owner among its members (←/→, or a first letter).
#[test]
fn the_create_form_offers_the_tenants_members_as_owners() {
    let mut a = tenants_app();
    ch(&mut a, 'T');
    key(&mut a, KeyCode::Down);
    key(&mut a, KeyCode::Enter);
    ch(&mut a, 'n');
    typed(&mut a, "web-acme");
    while !matches!(&a.modal, Some(super::app::Modal::Form(f)) if f.focus == super::form::Field::Owner)
    {
        key(&mut a, KeyCode::Tab);
    }
    key(&mut a, KeyCode::Right);
    let s = screen(&mut a, 80, 24);
    assert!(s.contains("New enrollment token in tenant acme"), "{s}");
    assert!(
        s.contains("‹ bob ›") && s.contains("you or 3 members"),
        "{s}"
    );
    snap("tenant_form_owner", &mut a);
}
