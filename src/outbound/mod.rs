//! Outbound webhooks: the workspace's own endpoints hear about its events.
//!
//! Deliveries are durable. When a change is committed that an endpoint subscribed to, one
//! `webhook_deliveries` row per subscribed, enabled endpoint is written in the same transaction by
//! the events' outbox (`crate::events`, when a unit of work commits): a rollback takes them back,
//! a commit can never lose them. Workers in every `parley serve` process ([`worker`]) claim due
//! rows under a lease, POST them signed, and retry with exponential backoff for more than a day.
//! Each event has one id, the same across retries, redeliveries and endpoints, so receivers can
//! drop duplicates (delivery is at least once).
//!
//! This module owns the endpoints and the delivery; what an endpoint can subscribe to is
//! `events::EventKind`. It depends on `events`, never the reverse.

pub mod address;
pub mod endpoints;
pub mod worker;
