//! Template messages: an approved template's name, language and Meta's `components`, checked
//! and spelled the way Meta's examples spell them; the stored form and Meta's `template` object.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{
    ContentError, ContentErrorKind::TemplateMalformed, ContentInput, check_max, lowercase_member,
};

const TEMPLATE_NAME_MAX: usize = 512;
const TEMPLATE_COMPONENTS_MAX: usize = 10;
/// Serialized size of all components together.
const TEMPLATE_COMPONENTS_MAX_BYTES: usize = 32 * 1024;
/// A text parameter fills a template that is itself at most a text message long.
const TEMPLATE_TEXT_PARAMETER_MAX: usize = 4096;
/// Meta allows at most ten buttons in a template, indexed 0 to 9.
const TEMPLATE_BUTTON_INDEX_MAX: u64 = 9;
const TEMPLATE_COMPONENT_TYPES: [&str; 4] = ["header", "body", "footer", "button"];
const TEMPLATE_PARAMETER_TYPES: [&str; 10] = [
    "text",
    "currency",
    "date_time",
    "image",
    "video",
    "document",
    "location",
    "payload",
    "action",
    "coupon_code",
];
const TEMPLATE_BUTTON_SUB_TYPES: [&str; 8] = [
    "quick_reply",
    "url",
    "copy_code",
    "flow",
    "catalog",
    "mpm",
    "voice_call",
    "order_details",
];

// An approved template and the values for its variables: GraphQL's `TemplateInput`. The REST
// body spells it differently (`language` as a string or `{"code"}`), so it has its own
// `TemplateField`, turned into this one.
#[derive(Debug, Clone, Default, Serialize, Deserialize, async_graphql::InputObject)]
#[graphql(name = "TemplateInput")]
pub struct TemplateInput {
    pub name: String,
    pub language_code: String,
    /// Meta's template components.
    pub components: Option<Value>,
}

/// A template message.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    pub name: String,
    /// `en`, `en_US`, `pt_BR`, …
    pub language: String,
    /// Meta's components with `type` (and a button's `sub_type`) in lowercase and a button's
    /// `index` as a string, as Meta's examples write them.
    pub components: Vec<Value>,
}

impl Template {
    pub(super) fn parse(template: Option<TemplateInput>) -> Result<Self, ContentError> {
        let template = template.ok_or_else(|| {
            ContentError::invalid(
                "a template message needs `template` with a `name` and a language code",
            )
        })?;
        let name = template.name;
        let name_ok = (1..=TEMPLATE_NAME_MAX).contains(&name.len())
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !name_ok {
            return Err(ContentError::template(format!(
                "template name must be 1 to {TEMPLATE_NAME_MAX} lowercase letters, digits or \
                 underscores"
            )));
        }
        let language = template.language_code;
        if !is_language_code(&language) {
            return Err(ContentError::template(
                "template language code must look like en, en_US or pt_BR",
            ));
        }
        let components = match template.components {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(components)) => components,
            Some(_) => {
                return Err(ContentError::template("template components must be a list"));
            }
        };
        if components.len() > TEMPLATE_COMPONENTS_MAX {
            return Err(ContentError::template(format!(
                "a template takes at most {TEMPLATE_COMPONENTS_MAX} components (it has {})",
                components.len()
            )));
        }
        if Value::Array(components.clone()).to_string().len() > TEMPLATE_COMPONENTS_MAX_BYTES {
            return Err(ContentError::template(format!(
                "template components must be at most {} KiB of JSON",
                TEMPLATE_COMPONENTS_MAX_BYTES / 1024
            )));
        }
        let components = components
            .into_iter()
            .enumerate()
            .map(|(index, component)| normalize_component(index + 1, component))
            .collect::<Result<_, _>>()?;
        Ok(Self {
            name,
            language,
            components,
        })
    }

    pub(super) fn to_stored(&self) -> StoredTemplate {
        StoredTemplate {
            name: self.name.clone(),
            language: self.language.clone(),
            components: self.components.clone(),
        }
    }

    pub(super) fn to_object(&self) -> TemplateObject {
        TemplateObject {
            name: self.name.clone(),
            language: LanguageObject {
                code: self.language.clone(),
            },
            components: self.components.clone(),
        }
    }
}

/// `en`, `fil`, `en_US`, `pt_BR`: 2 or 3 lowercase letters, then optionally `_` and 2 uppercase
/// letters or digits, as Meta spells its template languages.
fn is_language_code(code: &str) -> bool {
    let (language, region) = match code.split_once('_') {
        Some((language, region)) => (language, Some(region)),
        None => (code, None),
    };
    (2..=3).contains(&language.len())
        && language.bytes().all(|b| b.is_ascii_lowercase())
        && region.is_none_or(|region| {
            region.len() == 2
                && region
                    .bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        })
}

