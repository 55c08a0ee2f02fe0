//! Checks a template send against the synced template, before it is queued: the template and
//! its language exist, it is approved, and every component (header, body, buttons) gets the
//! parameters its placeholders need — as many as the positional `{{1}}` placeholders, or one
//! per named `{{first_name}}` placeholder (`parameter_name`), and the media a media header needs.
//! The error is a sentence naming what is wrong; the send path answers it as `template_malformed`.

use std::collections::BTreeSet;

use entity::message_template;
use serde_json::Value;

/// Statuses a template can be sent in. FLAGGED is Meta's warning about its quality: it still
/// sends until Meta pauses it.
const SENDABLE: [&str; 2] = ["APPROVED", "FLAGGED"];
/// Media a header may carry, as Meta's `format` and the parameter type a send gives for it.
const MEDIA_HEADERS: [(&str, &str); 4] = [
    ("IMAGE", "image"),
    ("VIDEO", "video"),
    ("DOCUMENT", "document"),
    ("LOCATION", "location"),
];

/// The placeholders of a template text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Placeholders {
    None,
    /// `{{1}}` … `{{n}}`: n parameters, in order.
    Positional(usize),
    /// `{{first_name}}`, …: one parameter per name, given with `parameter_name`.
    Named(BTreeSet<String>),
}

/// The placeholders of `text`: `{{1}}`-style numbers, or `{{name}}`-style names.
pub fn placeholders(text: &str) -> Placeholders {
    let mut highest = 0usize;
    let mut names = BTreeSet::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else { break };
        let inner = after[..end].trim();
        if !inner.is_empty() && inner.bytes().all(|b| b.is_ascii_digit()) {
            highest = highest.max(inner.parse().unwrap_or(0));
        } else if inner
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_lowercase() || b == b'_')
            && inner
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        {
            names.insert(inner.to_owned());
        }
        rest = &after[end + 2..];
    }
    if !names.is_empty() {
        Placeholders::Named(names)
    } else if highest > 0 {
        Placeholders::Positional(highest)
    } else {
        Placeholders::None
    }
}

