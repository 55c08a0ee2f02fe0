//! Interactive messages (reply buttons or a list to pick from): the rules for Meta's shape and
//! the flat one, the stored (flat) form and Meta's `interactive` object.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{
    ContentError, ContentErrorKind::InvalidRequest, check_max, check_required, lowercase_member,
    present,
};

const BUTTONS_MAX: usize = 3;
const BUTTON_TITLE_MAX: usize = 20;
const BUTTON_ID_MAX: usize = 256;
const BUTTONS_BODY_MAX: usize = 1024;
const HEADER_MAX: usize = 60;
const FOOTER_MAX: usize = 60;
const LIST_BODY_MAX: usize = 4096;
const LIST_BUTTON_MAX: usize = 20;
const LIST_SECTIONS_MAX: usize = 10;
const LIST_ROWS_MAX: usize = 10;
const ROW_ID_MAX: usize = 200;
const ROW_TITLE_MAX: usize = 24;
const ROW_DESCRIPTION_MAX: usize = 72;
const SECTION_TITLE_MAX: usize = 24;

/// A message with reply buttons or a list to pick from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Interactive {
    Buttons {
        body: String,
        header: Option<String>,
        footer: Option<String>,
        buttons: Vec<ReplyButton>,
    },
    List {
        body: String,
        header: Option<String>,
        footer: Option<String>,
        /// The label of the button that opens the list.
        button: String,
        sections: Vec<ListSection>,
    },
}

/// A reply button; its `id` comes back in the webhook when the user taps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReplyButton {
    pub id: String,
    pub title: String,
}

/// A titled group of rows in a list message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ListSection {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    pub rows: Vec<ListRow>,
}

/// One choice of a list message; its `id` comes back in the webhook when the user picks it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ListRow {
    pub id: String,
    pub title: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

impl Interactive {
    pub(super) fn parse(interactive: Option<Value>) -> Result<Self, ContentError> {
        let interactive = match interactive {
            Some(Value::Object(object)) => object,
            Some(Value::Null) | None => {
                return Err(ContentError::invalid(
                    "an interactive message needs `interactive`: a button or list message",
                ));
            }
            Some(_) => return Err(ContentError::invalid("interactive must be an object")),
        };
        let is_list = match lowercase_member(&interactive, "type").as_deref() {
            Some("button") => false,
            Some("list") => true,
            _ => {
                return Err(ContentError::invalid(
                    "interactive `type` must be button or list",
                ));
            }
        };
        let action = match interactive.get("action") {
            None | Some(Value::Null) => None,
            Some(Value::Object(action)) => Some(action),
            Some(_) => {
                return Err(ContentError::invalid(
                    "interactive action must be an object",
                ));
            }
        };
        // A member of `action` in Meta's shape, or of the message itself in the flat one.
        let member = |key: &str| {
            action
                .and_then(|action| action.get(key))
                .or_else(|| interactive.get(key))
                .filter(|value| !value.is_null())
        };
        let header = interactive_header(interactive.get("header"))?;
        let footer = optional_text(interactive.get("footer"), "interactive footer")?;
        if let Some(footer) = &footer {
            check_max(InvalidRequest, "interactive footer", footer, FOOTER_MAX)?;
        }
        let body = interactive
            .get("body")
            .filter(|body| !body.is_null())
            .ok_or_else(|| ContentError::invalid("an interactive message needs a `body`"))
            .and_then(|body| text_of(body, "interactive body"))?;
        let parsed = if is_list {
            check_required(InvalidRequest, "interactive body", &body, LIST_BODY_MAX)?;
            let button = match member("button") {
                Some(Value::String(button)) => button.clone(),
                _ => {
                    return Err(ContentError::invalid(
                        "a list message needs `button`: the label of the button that opens it",
                    ));
                }
            };
            check_required(InvalidRequest, "list button", &button, LIST_BUTTON_MAX)?;
            Interactive::List {
                body,
                header,
                footer,
                button,
                sections: parse_sections(member("sections"))?,
            }
        } else {
            check_required(InvalidRequest, "interactive body", &body, BUTTONS_BODY_MAX)?;
            Interactive::Buttons {
                body,
                header,
                footer,
                buttons: parse_buttons(member("buttons"))?,
            }
        };
        Ok(parsed)
    }

