//! What every service, worker and handler shares: the database, the event bus, the configuration
//! and the server's secrets, handed around as one value instead of four loose arguments. It owns
//! nothing else and depends only on the modules that define its parts.

use std::sync::Arc;

use sea_orm::DatabaseConnection;

use crate::{config::Config, db::ServerSecrets, events::EventBus};

#[derive(Clone)]
pub struct Services {
    pub db: DatabaseConnection,
    pub events: EventBus,
    pub config: Arc<Config>,
    pub secrets: Arc<ServerSecrets>,
}
