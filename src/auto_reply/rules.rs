//! The pure part of auto-replies: when a sender's bot answers ([`should_reply`], given the time
//! from the caller so that tests fix it) and what it says ([`render`]: spintax and `[name]`).

use std::collections::HashSet;

use chrono::{DateTime, Datelike, Duration, NaiveTime, Utc, Weekday};
use chrono_tz::Tz;
use rand::Rng;

/// Longest default message, in characters (a WhatsApp text may be 4096; the name is added).
pub const MAX_MESSAGE_CHARS: usize = 2000;
/// Deepest nesting of `{…|…}` groups.
pub const MAX_SPIN_DEPTH: usize = 8;

/// When the bot answers, relative to the active window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplyMode {
    /// Away messages: only outside the active days and hours.
    OutsideActiveHours,
    /// Only within the active days and hours.
    DuringActiveHours,
    /// Whatever the time.
    Always,
}

impl ReplyMode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::OutsideActiveHours => "OUTSIDE_ACTIVE_HOURS",
            Self::DuringActiveHours => "DURING_ACTIVE_HOURS",
            Self::Always => "ALWAYS",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [
            Self::OutsideActiveHours,
            Self::DuringActiveHours,
            Self::Always,
        ]
        .into_iter()
        .find(|mode| mode.as_str() == text)
    }
}

/// A sender's auto-reply rules, parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct Rules {
    pub enabled: bool,
    pub timezone: Tz,
    /// Days the active window opens on (local time).
    pub active_days: HashSet<Weekday>,
    /// Local `[from, to)`; `None` is all day. `from > to` crosses midnight: the window belongs
    /// to the day it opens on (Friday 22:00–06:00 covers Saturday 03:00).
    pub active_hours: Option<(NaiveTime, NaiveTime)>,
    pub mode: ReplyMode,
    pub reply_unread_only: bool,
    pub reply_once_per_hours: Option<u32>,
}

/// What the bot knows about the conversation when a message arrives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConversationState {
    /// Unread messages, this one included; 0 when an agent read the conversation meanwhile.
    pub unread_count: i32,
    /// When the bot last answered in this conversation.
    pub last_auto_reply_at: Option<DateTime<Utc>>,
}

/// Whether `now` falls in the active window (active days and hours in the rules' time zone).
pub fn is_active(rules: &Rules, now: DateTime<Utc>) -> bool {
    let local = now.with_timezone(&rules.timezone);
    let day = local.weekday();
    let time = local.time();
    let on = |day: Weekday| rules.active_days.contains(&day);
    match rules.active_hours {
        None => on(day),
        Some((from, to)) if from == to => on(day),
        Some((from, to)) if from < to => on(day) && from <= time && time < to,
        // Crossing midnight: the evening part is today's window, the morning part yesterday's.
        Some((from, to)) => (time >= from && on(day)) || (time < to && on(day.pred())),
    }
}

/// Whether the bot answers a customer's message that arrived at `now`.
pub fn should_reply(rules: &Rules, now: DateTime<Utc>, state: ConversationState) -> bool {
    if !rules.enabled {
        return false;
    }
    if rules.reply_unread_only && state.unread_count <= 0 {
        return false;
    }
    if let (Some(hours), Some(last)) = (rules.reply_once_per_hours, state.last_auto_reply_at)
        && now - last < Duration::hours(i64::from(hours))
    {
        return false;
    }
    match rules.mode {
        ReplyMode::OutsideActiveHours => !is_active(rules, now),
        ReplyMode::DuringActiveHours => is_active(rules, now),
        ReplyMode::Always => true,
    }
}

/// Why a default message cannot be used.
pub fn check_message(message: &str) -> Result<(), String> {
    if message.trim().is_empty() {
        return Err("defaultMessage must not be empty".into());
    }
    if message.chars().count() > MAX_MESSAGE_CHARS {
        return Err(format!(
            "defaultMessage must be at most {MAX_MESSAGE_CHARS} characters"
        ));
    }
    let mut depth = 0usize;
    for c in message.chars() {
        match c {
            '{' => {
                depth += 1;
                if depth > MAX_SPIN_DEPTH {
                    return Err(format!(
                        "defaultMessage nests {{…|…}} more than {MAX_SPIN_DEPTH} deep"
                    ));
                }
            }
            '}' if depth == 0 => {
                return Err("defaultMessage has a `}` without its `{`".into());
            }
            '}' => depth -= 1,
            _ => {}
        }
    }
    if depth > 0 {
        return Err("defaultMessage has a `{` without its `}`".into());
    }
    Ok(())
}