    pub(super) fn to_object(&self) -> InteractiveObject {
        let header = |header: &Option<String>| header.clone().map(|text| Header::Text { text });
        let text = |text: &String| InteractiveText { text: text.clone() };
        match self {
            Self::Buttons {
                body,
                header: head,
                footer,
                buttons,
            } => InteractiveObject::Button {
                header: header(head),
                body: text(body),
                footer: footer.as_ref().map(text),
                action: ButtonAction {
                    buttons: buttons
                        .iter()
                        .map(|button| Button::Reply {
                            reply: Reply {
                                id: button.id.clone(),
                                title: button.title.clone(),
                            },
                        })
                        .collect(),
                },
            },
            Self::List {
                body,
                header: head,
                footer,
                button,
                sections,
            } => InteractiveObject::List {
                header: header(head),
                body: text(body),
                footer: footer.as_ref().map(text),
                action: ListAction {
                    button: button.clone(),
                    sections: sections
                        .iter()
                        .map(|section| Section {
                            title: section.title.clone(),
                            rows: section
                                .rows
                                .iter()
                                .map(|row| Row {
                                    id: row.id.clone(),
                                    title: row.title.clone(),
                                    description: row.description.clone(),
                                })
                                .collect(),
                        })
                        .collect(),
                },
            },
        }
    }

    /// The flat form that `parse` also accepts, so that `from_body` can read it back.
    pub(super) fn to_stored(&self) -> Value {
        let mut object = Map::new();
        let (kind, body, header, footer) = match self {
            Self::Buttons {
                body,
                header,
                footer,
                ..
            } => ("button", body, header, footer),
            Self::List {
                body,
                header,
                footer,
                ..
            } => ("list", body, header, footer),
        };
        object.insert("type".into(), kind.into());
        object.insert("body".into(), body.as_str().into());
        if let Some(header) = header {
            object.insert("header".into(), header.as_str().into());
        }
        if let Some(footer) = footer {
            object.insert("footer".into(), footer.as_str().into());
        }
        match self {
            Self::Buttons { buttons, .. } => {
                object.insert("buttons".into(), serialize(buttons));
            }
            Self::List {
                button, sections, ..
            } => {
                object.insert("button".into(), button.as_str().into());
                object.insert("sections".into(), serialize(sections));
            }
        }
        Value::Object(object)
    }
}

fn serialize<T: Serialize>(value: &T) -> Value {
    serde_json::to_value(value).expect("buttons and sections have only string keys")
}

/// A text given as a string or as Meta's `{"text": …}`.
fn text_of(value: &Value, what: &str) -> Result<String, ContentError> {
    match value {
        Value::String(text) => Some(text.clone()),
        Value::Object(object) => object
            .get("text")
            .and_then(Value::as_str)
            .map(str::to_owned),
        _ => None,
    }
    .ok_or_else(|| {
        ContentError::invalid(format!(
            "{what} must be a string or an object with a string `text`"
        ))
    })
}

fn optional_text(value: Option<&Value>, what: &str) -> Result<Option<String>, ContentError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(value) => text_of(value, what).map(|text| present(Some(text))),
    }
}

/// A text header; media headers are refused rather than sent unchecked.
fn interactive_header(value: Option<&Value>) -> Result<Option<String>, ContentError> {
    if let Some(Value::Object(header)) = value
        && let Some(kind) = lowercase_member(header, "type").filter(|kind| kind != "text")
    {
        return Err(ContentError::invalid(format!(
            "interactive header must be text; `{}` headers are not supported",
            kind.chars().take(32).collect::<String>()
        )));
    }
    let header = optional_text(value, "interactive header")?;
    if let Some(header) = &header {
        check_max(InvalidRequest, "interactive header", header, HEADER_MAX)?;
    }
    Ok(header)
}