/// Checks a send of template `name` in `language` with (normalised) `components` against
/// `synced`: every synced translation of that name for the sender.
pub fn check_send(
    synced: &[message_template::Model],
    name: &str,
    language: &str,
    components: &[Value],
) -> Result<(), String> {
    if synced.is_empty() {
        return Err(format!(
            "template `{name}` is not among this sender's synced templates (run syncTemplates if \
             it was created lately)"
        ));
    }
    let Some(template) = synced.iter().find(|t| t.language == language) else {
        let languages: Vec<&str> = synced.iter().map(|t| t.language.as_str()).collect();
        return Err(format!(
            "template `{name}` has no `{language}` translation; it exists in {}",
            languages.join(", ")
        ));
    };
    if !SENDABLE.contains(&template.status.as_str()) {
        return Err(format!(
            "template `{name}` ({language}) is {}, not APPROVED",
            template.status
        ));
    }
    let label = format!("template `{name}` ({language})");
    let ours = template.components.as_array().cloned().unwrap_or_default();
    let of_type = |kind: &str| {
        ours.iter().find(|c| {
            c["type"]
                .as_str()
                .is_some_and(|t| t.eq_ignore_ascii_case(kind))
        })
    };
    let sent_of = |kind: &str| -> Result<Option<&Value>, String> {
        let mut found = components.iter().filter(|c| c["type"] == kind);
        let first = found.next();
        if found.next().is_some() {
            return Err(format!("{label}: the send gives two {kind} components"));
        }
        Ok(first)
    };
    let params = |component: Option<&Value>| -> Vec<Value> {
        component
            .and_then(|c| c["parameters"].as_array().cloned())
            .unwrap_or_default()
    };

    // Header
    let header = of_type("HEADER");
    let sent_header = sent_of("header")?;
    match header {
        None if !params(sent_header).is_empty() => {
            return Err(format!(
                "{label} has no header, but the send gives header parameters"
            ));
        }
        None => {}
        Some(header) => {
            let format = header["format"]
                .as_str()
                .unwrap_or("TEXT")
                .to_ascii_uppercase();
            if let Some((_, media)) = MEDIA_HEADERS.iter().find(|(f, _)| *f == format) {
                let given = params(sent_header);
                let kind = given.first().and_then(|p| p["type"].as_str());
                if given.len() != 1 || kind != Some(media) {
                    let what = match (given.len(), kind) {
                        (0, _) => "none".to_owned(),
                        (1, Some(kind)) => format!("one {kind} parameter"),
                        (n, _) => format!("{n} parameters"),
                    };
                    return Err(format!(
                        "{label}: the header is {format}, so the send needs a header component \
                         with one {media} parameter (it gives {what})"
                    ));
                }
            } else {
                let text = header["text"].as_str().unwrap_or_default();
                check_params(&label, "header", &placeholders(text), &params(sent_header))?;
            }
        }
    }

    // Body
    let body_text = of_type("BODY")
        .and_then(|body| body["text"].as_str())
        .unwrap_or_default();
    check_params(
        &label,
        "body",
        &placeholders(body_text),
        &params(sent_of("body")?),
    )?;

    // Buttons
    let buttons = of_type("BUTTONS")
        .and_then(|b| b["buttons"].as_array().cloned())
        .unwrap_or_default();
    let sent_buttons: Vec<&Value> = components
        .iter()
        .filter(|c| c["type"] == "button")
        .collect();
    for sent in &sent_buttons {
        let index: usize = sent["index"]
            .as_str()
            .and_then(|i| i.parse().ok())
            .unwrap_or(0);
        if sent_buttons
            .iter()
            .filter(|other| other["index"] == sent["index"])
            .count()
            > 1
        {
            return Err(format!("{label}: the send gives button {index} twice"));
        }
        let Some(button) = buttons.get(index) else {
            return Err(format!(
                "{label} has {} button(s), so it has no button {index}",
                buttons.len()
            ));
        };
        let kind = button["type"]
            .as_str()
            .unwrap_or_default()
            .to_ascii_lowercase();
        let sub_type = sent["sub_type"].as_str().unwrap_or_default();
        if sub_type != kind {
            return Err(format!(
                "{label}: button {index} is {}, but the send gives it as {sub_type}",
                kind.to_ascii_uppercase()
            ));
        }
    }
    for (index, button) in buttons.iter().enumerate() {
        let kind = button["type"]
            .as_str()
            .unwrap_or_default()
            .to_ascii_uppercase();
        let sent = sent_buttons
            .iter()
            .find(|s| s["index"].as_str() == Some(index.to_string().as_str()))
            .copied();
        let what = format!("button {index} ({kind})");
        match kind.as_str() {
            "URL" => {
                let url = button["url"].as_str().unwrap_or_default();
                check_params(&label, &what, &placeholders(url), &params(sent))?;
            }
            "COPY_CODE" => {
                let given = params(sent);
                if given.len() != 1 || given[0]["type"] != "coupon_code" {
                    return Err(format!("{label}: {what} needs one coupon_code parameter"));
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// The parameters given for one component against its placeholders.
fn check_params(
    label: &str,
    what: &str,
    expected: &Placeholders,
    given: &[Value],
) -> Result<(), String> {
    match expected {
        Placeholders::None if given.is_empty() => Ok(()),
        Placeholders::None => Err(format!(
            "{label}: the {what} has no placeholders, but the send gives {} parameter(s)",
            given.len()
        )),
        Placeholders::Positional(count) if given.len() == *count => Ok(()),
        Placeholders::Positional(count) => Err(format!(
            "{label}: the {what} has {count} placeholder(s) ({{{{1}}}} to {{{{{count}}}}}), \
             but the send gives {} parameter(s)",
            given.len()
        )),
        Placeholders::Named(names) => {
            let mut seen = BTreeSet::new();
            for parameter in given {
                let Some(name) = parameter["parameter_name"].as_str() else {
                    return Err(format!(
                        "{label}: the {what} uses named placeholders, so every parameter needs \
                         `parameter_name` (one of {})",
                        list(names)
                    ));
                };
                if !names.contains(name) {
                    return Err(format!(
                        "{label}: the {what} has no placeholder `{name}` (it has {})",
                        list(names)
                    ));
                }
                if !seen.insert(name.to_owned()) {
                    return Err(format!(
                        "{label}: the send gives the {what} parameter `{name}` twice"
                    ));
                }
            }
            let missing: BTreeSet<String> = names.difference(&seen).cloned().collect();
            if missing.is_empty() {
                Ok(())
            } else {
                Err(format!(
                    "{label}: the {what} is missing parameter(s) {}",
                    list(&missing)
                ))
            }
        }
    }
}

fn list(names: &BTreeSet<String>) -> String {
    names
        .iter()
        .map(|name| format!("`{name}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use serde_json::json;
    use uuid::Uuid;

    use super::*;

    fn template(language: &str, status: &str, components: Value) -> message_template::Model {
        let now = Utc::now();
        message_template::Model {
            id: Uuid::now_v7(),
            workspace_id: Uuid::now_v7(),
            sender_id: Uuid::now_v7(),
            meta_id: None,
            name: "order_update".into(),
            language: language.into(),
            status: status.into(),
            category: Some("UTILITY".into()),
            status_reason: None,
            components,
            synced_at: now,
            created_at: now,
            updated_at: now,
        }
    }

    fn text(value: &str) -> Value {
        json!({"type": "text", "text": value})
    }

    fn named(name: &str, value: &str) -> Value {
        json!({"type": "text", "text": value, "parameter_name": name})
    }

    #[test]
    fn placeholders_are_positional_or_named() {
        assert_eq!(placeholders("no variables"), Placeholders::None);
        assert_eq!(placeholders("{{1}} and {{2}}"), Placeholders::Positional(2));
        assert_eq!(placeholders("{{ 3 }} {{1}}"), Placeholders::Positional(3));
        assert_eq!(
            placeholders("Hi {{first_name}}, order {{order_id}} {{first_name}}"),
            Placeholders::Named(["first_name".into(), "order_id".into()].into())
        );
        assert_eq!(placeholders("{{unclosed"), Placeholders::None);
    }

    #[test]
    fn sends_are_checked_against_the_synced_template() {
        let positional = template(
            "en_US",
            "APPROVED",
            json!([
                {"type": "HEADER", "format": "IMAGE"},
                {"type": "BODY", "text": "Order {{1}} ships {{2}}."},
                {"type": "BUTTONS", "buttons": [
                    {"type": "URL", "text": "Track", "url": "https://x.example/{{1}}"},
                    {"type": "QUICK_REPLY", "text": "Stop"}
                ]}
            ]),
        );
        let named_template = template(
            "de",
            "APPROVED",
            json!([
                {"type": "HEADER", "format": "TEXT", "text": "Hallo {{first_name}}"},
                {"type": "BODY", "text": "Bestellung {{order_id}} für {{first_name}}"}
            ]),
        );
        let paused = template("fr", "PAUSED", json!([{"type": "BODY", "text": "Bonjour"}]));
        let synced = vec![positional, named_template, paused];
        let image = json!({"type": "header", "parameters": [{"type": "image", "image": {"link": "https://x.example/a.jpg"}}]});
        let url_button =
            json!({"type": "button", "sub_type": "url", "index": "0", "parameters": [text("A1")]});
        let good = vec![
            image.clone(),
            json!({"type": "body", "parameters": [text("A1"), text("today")]}),
            url_button.clone(),
        ];
        check_send(&synced, "order_update", "en_US", &good).unwrap();
        check_send(
            &synced,
            "order_update",
            "de",
            &[
                json!({"type": "header", "parameters": [named("first_name", "Ada")]}),
                json!({"type": "body", "parameters": [named("order_id", "7"), named("first_name", "Ada")]}),
            ],
        )
        .unwrap();

        let cases: Vec<(&str, &str, Vec<Value>, &str)> = vec![
            (
                "order_update",
                "pt_BR",
                good.clone(),
                "has no `pt_BR` translation; it exists in en_US, de, fr",
            ),
            ("order_update", "fr", vec![], "is PAUSED, not APPROVED"),
            (
                "order_update",
                "en_US",
                vec![
                    image.clone(),
                    json!({"type": "body", "parameters": [text("A1")]}),
                    url_button.clone(),
                ],
                "the body has 2 placeholder(s) ({{1}} to {{2}}), but the send gives 1 parameter(s)",
            ),
            (
                "order_update",
                "en_US",
                vec![
                    json!({"type": "body", "parameters": [text("A1"), text("x")]}),
                    url_button.clone(),
                ],
                "the header is IMAGE, so the send needs a header component with one image parameter (it gives none)",
            ),
            (
                "order_update",
                "en_US",
                vec![
                    json!({"type": "header", "parameters": [{"type": "video", "video": {"link": "https://x.example/v.mp4"}}]}),
                    json!({"type": "body", "parameters": [text("A1"), text("x")]}),
                    url_button.clone(),
                ],
                "(it gives one video parameter)",
            ),
            (
                "order_update",
                "en_US",
                vec![
                    image.clone(),
                    json!({"type": "body", "parameters": [text("A1"), text("x")]}),
                ],
                "the button 0 (URL) has 1 placeholder(s)",
            ),
            (
                "order_update",
                "en_US",
                vec![
                    image.clone(),
                    json!({"type": "body", "parameters": [text("A1"), text("x")]}),
                    url_button.clone(),
                    json!({"type": "button", "sub_type": "quick_reply", "index": "5", "parameters": []}),
                ],
                "has 2 button(s), so it has no button 5",
            ),
            (
                "order_update",
                "en_US",
                vec![
                    image.clone(),
                    json!({"type": "body", "parameters": [text("A1"), text("x")]}),
                    json!({"type": "button", "sub_type": "quick_reply", "index": "0", "parameters": [text("x")]}),
                ],
                "button 0 is URL, but the send gives it as quick_reply",
            ),
            (
                "order_update",
                "de",
                vec![
                    json!({"type": "header", "parameters": [named("first_name", "Ada")]}),
                    json!({"type": "body", "parameters": [named("order_id", "7")]}),
                ],
                "the body is missing parameter(s) `first_name`",
            ),
            (
                "order_update",
                "de",
                vec![
                    json!({"type": "header", "parameters": [named("first_name", "Ada")]}),
                    json!({"type": "body", "parameters": [named("order_id", "7"), named("surname", "L")]}),
                ],
                "the body has no placeholder `surname` (it has `first_name`, `order_id`)",
            ),
            (
                "order_update",
                "de",
                vec![json!({"type": "header", "parameters": [text("Ada")]})],
                "the header uses named placeholders, so every parameter needs `parameter_name`",
            ),
            (
                "missing_one",
                "en_US",
                vec![],
                "template `missing_one` is not among this sender's synced templates",
            ),
        ];
        for (name, language, components, expected) in cases {
            let rows: Vec<_> = synced.iter().filter(|t| t.name == name).cloned().collect();
            let error = check_send(&rows, name, language, &components)
                .expect_err(&format!("{name} {language} {components:?} must fail"));
            assert!(
                error.contains(expected),
                "{error:?} should contain {expected:?}"
            );
        }
    }
}
