//! What WhatsApp tells us about messages: delivery statuses (and, with the webhook intake, inbound
//! messages). The sandbox sender reports through the same code, so it behaves as Meta would.

pub mod status;