/// A required string member of a button, section or row.
fn string_member(
    object: &Map<String, Value>,
    key: &str,
    what: &str,
) -> Result<Option<String>, ContentError> {
    match object.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(value)) => Ok(Some(value.clone())),
        Some(_) => Err(ContentError::invalid(format!("{what} must be a string"))),
    }
}

fn parse_buttons(buttons: Option<&Value>) -> Result<Vec<ReplyButton>, ContentError> {
    let Some(Value::Array(buttons)) = buttons else {
        return Err(ContentError::invalid(format!(
            "a button message needs `buttons`: a list of 1 to {BUTTONS_MAX} reply buttons"
        )));
    };
    if buttons.is_empty() || buttons.len() > BUTTONS_MAX {
        return Err(ContentError::invalid(format!(
            "a button message takes 1 to {BUTTONS_MAX} buttons (it has {})",
            buttons.len()
        )));
    }
    let mut ids = HashSet::new();
    let mut titles = HashSet::new();
    let mut parsed = Vec::with_capacity(buttons.len());
    for (index, button) in buttons.iter().enumerate() {
        let what = |field: &str| format!("button {} {field}", index + 1);
        let Value::Object(button) = button else {
            return Err(ContentError::invalid(format!(
                "button {} must be an object",
                index + 1
            )));
        };
        // Meta's `{"type": "reply", "reply": {"id", "title"}}` or the flat `{"id", "title"}`.
        let reply = match button.get("reply") {
            Some(Value::Object(reply)) => {
                if lowercase_member(button, "type").is_some_and(|kind| kind != "reply") {
                    return Err(ContentError::invalid(format!(
                        "button {} `type` must be reply",
                        index + 1
                    )));
                }
                reply
            }
            Some(_) => {
                return Err(ContentError::invalid(format!(
                    "button {} `reply` must be an object",
                    index + 1
                )));
            }
            None => button,
        };
        let id = string_member(reply, "id", &what("id"))?.unwrap_or_default();
        let title = string_member(reply, "title", &what("title"))?.unwrap_or_default();
        check_required(InvalidRequest, &what("id"), &id, BUTTON_ID_MAX)?;
        check_required(InvalidRequest, &what("title"), &title, BUTTON_TITLE_MAX)?;
        if !ids.insert(id.clone()) {
            return Err(ContentError::invalid(format!(
                "button ids must be unique; `{id}` is used twice"
            )));
        }
        // Meta requires distinct labels too: the user could not tell the buttons apart.
        if !titles.insert(title.clone()) {
            return Err(ContentError::invalid(format!(
                "button titles must be unique; `{title}` is used twice"
            )));
        }
        parsed.push(ReplyButton { id, title });
    }
    Ok(parsed)
}

