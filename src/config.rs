//! Configuration: defaults, then an optional `parley.toml`, then `PARLEY_*` environment variables,
//! validated once at start-up. Secrets are held in [`SecretString`] so that they never print.

use std::{net::SocketAddr, path::Path, time::Duration};

use figment::{
    Figment,
    providers::{Env, Format, Toml},
};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

/// Shortest accepted user-provided JWT secret or secret key, in bytes.
const MIN_SECRET_LEN: usize = 32;

#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct Config {
    /// `sqlite://…` (embedded, the default) or `postgres://…`.
    pub database_url: String,
    pub listen: SocketAddr,
    /// HS256 key for member tokens; generated and kept in the database when unset.
    pub jwt_secret: Option<SecretString>,
    /// Lifetime of a member token issued by `login` or `signUp`.
    pub jwt_ttl_secs: u64,
    /// Key that seals sender access tokens at rest; generated and kept when unset.
    pub secret_key: Option<SecretString>,
    pub graph_api_url: String,
    pub graph_api_version: String,
    /// Meta app secret that signs webhook deliveries.
    pub app_secret: Option<SecretString>,
    /// Token Meta echoes in its webhook verification handshake.
    pub webhook_verify_token: Option<SecretString>,
    pub signup: SignupMode,
    /// Largest request body accepted on any route, `/graphql` included.
    pub max_body_bytes: usize,
    /// How long in-flight requests may run on after SIGTERM before the process exits anyway.
    pub shutdown_grace_secs: u64,
    /// Largest number of pooled database connections.
    pub database_max_connections: u32,
    /// How long a query waits for a pooled connection, connecting included, before it fails
    /// with 503: how long a request hangs while the database is down.
    pub database_acquire_timeout_ms: u64,
    /// How long an idempotency key names its send; after that it names a new one.
    pub idempotency_retention_hours: u32,
    /// Messages a sender may queue per UTC day unless it has its own limit.
    pub default_daily_limit: u32,
    /// How long `?wait=true` and the Messages API wait for WhatsApp's answer.
    pub send_wait_secs: u64,
    /// How long a websocket may take to send `connection_init` before it is closed with 4408.
    pub websocket_init_timeout_ms: u64,
    /// Whether this process delivers queued sends (several processes may).
    pub dispatch_enabled: bool,
    /// Sends in flight to WhatsApp at once, per process.
    pub dispatch_concurrency: usize,
    /// How long a claimed send may stay SENDING before it counts as `delivery_unknown`; must
    /// exceed the Graph API timeout.
    pub dispatch_lease_ms: u64,
    /// How often the dispatcher looks for due sends when nothing woke it.
    pub dispatch_poll_ms: u64,
    /// Shortest gap between two sends from one sender to one recipient (Meta's pair rate); 0
    /// turns the spacing off.
    pub pair_spacing_ms: u64,
    /// Timeout of one request to the Graph API.
    pub graph_api_timeout_ms: u64,
    /// Gap between the sandbox's sent, delivered and read statuses.
    pub sandbox_status_delay_ms: u64,
    /// Deepest selection a GraphQL document may have.
    pub graphql_max_depth: usize,
    /// Largest complexity of a GraphQL document: every field counts (aliases too), a list by its
    /// page size.
    pub graphql_max_complexity: usize,
    /// Most directives in one GraphQL document.
    pub graphql_max_directives: usize,
    /// Most operations in one batched `POST /graphql`.
    pub graphql_max_batch: usize,
    /// Longest GraphQL document, in bytes.
    pub graphql_max_query_bytes: usize,
    /// How long a query or mutation may run (subscriptions run as long as their client wants).
    pub graphql_timeout_ms: u64,
    /// Whether `__schema` and `__type` answer; GraphiQL needs them. Turn off in production if
    /// clients do not need the schema at run time.
    pub graphql_introspection: bool,
    /// Whether validation errors suggest field names ("did you mean …?"), which reveals the schema.
    pub graphql_suggestions: bool,
    /// Outbound webhooks: see [`OutboundWebhooks`].
    #[serde(flatten)]
    pub outbound_webhooks: OutboundWebhooks,
}

