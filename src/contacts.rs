//! Contacts as the CRM sees them: finding them (by phone, by a search, by tag) and changing what
//! the CRM owns — the name, tags and custom attributes. Sends and inbound messages create
//! contacts too, through [`find_or_create_contact`]; everything converges on the same row per
//! (workspace, phone).

use chrono::Utc;
use entity::{WorkspaceScoped, contact, new_id};
use sea_orm::{
    ActiveModelTrait,
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, DbErr, EntityTrait, QueryFilter,
    QuerySelect, Select,
    sea_query::{Expr, ExprTrait, Func, LikeExpr, OnConflict},
};
use serde_json::{Map, Value, json};
use uuid::Uuid;

use crate::{
    db,
    domain::{Name, Phone},
    error::AppError,
    events::{Event, EventBus, UnitOfWork},
};

const MAX_TAG_LEN: usize = 64;
const MAX_TAGS: usize = 50;
const MAX_SEARCH_LEN: usize = 100;
/// Serialised size of a contact's custom attributes.
const MAX_ATTRIBUTES_BYTES: usize = 16 * 1024;

/// A tag: trimmed, 1 to 64 characters, no control characters. Tags match exactly.
pub fn parse_tag(tag: &str) -> Result<String, AppError> {
    let tag = tag.trim();
    if tag.is_empty() || tag.chars().count() > MAX_TAG_LEN || tag.chars().any(char::is_control) {
        return Err(AppError::invalid(format!(
            "a tag must be 1 to {MAX_TAG_LEN} characters without control characters"
        )));
    }
    Ok(tag.to_owned())
}

/// Tags as given, checked, without duplicates, in their first order.
pub fn parse_tags(tags: &[String]) -> Result<Vec<String>, AppError> {
    let mut parsed: Vec<String> = Vec::with_capacity(tags.len());
    for tag in tags {
        let tag = parse_tag(tag)?;
        if !parsed.contains(&tag) {
            parsed.push(tag);
        }
    }
    Ok(parsed)
}

/// The tags stored on a contact.
pub fn tags_of(contact: &contact::Model) -> Vec<String> {
    serde_json::from_value(contact.tags.clone()).unwrap_or_default()
}

/// Which contacts a list shows.
#[derive(Debug, Default, Clone)]
pub struct ContactFilter {
    search: Option<Search>,
    tag: Option<String>,
}

#[derive(Debug, Clone)]
enum Search {
    /// Names containing the text, whatever its case.
    Name(String),
    /// A number's first digits (or a name containing them).
    Digits(String),
}

impl ContactFilter {
    /// `search` matches names containing it (case-insensitively) or, when it reads as the start of
    /// a phone number (`+44 77…`), numbers starting with it; `tag` keeps contacts carrying it.
    pub fn parse(search: Option<&str>, tag: Option<&str>) -> Result<Self, AppError> {
        let search = match search.map(str::trim).filter(|text| !text.is_empty()) {
            None => None,
            Some(text) if text.chars().count() > MAX_SEARCH_LEN => {
                return Err(AppError::invalid(format!(
                    "search must be at most {MAX_SEARCH_LEN} characters"
                )));
            }
            Some(text) => {
                let digits: String = text
                    .chars()
                    .filter(|c| !matches!(c, '+' | ' ' | '-' | '.' | '(' | ')'))
                    .collect();
                if !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit()) {
                    Some(Search::Digits(digits))
                } else {
                    Some(Search::Name(text.to_lowercase()))
                }
            }
        };
        let tag = tag.map(parse_tag).transpose()?;
        Ok(Self { search, tag })
    }

    /// Names the filtered list, so that a cursor is only good for the filters it was made under.
    pub fn list_name(&self) -> String {
        let search = match &self.search {
            None => Value::Null,
            Some(Search::Name(text)) => json!({"name": text}),
            Some(Search::Digits(digits)) => json!({"digits": digits}),
        };
        format!("contacts {}", json!([search, self.tag]))
    }

    pub fn apply(
        &self,
        select: Select<contact::Entity>,
        backend: DbBackend,
    ) -> Select<contact::Entity> {
        let mut select = select;
        match &self.search {
            None => {}
            Some(Search::Name(text)) => select = select.filter(name_contains(text)),
            Some(Search::Digits(digits)) => {
                select = select.filter(phone_starts_with(digits).or(name_contains(digits)))
            }
        }
        if let Some(tag) = &self.tag {
            select = select.filter(has_tag(tag, backend));
        }
        select
    }
}