fn parse_sections(sections: Option<&Value>) -> Result<Vec<ListSection>, ContentError> {
    let Some(Value::Array(sections)) = sections else {
        return Err(ContentError::invalid(format!(
            "a list message needs `sections`: a list of 1 to {LIST_SECTIONS_MAX} sections"
        )));
    };
    if sections.is_empty() || sections.len() > LIST_SECTIONS_MAX {
        return Err(ContentError::invalid(format!(
            "a list message takes 1 to {LIST_SECTIONS_MAX} sections (it has {})",
            sections.len()
        )));
    }
    let total_rows: usize = sections
        .iter()
        .map(|section| {
            section
                .get("rows")
                .and_then(Value::as_array)
                .map_or(0, Vec::len)
        })
        .sum();
    if total_rows > LIST_ROWS_MAX {
        return Err(ContentError::invalid(format!(
            "a list message takes at most {LIST_ROWS_MAX} rows across all sections (it has \
             {total_rows})"
        )));
    }
    let mut ids = HashSet::new();
    let mut parsed = Vec::with_capacity(sections.len());
    for (index, section) in sections.iter().enumerate() {
        let number = index + 1;
        let Value::Object(section) = section else {
            return Err(ContentError::invalid(format!(
                "section {number} must be an object"
            )));
        };
        let title = present(string_member(
            section,
            "title",
            &format!("section {number} title"),
        )?);
        match &title {
            Some(title) => check_max(
                InvalidRequest,
                &format!("section {number} title"),
                title,
                SECTION_TITLE_MAX,
            )?,
            // Meta needs titles to tell sections apart.
            None if sections.len() > 1 => {
                return Err(ContentError::invalid(format!(
                    "section {number} needs a title: every section of a list with several needs one"
                )));
            }
            None => {}
        }
        let rows = match section.get("rows") {
            Some(Value::Array(rows)) if !rows.is_empty() => rows,
            _ => {
                return Err(ContentError::invalid(format!(
                    "section {number} needs `rows`: a list of at least one row"
                )));
            }
        };
        let rows = rows
            .iter()
            .enumerate()
            .map(|(row_index, row)| parse_row(number, row_index + 1, row, &mut ids))
            .collect::<Result<_, _>>()?;
        parsed.push(ListSection { title, rows });
    }
    Ok(parsed)
}

fn parse_row(
    section: usize,
    number: usize,
    row: &Value,
    ids: &mut HashSet<String>,
) -> Result<ListRow, ContentError> {
    let what = |field: &str| format!("section {section} row {number} {field}");
    let Value::Object(row) = row else {
        return Err(ContentError::invalid(format!(
            "section {section} row {number} must be an object"
        )));
    };
    let id = string_member(row, "id", &what("id"))?.unwrap_or_default();
    let title = string_member(row, "title", &what("title"))?.unwrap_or_default();
    let description = present(string_member(row, "description", &what("description"))?);
    check_required(InvalidRequest, &what("id"), &id, ROW_ID_MAX)?;
    check_required(InvalidRequest, &what("title"), &title, ROW_TITLE_MAX)?;
    if let Some(description) = &description {
        check_max(
            InvalidRequest,
            &what("description"),
            description,
            ROW_DESCRIPTION_MAX,
        )?;
    }
    if !ids.insert(id.clone()) {
        return Err(ContentError::invalid(format!(
            "row ids must be unique across the list; `{id}` is used twice"
        )));
    }
    Ok(ListRow {
        id,
        title,
        description,
    })
}

/// Meta's `interactive` object:
/// `{"type": "button" | "list", "header"?, "body", "footer"?, "action"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum InteractiveObject {
    Button {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        header: Option<Header>,
        body: InteractiveText,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        footer: Option<InteractiveText>,
        action: ButtonAction,
    },
    List {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        header: Option<Header>,
        body: InteractiveText,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        footer: Option<InteractiveText>,
        action: ListAction,
    },
}

/// `{"type": "text", "text"}`; Parley sends text headers only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Header {
    Text { text: String },
}

/// `{"text"}`, as `body` and `footer` are spelled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InteractiveText {
    pub text: String,
}

/// `{"buttons": [{"type": "reply", "reply": {"id", "title"}}]}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ButtonAction {
    pub buttons: Vec<Button>,
}

/// A reply button; the only button kind of a `button` interactive message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Button {
    Reply { reply: Reply },
}

/// `{"id", "title"}`: the id comes back in the webhook when the user taps the button.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reply {
    pub id: String,
    pub title: String,
}

/// `{"button", "sections"}`: the label of the button that opens the list, and the list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListAction {
    pub button: String,
    pub sections: Vec<Section>,
}

/// `{"title"?, "rows"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Section {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    pub rows: Vec<Row>,
}

/// `{"id", "title", "description"?}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Row {
    pub id: String,
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}
