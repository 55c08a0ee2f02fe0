//! Hosted media (image, video, audio, document, sticker): the rules for a URL, caption, file name
//! and MIME type, the stored form, and Meta's media object.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::{ContentError, ContentErrorKind::InvalidRequest, ContentInput, check_max, present};
use crate::domain::MediaUrl;

/// Meta's limit on a media caption.
const CAPTION_MAX: usize = 1024;
/// Longer names are cut by common file systems; Meta documents no limit of its own.
const FILENAME_MAX: usize = 240;
/// RFC 6838 allows 127 + 127; real types are far shorter.
const MIME_TYPE_MAX: usize = 100;

// A hosted media file and how to present it: GraphQL's `MediaInput` and the REST body's
// `MediaField` (`image`, `video`, …). Neither has a description, so this has no doc comment:
// it would become theirs. The REST spelling (`link`, `filename`, `mimetype` and its aliases) is
// serde's; GraphQL's camelCase is async-graphql's, and `Serialize` keeps the field names, as
// the idempotency hash of a GraphQL send has always seen them.
#[derive(
    Debug, Clone, Default, Serialize, Deserialize, async_graphql::InputObject, utoipa::ToSchema,
)]
#[graphql(name = "MediaInput")]
#[schema(as = MediaField)]
pub struct MediaInput {
    /// Public HTTPS URL of the file.
    #[serde(alias = "link")]
    pub url: String,
    pub caption: Option<String>,
    #[serde(rename(deserialize = "filename"), alias = "fileName")]
    #[schema(rename = "filename")]
    pub file_name: Option<String>,
    #[serde(
        rename(deserialize = "mimetype"),
        alias = "mimeType",
        alias = "mime_type"
    )]
    #[schema(rename = "mimetype")]
    pub mime_type: Option<String>,
}

/// The kinds of hosted media WhatsApp sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MediaKind {
    Image,
    Video,
    Audio,
    Document,
    Sticker,
}

impl MediaKind {
    /// The Cloud API's name for the kind: `image`, `video`, …
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Image => "image",
            Self::Video => "video",
            Self::Audio => "audio",
            Self::Document => "document",
            Self::Sticker => "sticker",
        }
    }

    /// The kind with its indefinite article, for messages: "an image", "a video".
    fn with_article(self) -> &'static str {
        match self {
            Self::Image => "an image",
            Self::Video => "a video",
            Self::Audio => "an audio",
            Self::Document => "a document",
            Self::Sticker => "a sticker",
        }
    }

    /// Meta shows a caption under images, videos and documents only.
    fn takes_caption(self) -> bool {
        matches!(self, Self::Image | Self::Video | Self::Document)
    }
}

impl fmt::Display for MediaKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A media message.
#[derive(Debug, Clone, PartialEq)]
pub struct Media {
    pub kind: MediaKind,
    pub url: MediaUrl,
    /// Image, video and document only.
    pub caption: Option<String>,
    /// Document only.
    pub filename: Option<String>,
    /// Kept for Parley's own use: the Cloud API takes no MIME type for hosted media.
    pub mime_type: Option<String>,
}

impl Media {
    /// `text` is the caption when `media` has none.
    pub(super) fn parse(
        kind: MediaKind,
        media: Option<MediaInput>,
        text: Option<String>,
    ) -> Result<Self, ContentError> {
        let media = media.ok_or_else(|| {
            ContentError::invalid(format!(
                "{} message needs `media` with a `url`",
                kind.with_article()
            ))
        })?;
        let url = MediaUrl::parse(&media.url)?;
        let caption = present(media.caption).or_else(|| present(text));
        if let Some(caption) = &caption {
            if !kind.takes_caption() {
                return Err(ContentError::invalid(format!(
                    "{kind} messages cannot have a caption; only image, video and document can"
                )));
            }
            check_max(InvalidRequest, "caption", caption, CAPTION_MAX)?;
        }
        let filename = present(media.file_name);
        if let Some(filename) = &filename {
            if kind != MediaKind::Document {
                return Err(ContentError::invalid(format!(
                    "{kind} messages cannot have a file name; only document can"
                )));
            }
            check_filename(filename)?;
        }
        let mime_type = present(media.mime_type)
            .map(|mime_type| check_mime_type(&mime_type).map(|()| mime_type.to_ascii_lowercase()))
            .transpose()?;
        Ok(Self {
            kind,
            url,
            caption,
            filename,
            mime_type,
        })
    }

    pub(super) fn to_stored(&self) -> StoredMedia {
        StoredMedia {
            url: self.url.as_str().to_owned(),
            caption: self.caption.clone(),
            filename: self.filename.clone(),
            mime_type: self.mime_type.clone(),
        }
    }

    pub(super) fn to_object(&self) -> MediaObject {
        MediaObject {
            link: self.url.as_str().to_owned(),
            caption: self.caption.clone(),
            filename: self.filename.clone(),
        }
    }
}

/// The name the recipient sees and saves the file under: no paths, nothing unprintable.
fn check_filename(filename: &str) -> Result<(), ContentError> {
    check_max(InvalidRequest, "file name", filename, FILENAME_MAX)?;
    if filename.contains(['/', '\\']) {
        return Err(ContentError::invalid(
            "file name must not contain a path separator (/ or \\)",
        ));
    }
    if filename.chars().any(char::is_control) {
        return Err(ContentError::invalid(
            "file name must not contain control characters",
        ));
    }
    if filename.trim() == "." || filename.trim() == ".." {
        return Err(ContentError::invalid("file name must name a file"));
    }
    Ok(())
}

/// `type/subtype`, both RFC 6838 restricted names; parameters (`; charset=…`) are not kept.
fn check_mime_type(mime_type: &str) -> Result<(), ContentError> {
    let is_name = |part: &str| {
        !part.is_empty()
            && part.starts_with(|c: char| c.is_ascii_alphanumeric())
            && part
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "!#$&^_.+-".contains(c))
    };
    let well_formed = mime_type.len() <= MIME_TYPE_MAX
        && mime_type
            .split_once('/')
            .is_some_and(|(kind, subtype)| is_name(kind) && is_name(subtype));
    if !well_formed {
        return Err(ContentError::invalid(format!(
            "MIME type must look like type/subtype (e.g. application/pdf), at most \
             {MIME_TYPE_MAX} characters"
        )));
    }
    Ok(())
}

/// The stored body of a media message, under `"type"` of its kind:
/// `{"url", "caption"?, "filename"?, "mimeType"?}`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct StoredMedia {
    url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    caption: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    filename: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    mime_type: Option<String>,
}

impl StoredMedia {
    pub(super) fn into_input(self, kind: MediaKind) -> ContentInput {
        ContentInput {
            media: Some(MediaInput {
                url: self.url,
                caption: self.caption,
                file_name: self.filename,
                mime_type: self.mime_type,
            }),
            ..ContentInput::typed(kind.as_str())
        }
    }
}

/// Meta's media object for hosted media: `{"link", "caption"?, "filename"?}`. Meta takes a
/// caption on image, video and document only, and a filename on document only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MediaObject {
    pub link: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caption: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filename: Option<String>,
}
