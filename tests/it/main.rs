//! Parley's integration tests: each starts the real server on port 0 against a fresh database —
//! SQLite by default, Postgres when `PARLEY_TEST_DATABASE_URL` names a server.

mod fake_graph;
mod fixtures;
mod helpers;

mod architecture;
mod auth;
mod auto_reply;
mod cli;
mod cloud_api;
mod constraints;
mod dispatch;
mod faults;
mod graphql_limits;
mod isolation;
mod limits;
mod logs;
mod ops;
mod outbound_webhooks;
mod ratelimit;
mod read_side;
mod read_side_scale;
mod row_security;
mod schema;
mod sending;
mod shutdown;
mod soak;
mod subscriptions;
mod templates;
mod webhooks;