/// Outbound webhook delivery (`PARLEY_OUTBOUND_WEBHOOKS_*`).
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct OutboundWebhooks {
    /// Whether this process delivers outbound webhooks (several processes may).
    #[serde(rename = "outbound_webhooks_enabled")]
    pub enabled: bool,
    /// TEST ONLY: also allow `http` and loopback addresses (127.0.0.1, ::1) as endpoints, so that
    /// tests can receive deliveries locally. Never turn it on in production.
    #[serde(rename = "outbound_webhooks_allow_loopback")]
    pub allow_loopback: bool,
    /// Timeout of one delivery request, connection included.
    #[serde(rename = "outbound_webhooks_timeout_ms")]
    pub timeout_ms: u64,
    /// The first retry's delay; each next one doubles (plus up to 25% jitter).
    #[serde(rename = "outbound_webhooks_retry_base_ms")]
    pub retry_base_ms: u64,
    /// The longest delay between two tries.
    #[serde(rename = "outbound_webhooks_retry_max_delay_ms")]
    pub retry_max_delay_ms: u64,
    /// Tries of one delivery before it is FAILED (the defaults span about 38 hours).
    #[serde(rename = "outbound_webhooks_max_attempts")]
    pub max_attempts: u32,
    /// An endpoint whose deliveries have failed, without a success, for this long is disabled.
    #[serde(rename = "outbound_webhooks_disable_after_secs")]
    pub disable_after_secs: u64,
    /// How often workers look for due deliveries.
    #[serde(rename = "outbound_webhooks_poll_ms")]
    pub poll_ms: u64,
    /// Deliveries in flight at once, per process.
    #[serde(rename = "outbound_webhooks_concurrency")]
    pub concurrency: usize,
}

impl Default for OutboundWebhooks {
    fn default() -> Self {
        Self {
            enabled: true,
            allow_loopback: false,
            timeout_ms: 10_000,
            // 1, 2, 4, … 256 minutes, then every 6 hours: 15 tries over about 38 hours.
            retry_base_ms: 60_000,
            retry_max_delay_ms: 6 * 60 * 60 * 1000,
            max_attempts: 15,
            disable_after_secs: 5 * 24 * 60 * 60,
            poll_ms: 1_000,
            concurrency: 8,
        }
    }
}

