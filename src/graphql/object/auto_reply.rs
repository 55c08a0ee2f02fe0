use async_graphql::{Enum, ID, Object, SimpleObject};
use chrono::{DateTime, Utc};

use crate::auto_reply::{ReplyMode, Settings};

/// When a sender's bot answers, relative to its active days and hours.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum AutoReplyMode {
    /// Away messages: only outside the active days and hours (the default).
    OutsideActiveHours,
    /// Only within the active days and hours.
    DuringActiveHours,
    /// Whatever the time.
    Always,
}

impl From<ReplyMode> for AutoReplyMode {
    fn from(mode: ReplyMode) -> Self {
        match mode {
            ReplyMode::OutsideActiveHours => Self::OutsideActiveHours,
            ReplyMode::DuringActiveHours => Self::DuringActiveHours,
            ReplyMode::Always => Self::Always,
        }
    }
}

impl From<AutoReplyMode> for ReplyMode {
    fn from(mode: AutoReplyMode) -> Self {
        match mode {
            AutoReplyMode::OutsideActiveHours => Self::OutsideActiveHours,
            AutoReplyMode::DuringActiveHours => Self::DuringActiveHours,
            AutoReplyMode::Always => Self::Always,
        }
    }
}

/// A day of the week.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum Weekday {
    Monday,
    Tuesday,
    Wednesday,
    Thursday,
    Friday,
    Saturday,
    Sunday,
}

impl Weekday {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Monday => "MONDAY",
            Self::Tuesday => "TUESDAY",
            Self::Wednesday => "WEDNESDAY",
            Self::Thursday => "THURSDAY",
            Self::Friday => "FRIDAY",
            Self::Saturday => "SATURDAY",
            Self::Sunday => "SUNDAY",
        }
    }

    fn parse(name: &str) -> Option<Self> {
        [
            Self::Monday,
            Self::Tuesday,
            Self::Wednesday,
            Self::Thursday,
            Self::Friday,
            Self::Saturday,
            Self::Sunday,
        ]
        .into_iter()
        .find(|day| day.as_str() == name)
    }
}

/// Local opening hours, `HH:MM`, `from` included and `to` excluded. `from` after `to` crosses
/// midnight (22:00 to 06:00), belonging to the day it opens on.
#[derive(SimpleObject)]
pub struct ActiveHours {
    pub from: String,
    pub to: String,
}

/// A sender's auto-reply ("bot") settings.
pub struct AutoReplySettings(pub Settings);

#[Object]
impl AutoReplySettings {
    /// The sender these settings belong to.
    async fn sender_id(&self) -> ID {
        self.0.sender_id.into()
    }

    /// Whether the bot answers at all (off until turned on).
    async fn enabled(&self) -> bool {
        self.0.rules.enabled
    }

    /// The bot's display name, for CRMs to show beside its messages.
    async fn bot_name(&self) -> Option<&str> {
        self.0.bot_name.as_deref()
    }

    /// IANA time zone the active days and hours are read in (default UTC).
    async fn timezone(&self) -> &str {
        self.0.rules.timezone.name()
    }

    /// Language code of the bot's messages, for CRMs.
    async fn language(&self) -> Option<&str> {
        self.0.language.as_deref()
    }

    /// The reply: spintax `{Hi|Hello}` (one alternative per group, nested groups allowed) and
    /// `[name]`, the contact's name (removed, with the space before it, when unknown).
    async fn default_message(&self) -> &str {
        &self.0.default_message
    }

    /// Days the active window opens on, Monday first.
    async fn active_days(&self) -> Vec<Weekday> {
        self.0
            .active_day_names()
            .into_iter()
            .filter_map(Weekday::parse)
            .collect()
    }

    /// Active hours on active days; null means all day ("always").
    async fn active_hours(&self) -> Option<ActiveHours> {
        self.0
            .active_hours_text()
            .map(|(from, to)| ActiveHours { from, to })
    }

    async fn mode(&self) -> AutoReplyMode {
        self.0.rules.mode.into()
    }

    /// Answer only messages still unread (no agent read the conversation) when the bot decides.
    async fn reply_unread_only(&self) -> bool {
        self.0.rules.reply_unread_only
    }

    /// At most one auto-reply per conversation in this many hours; null answers every message.
    async fn reply_once_per_hours(&self) -> Option<i32> {
        self.0
            .rules
            .reply_once_per_hours
            .and_then(|hours| i32::try_from(hours).ok())
    }

    /// Null until the settings are first changed.
    async fn updated_at(&self) -> Option<DateTime<Utc>> {
        self.0.updated_at
    }
}
