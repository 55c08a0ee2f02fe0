//! What WhatsApp tells us: Meta's webhook deliveries (verified, stored, then applied) with
//! delivery statuses and customers' messages. The sandbox sender reports through the same status
//! code, so it behaves as Meta would.

mod apply;
pub mod inbound;
pub mod intake;
mod receive;
pub mod status;

pub use intake::{apply_delivery, sign};
