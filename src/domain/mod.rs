//! Parsed values the rest of Parley takes instead of raw strings: each is built by a `parse`
//! that checks the contract's rules once, so code holding one never checks again.

pub mod content;
pub mod media_url;
pub mod name;
pub mod phone;

pub use content::{ContentError, ContentErrorKind, ContentInput, MessageContent};
pub use media_url::MediaUrl;
pub use name::{Name, NameError};
pub use phone::Phone;