fn name_contains(text: &str) -> Expr {
    let mut pattern = String::from("%");
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    Expr::expr(Func::lower(contact::Column::Name.into_expr()))
        .like(LikeExpr::new(pattern).escape('\\'))
}

/// `phone >= '4477' AND phone < '4478'`: a range the (workspace, phone) index answers on both
/// databases, unlike `LIKE '4477%'`.
fn phone_starts_with(digits: &str) -> Expr {
    let from = contact::Column::Phone.gte(digits);
    let mut upper = digits.trim_end_matches('9').to_owned();
    match upper.pop() {
        // Only nines: every number at or above them starts with them.
        None => from,
        Some(last) => {
            upper.push((last as u8 + 1) as char);
            from.and(contact::Column::Phone.lt(upper))
        }
    }
}

/// Tags are a JSON array: Postgres asks jsonb containment, SQLite walks the array.
fn has_tag(tag: &str, backend: DbBackend) -> Expr {
    match backend {
        DbBackend::Postgres => Expr::cust_with_values(
            r#""contacts"."tags" @> $1::jsonb"#,
            [json!([tag]).to_string()],
        ),
        _ => Expr::cust_with_values(
            r#"EXISTS (SELECT 1 FROM json_each("contacts"."tags") WHERE json_each.value = ?)"#,
            [tag.to_owned()],
        ),
    }
}

/// The workspace's contact with this number.
pub async fn find_by_phone(
    db: &impl ConnectionTrait,
    workspace_id: Uuid,
    phone: &Phone,
) -> Result<Option<contact::Model>, AppError> {
    Ok(contact::Entity::find_in_workspace(workspace_id)
        .filter(contact::Column::Phone.eq(phone.digits()))
        .one(db)
        .await?)
}

/// What `upsertContact` changes; what is left out stays as it is.
#[derive(Debug, Default)]
pub struct ContactChanges {
    /// `Some(None)` clears the name.
    pub name: Option<Option<String>>,
    /// Replaces the tags.
    pub tags: Option<Vec<String>>,
    /// Merged into the attributes (JSON merge patch: a null removes its key).
    pub attributes: Option<Value>,
}