/// Checks one component and spells it the way Meta's examples do: lowercase `type`,
/// `sub_type` and parameter types, and a button's `index` as a string.
fn normalize_component(number: usize, component: Value) -> Result<Value, ContentError> {
    let fail =
        |what: String| ContentError::template(format!("template component {number}: {what}"));
    let Value::Object(mut component) = component else {
        return Err(fail("must be an object".into()));
    };
    let kind = lowercase_member(&component, "type")
        .filter(|kind| TEMPLATE_COMPONENT_TYPES.contains(&kind.as_str()))
        .ok_or_else(|| {
            fail(format!(
                "`type` must be one of {}",
                TEMPLATE_COMPONENT_TYPES.join(", ")
            ))
        })?;
    if kind == "button" {
        let sub_type = lowercase_member(&component, "sub_type")
            .filter(|sub_type| TEMPLATE_BUTTON_SUB_TYPES.contains(&sub_type.as_str()))
            .ok_or_else(|| {
                fail(format!(
                    "a button needs `sub_type`, one of {}",
                    TEMPLATE_BUTTON_SUB_TYPES.join(", ")
                ))
            })?;
        let index = match component.get("index") {
            Some(Value::Number(n)) => n.as_u64(),
            Some(Value::String(s)) if s.len() <= 2 && s.bytes().all(|b| b.is_ascii_digit()) => {
                s.parse().ok()
            }
            _ => None,
        }
        .filter(|index| *index <= TEMPLATE_BUTTON_INDEX_MAX)
        .ok_or_else(|| {
            fail(format!(
                "a button needs `index`, from 0 to {TEMPLATE_BUTTON_INDEX_MAX}"
            ))
        })?;
        component.insert("sub_type".into(), sub_type.into());
        component.insert("index".into(), index.to_string().into());
    }
    component.insert("type".into(), kind.into());
    match component.remove("parameters") {
        None => {}
        Some(Value::Array(parameters)) => {
            let parameters = parameters
                .into_iter()
                .enumerate()
                .map(|(index, parameter)| normalize_parameter(number, index + 1, parameter))
                .collect::<Result<_, _>>()?;
            component.insert("parameters".into(), Value::Array(parameters));
        }
        Some(_) => return Err(fail("`parameters` must be a list".into())),
    }
    Ok(Value::Object(component))
}

fn normalize_parameter(
    component: usize,
    number: usize,
    parameter: Value,
) -> Result<Value, ContentError> {
    let fail = |what: String| {
        ContentError::template(format!(
            "template component {component}, parameter {number}: {what}"
        ))
    };
    let Value::Object(mut parameter) = parameter else {
        return Err(fail("must be an object".into()));
    };
    let kind = lowercase_member(&parameter, "type")
        .filter(|kind| TEMPLATE_PARAMETER_TYPES.contains(&kind.as_str()))
        .ok_or_else(|| {
            fail(format!(
                "`type` must be one of {}",
                TEMPLATE_PARAMETER_TYPES.join(", ")
            ))
        })?;
    if kind == "text" {
        match parameter.get("text") {
            Some(Value::String(text)) if !text.is_empty() => {
                check_max(
                    TemplateMalformed,
                    &format!("template component {component}, parameter {number}: `text`"),
                    text,
                    TEMPLATE_TEXT_PARAMETER_MAX,
                )?;
            }
            _ => {
                return Err(fail(
                    "a text parameter needs a non-empty string `text`".into(),
                ));
            }
        }
    }
    parameter.insert("type".into(), kind.into());
    Ok(Value::Object(parameter))
}

/// The stored body of a template message:
/// `{"type": "template", "name", "language", "components"}`, `components` being `[]` when there
/// are none.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct StoredTemplate {
    name: String,
    language: String,
    #[serde(default)]
    components: Vec<Value>,
}

impl StoredTemplate {
    pub(super) fn into_input(self) -> ContentInput {
        ContentInput {
            template: Some(TemplateInput {
                name: self.name,
                language_code: self.language,
                components: Some(Value::Array(self.components)),
            }),
            ..ContentInput::typed("template")
        }
    }
}

/// Meta's `template` object: `{"name", "language": {"code"}, "components"?}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TemplateObject {
    pub name: String,
    pub language: LanguageObject,
    /// Left out when empty: a template without variables needs none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub components: Vec<Value>,
}

/// `{"code": "en_US"}`; Meta's only `policy`, `deterministic`, is its default.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LanguageObject {
    pub code: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn knows_template_language_codes() {
        for code in ["en", "fil", "en_US", "pt_BR", "zh_CN", "es_MX"] {
            assert!(is_language_code(code), "{code}");
        }
        for code in [
            "", "e", "engl", "EN", "en_", "_US", "en_USA", "en_us", "en-US", "en_U$",
        ] {
            assert!(!is_language_code(code), "{code}");
        }
    }
}
