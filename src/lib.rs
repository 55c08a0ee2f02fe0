//! Parley: a self-hosted, multi-tenant WhatsApp messaging backend for CRMs.

pub mod accounts;
pub mod app;
pub mod auth;
pub mod auto_reply;
pub mod config;
pub mod contacts;
pub mod conversations;
pub mod db;
pub mod dispatch;
pub mod domain;
pub mod error;
pub mod events;
pub mod graphql;
pub mod message_status;
pub mod outbound;
pub mod ratelimit;
pub mod rest;
pub mod seed;
pub mod send_queue;
pub mod senders;
pub mod sending;
pub mod telemetry;
pub mod templates;
pub mod webhooks;
pub mod whatsapp;
