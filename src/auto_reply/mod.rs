//! Auto-replies ("bot" settings per sender): when a customer writes and the sender's rules say
//! so — outside (or during) the active days and hours in the sender's time zone, or always — the
//! default message (spintax, `[name]`) is sent through the normal send path, so it is a real
//! message and send attempt in the conversation, with the same limits.
//!
//! - Answered: customers' messages of every type except reactions and unsupported/unknown ones
//!   (a reaction or a system notice is not someone waiting for an answer). Parley's own
//!   messages never arrive as inbound messages, and delivery statuses never reach the bot, so it
//!   never answers itself. A disconnected sender does not answer.
//! - The active window is judged when the message is applied (in practice, as it arrives), in
//!   the sender's time zone; [`rules::should_reply`] takes that instant, so tests fix it.
//! - Once per inbound message: the reply's idempotency key derives from the inbound wamid and
//!   the `auto_replies` row is keyed by the inbound message, so a duplicated webhook never
//!   replies twice. The reply is queued after the inbound message is committed; if that fails
//!   (database down, daily cap reached) it is logged and not retried: a late away message is
//!   worse than none.
//! - `replyUnreadOnly`: no reply when an agent has already read the conversation when the bot
//!   decides (it decides as the message is applied, so this matters for deliveries applied late).
//! - `replyOncePerHours`: at most one auto-reply per conversation in that many hours (two
//!   messages applied at the same instant may both be answered).

pub mod rules;

use std::collections::HashSet;

use chrono::{DateTime, NaiveTime, Utc, Weekday};
use chrono_tz::Tz;
use entity::{
    WorkspaceScoped, auto_reply, auto_reply_setting, contact, conversation,
    message::MessageType,
    sender::{self, SenderStatus},
};
use rand::{SeedableRng, rngs::StdRng};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder,
    sea_query::OnConflict,
};
use serde_json::json;
use sha2::{Digest, Sha256};
use uuid::Uuid;

pub use rules::{ConversationState, ReplyMode, Rules, should_reply};

use crate::{
    domain::{ContentInput, Name},
    error::AppError,
    sending::{self, SendRequest, SenderChoice},
    services::Services,
};

const DEFAULT_MESSAGE: &str =
    "{Hi|Hello} [name], thanks for your message. We are away right now and will answer soon.";
const ALL_DAYS: [Weekday; 7] = [
    Weekday::Mon,
    Weekday::Tue,
    Weekday::Wed,
    Weekday::Thu,
    Weekday::Fri,
    Weekday::Sat,
    Weekday::Sun,
];
const MAX_REPLY_ONCE_HOURS: i32 = 24 * 365;

/// A sender's settings as stored, or the defaults (off) when never set.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub sender_id: Uuid,
    pub bot_name: Option<String>,
    pub language: Option<String>,
    pub default_message: String,
    pub rules: Rules,
    pub updated_at: Option<DateTime<Utc>>,
}

fn day_name(day: Weekday) -> &'static str {
    match day {
        Weekday::Mon => "MONDAY",
        Weekday::Tue => "TUESDAY",
        Weekday::Wed => "WEDNESDAY",
        Weekday::Thu => "THURSDAY",
        Weekday::Fri => "FRIDAY",
        Weekday::Sat => "SATURDAY",
        Weekday::Sun => "SUNDAY",
    }
}

fn parse_day(name: &str) -> Option<Weekday> {
    ALL_DAYS.into_iter().find(|day| day_name(*day) == name)
}

/// `HH:MM` (or `H:MM`), 00:00 to 23:59.
pub fn parse_time(field: &str, text: &str) -> Result<NaiveTime, AppError> {
    NaiveTime::parse_from_str(text.trim(), "%H:%M").map_err(|_| {
        AppError::invalid(format!(
            "{field} must be a time of day such as 09:00 or 17:30"
        ))
    })
}

fn format_time(time: NaiveTime) -> String {
    time.format("%H:%M").to_string()
}

