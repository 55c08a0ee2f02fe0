//! Meta's WhatsApp Cloud API: typed requests for `POST /{version}/{phone_number_id}/messages`,
//! spelled field for field as Meta documents them, the client that sends them, what Meta's
//! answers mean for a send attempt, and the typed shape of Meta's webhook deliveries.

pub mod client;
pub mod errors;
pub mod request;
pub mod sandbox;
pub mod webhook;