/// The message to send: one alternative of every `{a|b|…}` group (nested groups too), then
/// `[name]` replaced by the contact's name. Without a name the placeholder goes, with the space
/// before it: "Hi [name], …" becomes "Hi, …".
pub fn render(message: &str, name: Option<&str>, rng: &mut impl Rng) -> String {
    let chars: Vec<char> = message.chars().collect();
    let mut position = 0;
    let spun = spin(&chars, &mut position, false, rng);
    let name = name.map(str::trim).filter(|name| !name.is_empty());
    let text = match name {
        Some(name) => spun.replace("[name]", name),
        None => spun.replace(" [name]", "").replace("[name]", ""),
    };
    text.trim().to_owned()
}

/// Reads a sequence up to the end, or (inside a group) up to its `|` or `}`.
fn spin(chars: &[char], position: &mut usize, in_group: bool, rng: &mut impl Rng) -> String {
    let mut out = String::new();
    while let Some(&c) = chars.get(*position) {
        match c {
            '|' | '}' if in_group => return out,
            '{' => {
                *position += 1;
                let mut alternatives = vec![spin(chars, position, true, rng)];
                while chars.get(*position) == Some(&'|') {
                    *position += 1;
                    alternatives.push(spin(chars, position, true, rng));
                }
                // The closing `}` (absent only in a message that was never checked).
                *position += 1;
                let pick = rng.random_range(0..alternatives.len());
                out.push_str(&alternatives[pick]);
            }
            _ => {
                out.push(c);
                *position += 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use chrono::TimeZone;
    use rand::{SeedableRng, rngs::StdRng};

    use super::*;

    fn rules(timezone: Tz, days: &[Weekday], hours: Option<(&str, &str)>) -> Rules {
        let time = |t: &str| NaiveTime::parse_from_str(t, "%H:%M").unwrap();
        Rules {
            enabled: true,
            timezone,
            active_days: days.iter().copied().collect(),
            active_hours: hours.map(|(from, to)| (time(from), time(to))),
            mode: ReplyMode::OutsideActiveHours,
            reply_unread_only: false,
            reply_once_per_hours: None,
        }
    }

    const WEEKDAYS: [Weekday; 5] = [
        Weekday::Mon,
        Weekday::Tue,
        Weekday::Wed,
        Weekday::Thu,
        Weekday::Fri,
    ];

    fn utc(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, min, 0).unwrap()
    }

    const FRESH: ConversationState = ConversationState {
        unread_count: 1,
        last_auto_reply_at: None,
    };

    #[test]
    fn the_same_instant_is_active_in_one_timezone_and_not_in_another() {
        // Wednesday 2026-11-18 05:00 UTC: 10:30 in Kolkata, 00:00 in New York.
        let now = utc(2026, 11, 18, 5, 0);
        let kolkata = rules(
            chrono_tz::Asia::Kolkata,
            &WEEKDAYS,
            Some(("09:00", "17:00")),
        );
        let new_york = rules(
            chrono_tz::America::New_York,
            &WEEKDAYS,
            Some(("09:00", "17:00")),
        );
        assert!(is_active(&kolkata, now));
        assert!(!is_active(&new_york, now));
        assert!(
            !should_reply(&kolkata, now, FRESH),
            "inside hours: no away message"
        );
        assert!(
            should_reply(&new_york, now, FRESH),
            "outside hours: away message"
        );
    }

    #[test]
    fn hours_are_half_open_and_days_count() {
        let office = rules(chrono_tz::UTC, &WEEKDAYS, Some(("09:00", "17:00")));
        assert!(!is_active(&office, utc(2026, 11, 18, 8, 59)));
        assert!(is_active(&office, utc(2026, 11, 18, 9, 0)));
        assert!(is_active(&office, utc(2026, 11, 18, 16, 59)));
        assert!(!is_active(&office, utc(2026, 11, 18, 17, 0)));
        // Saturday 2026-11-21 at noon: not an active day.
        assert!(!is_active(&office, utc(2026, 11, 21, 12, 0)));
        // All day on active days.
        let all_day = rules(chrono_tz::UTC, &WEEKDAYS, None);
        assert!(is_active(&all_day, utc(2026, 11, 18, 3, 0)));
        assert!(!is_active(&all_day, utc(2026, 11, 22, 3, 0)));
        // No active day at all: never active.
        assert!(!is_active(
            &rules(chrono_tz::UTC, &[], None),
            utc(2026, 11, 18, 12, 0)
        ));
    }

    #[test]
    fn a_window_crossing_midnight_belongs_to_the_day_it_opens() {
        // Night shift Friday only, 22:00–06:00 in Berlin (UTC+1 in November).
        let night = rules(
            chrono_tz::Europe::Berlin,
            &[Weekday::Fri],
            Some(("22:00", "06:00")),
        );
        // Friday 2026-11-20 23:30 Berlin = 22:30 UTC.
        assert!(is_active(&night, utc(2026, 11, 20, 22, 30)));
        // Saturday 03:00 Berlin = Saturday 02:00 UTC: still Friday's window.
        assert!(is_active(&night, utc(2026, 11, 21, 2, 0)));
        // Saturday 06:00 Berlin: closed.
        assert!(!is_active(&night, utc(2026, 11, 21, 5, 0)));
        // Saturday 23:00 Berlin: Saturday is not active.
        assert!(!is_active(&night, utc(2026, 11, 21, 22, 0)));
        // Friday 03:00 Berlin: Thursday's window, and Thursday is not active.
        assert!(!is_active(&night, utc(2026, 11, 20, 2, 0)));
    }

    #[test]
    fn modes_flags_and_the_reply_once_window() {
        let now = utc(2026, 11, 18, 12, 0);
        let mut r = rules(chrono_tz::UTC, &WEEKDAYS, Some(("09:00", "17:00")));
        r.mode = ReplyMode::DuringActiveHours;
        assert!(should_reply(&r, now, FRESH));
        r.mode = ReplyMode::Always;
        assert!(should_reply(&r, now, FRESH));
        r.reply_unread_only = true;
        let read = ConversationState {
            unread_count: 0,
            ..FRESH
        };
        assert!(!should_reply(&r, now, read));
        r.reply_once_per_hours = Some(24);
        let replied = |hours_ago| ConversationState {
            last_auto_reply_at: Some(now - Duration::hours(hours_ago)),
            ..FRESH
        };
        assert!(!should_reply(&r, now, replied(23)));
        assert!(should_reply(&r, now, replied(24)));
        r.enabled = false;
        assert!(!should_reply(&r, now, FRESH));
    }

    #[test]
    fn spintax_picks_one_alternative_per_group_nested_too() {
        let message = "{Hi|Hello} [name], {we are {closed|away}|nobody is here} now.";
        let expected: BTreeSet<String> = [
            "Hi Ada, we are closed now.",
            "Hi Ada, we are away now.",
            "Hi Ada, nobody is here now.",
            "Hello Ada, we are closed now.",
            "Hello Ada, we are away now.",
            "Hello Ada, nobody is here now.",
        ]
        .map(String::from)
        .into();
        let mut seen = BTreeSet::new();
        let mut rng = StdRng::seed_from_u64(7);
        for _ in 0..200 {
            let text = render(message, Some("Ada"), &mut rng);
            assert!(expected.contains(&text), "{text:?}");
            seen.insert(text);
        }
        assert_eq!(seen, expected, "every alternative comes up");
        assert_eq!(render("{|}x", None, &mut rng), "x");
    }

    #[test]
    fn the_name_placeholder_falls_back_gracefully() {
        let mut rng = StdRng::seed_from_u64(1);
        assert_eq!(
            render("Hi [name], we are closed.", None, &mut rng),
            "Hi, we are closed."
        );
        assert_eq!(render("[name], hello", Some("  "), &mut rng), ", hello");
        assert_eq!(
            render("Hello [name]!", Some("María José"), &mut rng),
            "Hello María José!"
        );
    }

    #[test]
    fn messages_are_checked_for_balance_depth_and_size() {
        assert!(check_message("{Hi|Hello} [name]").is_ok());
        assert!(check_message("").unwrap_err().contains("empty"));
        assert!(
            check_message("{Hi")
                .unwrap_err()
                .contains("without its `}`")
        );
        assert!(
            check_message("Hi}")
                .unwrap_err()
                .contains("without its `{`")
        );
        let deep = format!("{}x{}", "{".repeat(9), "}".repeat(9));
        assert!(
            check_message(&deep)
                .unwrap_err()
                .contains("more than 8 deep")
        );
        assert!(
            check_message(&"a".repeat(2001))
                .unwrap_err()
                .contains("at most 2000")
        );
    }
}