impl Settings {
    fn defaults(sender_id: Uuid) -> Self {
        Self {
            sender_id,
            bot_name: None,
            language: None,
            default_message: DEFAULT_MESSAGE.into(),
            rules: Rules {
                enabled: false,
                timezone: chrono_tz::UTC,
                active_days: ALL_DAYS.into_iter().collect(),
                active_hours: None,
                mode: ReplyMode::OutsideActiveHours,
                reply_unread_only: false,
                reply_once_per_hours: Some(24),
            },
            updated_at: None,
        }
    }

    fn from_model(model: auto_reply_setting::Model) -> Self {
        let mut settings = Self::defaults(model.sender_id);
        let time = |t: &Option<String>| {
            t.as_deref()
                .and_then(|t| NaiveTime::parse_from_str(t, "%H:%M").ok())
        };
        settings.bot_name = model.bot_name;
        settings.language = model.language;
        settings.default_message = model.default_message;
        settings.rules = Rules {
            enabled: model.enabled,
            timezone: model.timezone.parse().unwrap_or(chrono_tz::UTC),
            active_days: model
                .active_days
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|day| day.as_str().and_then(parse_day))
                .collect(),
            active_hours: time(&model.active_from).zip(time(&model.active_to)),
            mode: ReplyMode::parse(&model.mode).unwrap_or(ReplyMode::OutsideActiveHours),
            reply_unread_only: model.reply_unread_only,
            reply_once_per_hours: model
                .reply_once_per_hours
                .and_then(|hours| u32::try_from(hours).ok()),
        };
        settings.updated_at = Some(model.updated_at);
        settings
    }

    /// Active days, Monday first, as upper-case English names.
    pub fn active_day_names(&self) -> Vec<&'static str> {
        ALL_DAYS
            .into_iter()
            .filter(|day| self.rules.active_days.contains(day))
            .map(day_name)
            .collect()
    }

    /// `(from, to)` as `HH:MM`, or `None` for all day.
    pub fn active_hours_text(&self) -> Option<(String, String)> {
        self.rules
            .active_hours
            .map(|(from, to)| (format_time(from), format_time(to)))
    }
}

impl Settings {
    /// The settings `stored` for `sender_id`, or the defaults when none are.
    pub fn of(sender_id: Uuid, stored: Option<auto_reply_setting::Model>) -> Self {
        stored.map_or_else(|| Self::defaults(sender_id), Self::from_model)
    }
}

/// The auto-reply settings of a sender of `workspace_id`.
pub async fn settings(
    db: &DatabaseConnection,
    workspace_id: Uuid,
    sender_id: Uuid,
) -> Result<Settings, AppError> {
    Ok(auto_reply_setting::Entity::find_in_workspace(workspace_id)
        .filter(auto_reply_setting::Column::SenderId.eq(sender_id))
        .one(db)
        .await?
        .map_or_else(|| Settings::defaults(sender_id), Settings::from_model))
}

/// Changes to the settings; `None` leaves one as it is.
#[derive(Debug, Default)]
pub struct SettingsChange {
    pub enabled: Option<bool>,
    /// `Some(None)` clears it.
    pub bot_name: Option<Option<String>>,
    pub timezone: Option<String>,
    pub language: Option<Option<String>>,
    pub default_message: Option<String>,
    /// Upper-case English day names.
    pub active_days: Option<Vec<String>>,
    /// `Some(None)`: all day; `Some(Some((from, to)))` as `HH:MM`.
    pub active_hours: Option<Option<(String, String)>>,
    pub mode: Option<ReplyMode>,
    pub reply_unread_only: Option<bool>,
    /// `Some(None)`: answer every message.
    pub reply_once_per_hours: Option<Option<i32>>,
}

