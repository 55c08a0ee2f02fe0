//! What WhatsApp tells us: Meta's webhook deliveries (verified, stored, then applied) with
//! delivery statuses and customers' messages. Statuses are applied by `crate::message_status`,
//! which the sandbox sender reports through too, so it behaves as Meta would.

mod apply;
pub mod inbound;
pub mod intake;
mod receive;

pub use intake::{apply_delivery, sign};