impl OutboundWebhooks {
    fn validate(&self) -> Result<(), String> {
        if self.timeout_ms == 0 || self.timeout_ms > 60_000 {
            return Err("PARLEY_OUTBOUND_WEBHOOKS_TIMEOUT_MS must be between 1 and 60000".into());
        }
        if self.retry_base_ms == 0 || self.retry_max_delay_ms < self.retry_base_ms {
            return Err(
                "PARLEY_OUTBOUND_WEBHOOKS_RETRY_BASE_MS must be > 0 and at most \
                        PARLEY_OUTBOUND_WEBHOOKS_RETRY_MAX_DELAY_MS"
                    .into(),
            );
        }
        if self.max_attempts == 0 || self.max_attempts > 100 {
            return Err("PARLEY_OUTBOUND_WEBHOOKS_MAX_ATTEMPTS must be between 1 and 100".into());
        }
        if self.poll_ms == 0 || self.concurrency == 0 || self.concurrency > 256 {
            return Err("PARLEY_OUTBOUND_WEBHOOKS_POLL_MS must be > 0 and \
                        PARLEY_OUTBOUND_WEBHOOKS_CONCURRENCY between 1 and 256"
                .into());
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SignupMode {
    Open,
    Closed,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            database_url: "sqlite://parley.db?mode=rwc".into(),
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            jwt_secret: None,
            jwt_ttl_secs: 24 * 60 * 60,
            secret_key: None,
            graph_api_url: "https://graph.facebook.com".into(),
            graph_api_version: "v23.0".into(),
            app_secret: None,
            webhook_verify_token: None,
            signup: SignupMode::Open,
            max_body_bytes: 1024 * 1024,
            shutdown_grace_secs: 30,
            database_max_connections: 16,
            database_acquire_timeout_ms: 10_000,
            idempotency_retention_hours: 24,
            default_daily_limit: 1000,
            send_wait_secs: 30,
            websocket_init_timeout_ms: 5_000,
            dispatch_enabled: true,
            dispatch_concurrency: 16,
            dispatch_lease_ms: 60_000,
            dispatch_poll_ms: 500,
            // Meta's documented pair rate is one message every 6 seconds from a business number
            // to one WhatsApp user (it tolerates short bursts, but they borrow against later
            // sends and end in error 131056). Spacing at that rate never draws on the burst
            // allowance, so a chatty automation is slowed down here instead of refused by Meta.
            pair_spacing_ms: 6_000,
            graph_api_timeout_ms: 20_000,
            sandbox_status_delay_ms: 1000,
            graphql_max_depth: 16,
            graphql_max_complexity: 5_000,
            graphql_max_directives: 50,
            graphql_max_batch: 10,
            graphql_max_query_bytes: 32 * 1024,
            graphql_timeout_ms: 30_000,
            graphql_introspection: true,
            graphql_suggestions: true,
            outbound_webhooks: OutboundWebhooks::default(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration could not be read: {0}")]
    Load(#[from] Box<figment::Error>),
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

impl Config {
    /// Reads `file` (if it exists) and the `PARLEY_*` environment over the defaults, and validates.
    pub fn load(file: &Path) -> Result<Self, ConfigError> {
        let config: Config = Figment::new()
            .merge(Toml::file(file))
            .merge(Env::prefixed("PARLEY_").map(|key| key.as_str().to_ascii_lowercase().into()))
            .extract()
            .map_err(Box::new)?;
        config.validate()?;
        Ok(config)
    }

    /// Checks what serde's types cannot: URL schemes, secret lengths, sane limits.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |message: String| Err(ConfigError::Invalid(message));
        if !(self.database_url.starts_with("sqlite:")
            || self.database_url.starts_with("postgres://")
            || self.database_url.starts_with("postgresql://"))
        {
            return invalid("PARLEY_DATABASE_URL must start with sqlite: or postgres://".into());
        }
        for (name, secret) in [
            ("PARLEY_JWT_SECRET", &self.jwt_secret),
            ("PARLEY_SECRET_KEY", &self.secret_key),
        ] {
            if let Some(secret) = secret
                && secret.expose_secret().len() < MIN_SECRET_LEN
            {
                return invalid(format!(
                    "{name} must be at least {MIN_SECRET_LEN} bytes long"
                ));
            }
        }
        match reqwest::Url::parse(&self.graph_api_url) {
            Ok(url) if matches!(url.scheme(), "http" | "https") => {}
            _ => return invalid("PARLEY_GRAPH_API_URL must be an http(s) URL".into()),
        }
        if !self.graph_api_version.starts_with('v') {
            return invalid("PARLEY_GRAPH_API_VERSION must look like v23.0".into());
        }
        if self.max_body_bytes < 1024 {
            return invalid("PARLEY_MAX_BODY_BYTES must be at least 1024".into());
        }
        if self.idempotency_retention_hours < 24 {
            return invalid("PARLEY_IDEMPOTENCY_RETENTION_HOURS must be at least 24".into());
        }
        if self.send_wait_secs > 120 {
            return invalid("PARLEY_SEND_WAIT_SECS must be at most 120".into());
        }
        if self.dispatch_concurrency == 0 || self.dispatch_concurrency > 1024 {
            return invalid("PARLEY_DISPATCH_CONCURRENCY must be between 1 and 1024".into());
        }
        if self.graph_api_timeout_ms == 0 || self.dispatch_lease_ms <= self.graph_api_timeout_ms {
            return invalid(
                "PARLEY_DISPATCH_LEASE_MS must exceed PARLEY_GRAPH_API_TIMEOUT_MS (> 0)".into(),
            );
        }
        if self.pair_spacing_ms > 60 * 60 * 1000 {
            return invalid("PARLEY_PAIR_SPACING_MS must be at most an hour (3600000)".into());
        }
        if self.jwt_ttl_secs == 0 || self.jwt_ttl_secs > 366 * 24 * 60 * 60 {
            return invalid("PARLEY_JWT_TTL_SECS must be between 1 second and a year".into());
        }
        if self.graphql_max_depth == 0
            || self.graphql_max_complexity == 0
            || self.graphql_max_batch == 0
            || self.graphql_max_query_bytes == 0
        {
            return invalid(
                "PARLEY_GRAPHQL_MAX_DEPTH, _MAX_COMPLEXITY, _MAX_BATCH and _MAX_QUERY_BYTES must be at least 1"
                    .into(),
            );
        }
        if self.graphql_timeout_ms == 0 {
            return invalid("PARLEY_GRAPHQL_TIMEOUT_MS must be at least 1".into());
        }
        if self.database_max_connections == 0 {
            return invalid("PARLEY_DATABASE_MAX_CONNECTIONS must be at least 1".into());
        }
        if self.database_acquire_timeout_ms == 0 {
            return invalid("PARLEY_DATABASE_ACQUIRE_TIMEOUT_MS must be at least 1".into());
        }
        self.outbound_webhooks
            .validate()
            .map_err(ConfigError::Invalid)?;
        Ok(())
    }

    pub fn is_sqlite(&self) -> bool {
        self.database_url.starts_with("sqlite:")
    }

    pub fn shutdown_grace(&self) -> Duration {
        Duration::from_secs(self.shutdown_grace_secs)
    }

    pub fn websocket_init_timeout(&self) -> Duration {
        Duration::from_millis(self.websocket_init_timeout_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        Config::default().validate().unwrap();
    }

    #[test]
    fn short_secrets_are_refused() {
        let config = Config {
            jwt_secret: Some("short".into()),
            ..Config::default()
        };
        assert!(matches!(config.validate(), Err(ConfigError::Invalid(_))));
    }

    #[test]
    fn secrets_never_print() {
        let config = Config {
            jwt_secret: Some("a-very-long-secret-that-must-never-be-logged".into()),
            ..Config::default()
        };
        assert!(!format!("{config:?}").contains("never-be-logged"));
    }

    #[test]
    // figment's Jail fixes the closure's error type.
    #[allow(clippy::result_large_err)]
    fn file_then_environment() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "parley.toml",
                "listen = \"127.0.0.1:9000\"\nsignup = \"closed\"\ngraph_api_version = \"v22.0\"",
            )?;
            jail.set_env("PARLEY_LISTEN", "127.0.0.1:9100");
            jail.set_env("PARLEY_JWT_SECRET", "12345678901234567890123456789012345");
            let config = Config::load(Path::new("parley.toml")).map_err(|e| e.to_string())?;
            assert_eq!(config.listen.port(), 9100);
            assert_eq!(config.signup, SignupMode::Closed);
            assert_eq!(config.graph_api_version, "v22.0");
            assert!(!config.outbound_webhooks.allow_loopback);
            jail.set_env("PARLEY_OUTBOUND_WEBHOOKS_RETRY_BASE_MS", "250");
            let config = Config::load(Path::new("parley.toml")).map_err(|e| e.to_string())?;
            assert_eq!(config.outbound_webhooks.retry_base_ms, 250);
            assert_eq!(
                config.jwt_secret.unwrap().expose_secret(),
                "12345678901234567890123456789012345"
            );
            Ok(())
        });
    }
}
