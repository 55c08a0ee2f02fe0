//! Templates and auto-replies of a sender (scope `senders:manage`: owners and admins, or keys
//! with that scope).

use std::sync::Arc;

use async_graphql::{Context, ID, InputObject, MaybeUndefined, Object, Result};
use sea_orm::DatabaseConnection;

use crate::{
    auth::Scope,
    auto_reply::{self, SettingsChange},
    config::Config,
    db::ServerSecrets,
    graphql::{
        guard::{RequireScope, principal},
        object::{AutoReplyMode, AutoReplySettings, MessageTemplate, Weekday},
        parse_id,
    },
    templates,
};

/// Local opening hours, `HH:MM` (`from` may be after `to` to cross midnight). `always` for
/// both, like leaving activeHours null, means all day.
#[derive(InputObject)]
pub struct ActiveHoursInput {
    pub from: String,
    pub to: String,
}

/// Changes to a sender's auto-reply settings; a field left out stays as it is.
#[derive(InputObject)]
pub struct AutoReplyInput {
    pub enabled: Option<bool>,
    /// Null clears it.
    pub bot_name: MaybeUndefined<String>,
    /// IANA time zone, e.g. `Asia/Kolkata`.
    pub timezone: Option<String>,
    /// Null clears it.
    pub language: MaybeUndefined<String>,
    /// Spintax `{Hi|Hello}` (nested allowed, at most 8 deep) and `[name]`; at most 2000
    /// characters.
    pub default_message: Option<String>,
    pub active_days: Option<Vec<Weekday>>,
    /// Null: all day.
    pub active_hours: MaybeUndefined<ActiveHoursInput>,
    pub mode: Option<AutoReplyMode>,
    pub reply_unread_only: Option<bool>,
    /// At most one auto-reply per conversation in this many hours (1 to 8760); null: every
    /// message.
    pub reply_once_per_hours: MaybeUndefined<i32>,
}

/// Left out: no change (`None`); null: cleared (`Some(None)`).
fn change<T>(value: MaybeUndefined<T>) -> Option<Option<T>> {
    match value {
        MaybeUndefined::Undefined => None,
        MaybeUndefined::Null => Some(None),
        MaybeUndefined::Value(value) => Some(Some(value)),
    }
}

#[derive(Default)]
pub struct AutomationMutation;

#[Object]
impl AutomationMutation {
    /// Reads the sender's message templates from its WhatsApp Business Account (all pages) and
    /// stores them: new ones added, changed ones updated, ones Meta no longer lists removed.
    /// A SANDBOX sender gets Meta's sample `hello_world` (en_US). Returns the stored list.
    #[graphql(guard = "RequireScope(Scope::SendersManage)")]
    async fn sync_templates(
        &self,
        ctx: &Context<'_>,
        sender_id: ID,
    ) -> Result<Vec<MessageTemplate>> {
        let db = ctx.data::<DatabaseConnection>()?;
        let secrets = ctx.data::<Arc<ServerSecrets>>()?;
        let config = ctx.data::<Arc<Config>>()?;
        let sender_id = parse_id(&sender_id, "sender")?;
        let workspace_id = principal(ctx)?.workspace_id;
        let rows = templates::sync(db, secrets, config, workspace_id, sender_id).await?;
        Ok(rows.into_iter().map(MessageTemplate).collect())
    }

    /// Changes a sender's auto-reply settings (scope `senders:manage`).
    #[graphql(guard = "RequireScope(Scope::SendersManage)")]
    async fn update_auto_reply(
        &self,
        ctx: &Context<'_>,
        sender_id: ID,
        input: AutoReplyInput,
    ) -> Result<AutoReplySettings> {
        let db = ctx.data::<DatabaseConnection>()?;
        let sender_id = parse_id(&sender_id, "sender")?;
        let always = |hours: &ActiveHoursInput| {
            hours.from.trim().eq_ignore_ascii_case("always")
                && hours.to.trim().eq_ignore_ascii_case("always")
        };
        let change = SettingsChange {
            enabled: input.enabled,
            bot_name: change(input.bot_name),
            timezone: input.timezone,
            language: change(input.language),
            default_message: input.default_message,
            active_days: input
                .active_days
                .map(|days| days.into_iter().map(|d| d.as_str().to_owned()).collect()),
            active_hours: change(input.active_hours).map(|hours| {
                hours
                    .filter(|hours| !always(hours))
                    .map(|hours| (hours.from, hours.to))
            }),
            mode: input.mode.map(Into::into),
            reply_unread_only: input.reply_unread_only,
            reply_once_per_hours: change(input.reply_once_per_hours),
        };
        let settings =
            auto_reply::update(db, principal(ctx)?.workspace_id, sender_id, change).await?;
        Ok(AutoReplySettings(settings))
    }
}
