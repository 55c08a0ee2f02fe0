//! Meta's WhatsApp Cloud API: typed requests for `POST /{version}/{phone_number_id}/messages`,
//! spelled field for field as Meta documents them.

pub mod request;