/// The workspace's contact for the number (digits), created — named `name` — if there is none.
/// Concurrent first messages to or from one number converge on one row through the unique
/// (workspace, phone) constraint. Returns whether this call created it.
pub async fn find_or_create_contact(
    uow: &mut UnitOfWork<'_>,
    workspace_id: Uuid,
    phone: &str,
    name: Option<String>,
    now: chrono::DateTime<Utc>,
) -> Result<(contact::Model, bool), DbErr> {
    let inserted = contact::Entity::insert(contact::ActiveModel {
        id: Set(new_id()),
        workspace_id: Set(workspace_id),
        phone: Set(phone.to_owned()),
        wa_id: Set(None),
        name: Set(name),
        tags: Set(serde_json::json!([])),
        attributes: Set(serde_json::json!({})),
        last_message_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    })
    .on_conflict(
        OnConflict::columns([contact::Column::WorkspaceId, contact::Column::Phone])
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(uow.txn())
    .await?;
    let contact = contact::Entity::find_in_workspace(workspace_id)
        .filter(contact::Column::Phone.eq(phone))
        .one(uow.txn())
        .await?
        .ok_or(DbErr::RecordNotFound("contact just upserted".into()))?;
    if inserted == 1 {
        uow.add(Event::ContactCreated {
            contact: contact.clone(),
        });
    }
    Ok((contact, inserted == 1))
}

/// Finds or creates the contact for `phone` and applies `changes`; returns whether it was
/// created.
pub async fn upsert(
    db: &DatabaseConnection,
    bus: &EventBus,
    workspace_id: Uuid,
    phone: &str,
    changes: ContactChanges,
) -> Result<(contact::Model, bool), AppError> {
    let phone = Phone::parse(phone).map_err(AppError::from)?;
    let name = changes
        .name
        .map(|name| {
            name.map(|name| Name::parse("name", &name).map(String::from))
                .transpose()
        })
        .transpose()?;
    let tags = changes.tags.as_deref().map(parse_tags).transpose()?;
    if let Some(tags) = &tags
        && tags.len() > MAX_TAGS
    {
        return Err(AppError::invalid(format!(
            "a contact has at most {MAX_TAGS} tags"
        )));
    }
    if let Some(attributes) = &changes.attributes
        && !attributes.is_object()
    {
        return Err(AppError::invalid("attributes must be a JSON object"));
    }

    let now = Utc::now();
    let mut uow = UnitOfWork::begin(db, bus).await?;
    let (contact, created) =
        find_or_create_contact(&mut uow, workspace_id, phone.digits(), None, now).await?;
    // Locked (on Postgres; SQLite's write transaction already excludes every other writer) so
    // that concurrent changes to its tags or attributes never lose one another.
    let contact = lock(uow.txn(), workspace_id, contact.id).await?;
    let mut attributes = contact.attributes.clone();
    if let Some(patch) = changes.attributes {
        merge_patch(&mut attributes, patch);
        check_attributes_size(&attributes)?;
    }
    let mut row: contact::ActiveModel = contact.into();
    if let Some(name) = name {
        row.name = Set(name);
    }
    if let Some(tags) = tags {
        row.tags = Set(json!(tags));
    }
    row.attributes = Set(attributes);
    row.updated_at = Set(now);
    let contact = row.update(uow.txn()).await?;
    uow.commit().await?;
    Ok((contact, created))
}

/// Adds (`add`) or removes tags on the contact `id`; `not_found` when it is not the workspace's.
pub async fn retag(
    db: &DatabaseConnection,
    workspace_id: Uuid,
    id: Uuid,
    tags: &[String],
    add: bool,
) -> Result<contact::Model, AppError> {
    let tags = parse_tags(tags)?;
    let txn = db::begin_write(db).await?;
    let contact = lock(&txn, workspace_id, id).await?;
    let mut current = tags_of(&contact);
    if add {
        current.extend(
            tags.into_iter()
                .filter(|tag| !current.contains(tag))
                .collect::<Vec<_>>(),
        );
        if current.len() > MAX_TAGS {
            return Err(AppError::invalid(format!(
                "a contact has at most {MAX_TAGS} tags"
            )));
        }
    } else {
        current.retain(|tag| !tags.contains(tag));
    }
    let mut row: contact::ActiveModel = contact.into();
    row.tags = Set(json!(current));
    row.updated_at = Set(Utc::now());
    let contact = row.update(&txn).await?;
    txn.commit().await?;
    Ok(contact)
}

async fn lock(
    txn: &sea_orm::DatabaseTransaction,
    workspace_id: Uuid,
    id: Uuid,
) -> Result<contact::Model, AppError> {
    contact::Entity::find_by_id_in_workspace(workspace_id, id)
        .lock_exclusive()
        .one(txn)
        .await?
        .ok_or_else(|| AppError::not_found("contact"))
}

/// RFC 7396 JSON merge patch: objects merge key by key, a null removes its key, anything else
/// replaces.
fn merge_patch(target: &mut Value, patch: Value) {
    let Value::Object(patch) = patch else {
        *target = patch;
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let target = target.as_object_mut().expect("made an object above");
    for (key, value) in patch {
        if matches!(value, Value::Null) {
            target.remove(&key);
        } else {
            merge_patch(target.entry(key).or_insert(Value::Null), value);
        }
    }
}

fn check_attributes_size(attributes: &Value) -> Result<(), AppError> {
    if attributes.to_string().len() > MAX_ATTRIBUTES_BYTES {
        return Err(AppError::invalid(format!(
            "a contact's attributes must stay under {} KiB",
            MAX_ATTRIBUTES_BYTES / 1024
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_patch_merges_removes_and_replaces() {
        let mut target = json!({"plan": "pro", "address": {"city": "Leeds", "zip": "LS1"}});
        merge_patch(
            &mut target,
            json!({"plan": null, "address": {"zip": "LS2"}, "vip": true}),
        );
        assert_eq!(
            target,
            json!({"address": {"city": "Leeds", "zip": "LS2"}, "vip": true})
        );
    }

    #[test]
    fn searches_read_as_digits_or_names() {
        let filter = ContactFilter::parse(Some(" +44 (77) "), None).unwrap();
        assert!(matches!(filter.search, Some(Search::Digits(ref d)) if d == "4477"));
        let filter = ContactFilter::parse(Some("Ada L"), Some(" vip ")).unwrap();
        assert!(matches!(filter.search, Some(Search::Name(ref n)) if n == "ada l"));
        assert_eq!(filter.tag.as_deref(), Some("vip"));
        assert!(ContactFilter::parse(Some(&"x".repeat(101)), None).is_err());
        assert!(ContactFilter::parse(None, Some("  ")).is_err());
    }

    #[test]
    fn tags_are_checked_and_deduplicated() {
        let tags = parse_tags(&["vip".into(), " vip ".into(), "new".into()]).unwrap();
        assert_eq!(tags, ["vip", "new"]);
        assert!(parse_tags(&["".into()]).is_err());
        assert!(parse_tags(&["x".repeat(65)]).is_err());
    }
}