/// Validates and stores a change to a sender's settings.
pub async fn update(
    db: &DatabaseConnection,
    workspace_id: Uuid,
    sender_id: Uuid,
    change: SettingsChange,
) -> Result<Settings, AppError> {
    sender::Entity::find_by_id_in_workspace(workspace_id, sender_id)
        .one(db)
        .await?
        .ok_or_else(|| AppError::not_found("sender"))?;
    let mut next = settings(db, workspace_id, sender_id).await?;
    if let Some(enabled) = change.enabled {
        next.rules.enabled = enabled;
    }
    if let Some(name) = change.bot_name {
        next.bot_name = name
            .filter(|name| !name.trim().is_empty())
            .map(|name| Name::parse("botName", &name).map(String::from))
            .transpose()?;
    }
    if let Some(timezone) = change.timezone {
        next.rules.timezone = timezone.trim().parse::<Tz>().map_err(|_| {
            AppError::invalid(format!(
                "timezone {:?} is not an IANA time zone such as Europe/Berlin or Asia/Kolkata",
                timezone.chars().take(64).collect::<String>()
            ))
        })?;
    }
    if let Some(language) = change.language {
        next.language = match language
            .map(|l| l.trim().to_owned())
            .filter(|l| !l.is_empty())
        {
            Some(l)
                if l.len() <= 16
                    && l.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') =>
            {
                Some(l)
            }
            Some(_) => {
                return Err(AppError::invalid(
                    "language must be a code such as en or pt_BR",
                ));
            }
            None => None,
        };
    }
    if let Some(message) = change.default_message {
        rules::check_message(&message).map_err(AppError::invalid)?;
        next.default_message = message;
    }
    if let Some(days) = change.active_days {
        let mut parsed = HashSet::new();
        for day in days.iter().take(ALL_DAYS.len() + 1) {
            let upper = day.trim().to_ascii_uppercase();
            parsed.insert(parse_day(&upper).ok_or_else(|| {
                AppError::invalid("activeDays are day names: MONDAY, TUESDAY, … SUNDAY")
            })?);
        }
        if days.len() > ALL_DAYS.len() {
            return Err(AppError::invalid("activeDays names each day at most once"));
        }
        next.rules.active_days = parsed;
    }
    if let Some(hours) = change.active_hours {
        next.rules.active_hours = match hours {
            None => None,
            Some((from, to)) => Some((
                parse_time("activeHours.from", &from)?,
                parse_time("activeHours.to", &to)?,
            )),
        };
    }
    if let Some(mode) = change.mode {
        next.rules.mode = mode;
    }
    if let Some(unread) = change.reply_unread_only {
        next.rules.reply_unread_only = unread;
    }
    if let Some(hours) = change.reply_once_per_hours {
        next.rules.reply_once_per_hours = match hours {
            None => None,
            Some(h) if (1..=MAX_REPLY_ONCE_HOURS).contains(&h) => u32::try_from(h).ok(),
            Some(_) => {
                return Err(AppError::invalid(format!(
                    "replyOncePerHours must be between 1 and {MAX_REPLY_ONCE_HOURS}, or null"
                )));
            }
        };
    }

    let now = Utc::now();
    let (from, to) = next.active_hours_text().unzip();
    let row = auto_reply_setting::ActiveModel {
        sender_id: Set(sender_id),
        workspace_id: Set(workspace_id),
        enabled: Set(next.rules.enabled),
        bot_name: Set(next.bot_name.clone()),
        timezone: Set(next.rules.timezone.name().to_owned()),
        language: Set(next.language.clone()),
        default_message: Set(next.default_message.clone()),
        active_days: Set(json!(next.active_day_names())),
        active_from: Set(from),
        active_to: Set(to),
        mode: Set(next.rules.mode.as_str().to_owned()),
        reply_unread_only: Set(next.rules.reply_unread_only),
        reply_once_per_hours: Set(next
            .rules
            .reply_once_per_hours
            .and_then(|h| i32::try_from(h).ok())),
        created_at: Set(now),
        updated_at: Set(now),
    };
    auto_reply_setting::Entity::insert(row)
        .on_conflict(
            OnConflict::column(auto_reply_setting::Column::SenderId)
                .update_columns([
                    auto_reply_setting::Column::Enabled,
                    auto_reply_setting::Column::BotName,
                    auto_reply_setting::Column::Timezone,
                    auto_reply_setting::Column::Language,
                    auto_reply_setting::Column::DefaultMessage,
                    auto_reply_setting::Column::ActiveDays,
                    auto_reply_setting::Column::ActiveFrom,
                    auto_reply_setting::Column::ActiveTo,
                    auto_reply_setting::Column::Mode,
                    auto_reply_setting::Column::ReplyUnreadOnly,
                    auto_reply_setting::Column::ReplyOncePerHours,
                    auto_reply_setting::Column::UpdatedAt,
                ])
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    settings(db, workspace_id, sender_id).await
}

/// A customer's message just stored, as the bot sees it.
pub struct Inbound<'a> {
    pub message_id: Uuid,
    pub wamid: &'a str,
    pub message_type: MessageType,
    pub conversation_id: Uuid,
    pub contact: &'a contact::Model,
    /// The name to greet: the contact's, else the WhatsApp profile's.
    pub name: Option<&'a str>,
}

/// Whether a message of this type is someone waiting for an answer.
fn answers(message_type: MessageType) -> bool {
    !matches!(
        message_type,
        MessageType::Reaction | MessageType::Unsupported
    )
}

/// Sends the sender's default message in reply to `inbound` when its rules say so at `now`.
/// Failures are logged, never returned: the inbound message is stored either way.
pub async fn reply_to_inbound(
    services: &Services,
    sender: &sender::Model,
    inbound: Inbound<'_>,
    now: DateTime<Utc>,
) {
    if let Err(error) = try_reply(services, sender, &inbound, now).await {
        tracing::warn!(
            sender_id = %sender.id,
            message_id = %inbound.message_id,
            ?error,
            "auto-reply not sent"
        );
    }
}

async fn try_reply(
    services: &Services,
    sender: &sender::Model,
    inbound: &Inbound<'_>,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    let db = &services.db;
    if !answers(inbound.message_type) || sender.status == SenderStatus::Disconnected {
        return Ok(());
    }
    let Some(stored) = auto_reply_setting::Entity::find_by_id(sender.id)
        .one(db)
        .await?
    else {
        return Ok(());
    };
    if !stored.enabled {
        return Ok(());
    }
    let settings = Settings::from_model(stored);
    let unread_count = conversation::Entity::find_by_id(inbound.conversation_id)
        .one(db)
        .await?
        .map_or(0, |conversation| conversation.unread_count);
    let last_auto_reply_at = auto_reply::Entity::find()
        .filter(auto_reply::Column::ConversationId.eq(inbound.conversation_id))
        .order_by_desc(auto_reply::Column::CreatedAt)
        .one(db)
        .await?
        .map(|reply| reply.created_at);
    let state = ConversationState {
        unread_count,
        last_auto_reply_at,
    };
    if !should_reply(&settings.rules, now, state) {
        return Ok(());
    }
    // Seeded by the inbound message, so a retried reply is the same text (and request).
    let seed = Sha256::digest(inbound.wamid.as_bytes());
    let mut rng = StdRng::from_seed(seed.into());
    let text = rules::render(&settings.default_message, inbound.name, &mut rng);
    let key: String = format!("auto-reply:{}", inbound.wamid)
        .chars()
        .filter(|c| c.is_ascii_graphic())
        .take(255)
        .collect();
    let request = SendRequest {
        to: inbound.contact.phone.clone(),
        sender: SenderChoice::Id(sender.id.to_string()),
        content: ContentInput {
            message_type: Some("text".into()),
            text: Some(text.clone()),
            ..ContentInput::default()
        },
        reply_to: None,
        contact_name: None,
        idempotency_key: Some(key),
        canonical: json!({"surface": "auto_reply", "inbound": inbound.wamid, "text": text}),
    };
    let sent = sending::send_automatic(services, sender, request).await?;
    auto_reply::Entity::insert(auto_reply::ActiveModel {
        inbound_message_id: Set(inbound.message_id),
        workspace_id: Set(sender.workspace_id),
        sender_id: Set(sender.id),
        conversation_id: Set(sent.conversation.id),
        message_id: Set(sent.message.id),
        send_attempt_id: Set(sent.attempt.id),
        created_at: Set(Utc::now()),
    })
    .on_conflict(
        OnConflict::column(auto_reply::Column::InboundMessageId)
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    Ok(())
}
