//! Builds the application: database, migrations, secrets, routes and the listening socket.
//! [`Application::build`] binds (port 0 in tests) and returns before serving, so that callers know
//! the address; [`Application::run_until_stopped`] serves until a shutdown signal.

use std::{future::Future, net::SocketAddr, sync::Arc};

use anyhow::Context;
use axum::{
    Router,
    extract::{DefaultBodyLimit, FromRef, State},
    handler::Handler,
    http::{StatusCode, header},
    middleware,
    response::IntoResponse,
    routing::get,
    serve::ListenerExt,
};
use metrics_exporter_prometheus::PrometheusHandle;
use tokio::{net::TcpListener, sync::Notify};
use tower::ServiceBuilder;
use tower_http::limit::RequestBodyLimitLayer;

use crate::{
    auth::{self, extract::Surface},
    config::Config,
    db::{self, ServerSecrets},
    dispatch::Dispatcher,
    error::AppError,
    events::EventBus,
    graphql::{self, GraphqlState},
    outbound::worker::DeliveryWorker,
    rest,
    services::Services,
    telemetry, webhooks,
};

/// The router's state: each handler takes the part it needs (`State<Services>`,
/// `State<GraphqlState>`, …).
#[derive(Clone, FromRef)]
pub struct AppState {
    pub services: Services,
    pub graphql: GraphqlState,
    pub metrics: PrometheusHandle,
    pub statements: db::StatementCounter,
    /// The writer of Meta's deliveries.
    pub intake: webhooks::intake::Intake,
}

pub struct Application {
    listener: TcpListener,
    dispatcher: Option<Dispatcher>,
    webhook_worker: Option<DeliveryWorker>,
    router: Router,
    state: AppState,
    addr: SocketAddr,
}

impl Application {
    /// Connects, migrates, loads or generates secrets, and binds `config.listen`.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let mut db = db::connect_migrated(&config)
            .await
            .context("cannot connect to the database and apply its migrations")?;
        let statements = db::StatementCounter::install(&mut db);
        let secrets = ServerSecrets::load(&db, &config)
            .await
            .context("cannot load server secrets")?;
        let listener = TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("cannot listen on {}", config.listen))?;
        let addr = listener.local_addr()?;
        let (config, secrets) = (Arc::new(config), Arc::new(secrets));
        let events = EventBus::default();
        let services = Services {
            db,
            events,
            config,
            secrets,
        };
        let intake = webhooks::intake::Intake::start(&services);
        let state = AppState {
            graphql: GraphqlState {
                schema: graphql::build_schema(Some(services.clone())),
                subscriptions: graphql::SharedSubscriptions::default(),
                services: services.clone(),
            },
            services: services.clone(),
            metrics: telemetry::metrics_handle(),
            statements,
            intake,
        };
        let dispatcher = match services.config.dispatch_enabled {
            true => Some(Dispatcher::new(&services)?),
            false => None,
        };
        let webhook_worker = match services.config.outbound_webhooks.enabled {
            true => Some(DeliveryWorker::new(&services)?),
            false => None,
        };
        Ok(Self {
            listener,
            dispatcher,
            webhook_worker,
            router: router(state.clone()),
            state,
            addr,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` completes, then lets in-flight requests finish, for at most the
    /// configured grace period.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let services = &self.state.services;
        let maintenance = tokio::spawn(maintain(services.clone()));
        let listener = tokio::spawn(crate::events::listen(
            services.db.clone(),
            services.events.clone(),
        ));
        let dispatcher = self.dispatcher.map(Dispatcher::spawn);
        let webhook_worker = self.webhook_worker.map(DeliveryWorker::spawn);
        let grace = services.config.shutdown_grace();
        let stopping = Arc::new(Notify::new());
        let notify = stopping.clone();
        let accepted = self.listener.tap_io(graphql::bound_unsent);
        let server = axum::serve(accepted, self.router).with_graceful_shutdown(async move {
            shutdown.await;
            tracing::info!("shutting down: finishing in-flight requests");
            notify.notify_one();
        });
        let result = tokio::select! {
            result = server.into_future() => result,
            () = async { stopping.notified().await; tokio::time::sleep(grace).await } => {
                tracing::warn!(?grace, "in-flight requests outlived the grace period; exiting");
                Ok(())
            }
        };
        maintenance.abort();
        listener.abort();
        if let Some(dispatcher) = dispatcher {
            dispatcher.stop(grace).await;
        }
        if let Some(worker) = webhook_worker {
            worker.stop(grace).await;
        }
        result
    }
}

/// How long subscribers can catch up on events after a disconnection.
const EVENT_RETENTION: std::time::Duration = std::time::Duration::from_secs(7 * 24 * 3600);

/// Housekeeping while the server runs: stored webhook deliveries that were never applied are
/// re-applied, and expired rate-limit windows and old event-log entries are deleted. Several
/// processes doing it at once is harmless.
async fn maintain(services: Services) {
    let db = &services.db;
    let mut every_ten_seconds = tokio::time::interval(std::time::Duration::from_secs(10));
    every_ten_seconds.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every_ten_seconds.tick().await;
        if let Err(error) = webhooks::intake::process_pending(&services).await {
            tracing::warn!(?error, "re-applying stored webhooks failed");
        }
        if let Err(error) = crate::ratelimit::prune(db, chrono::Utc::now()).await {
            tracing::warn!(%error, "pruning rate-limit windows failed");
        }
        if let Err(error) = crate::events::prune(db, EVENT_RETENTION).await {
            tracing::warn!(%error, "pruning the event log failed");
        }
    }
}

fn router(state: AppState) -> Router {
    let max_body = state.services.config.max_body_bytes;
    let graphql_auth = middleware::from_fn_with_state(
        (state.services.clone(), Surface::GraphQl),
        auth::extract::authenticate_request,
    );
    Router::new()
        .route(
            "/graphql",
            get(graphql::routes::get).post(graphql::routes::post.layer(graphql_auth)),
        )
        .nest("/api/v1", rest::router(state.services.clone()))
        .route("/openapi.json", get(rest::openapi))
        .route(
            "/webhooks/whatsapp",
            get(webhooks::intake::verify).post(webhooks::intake::receive),
        )
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .fallback(not_found)
        .layer(
            ServiceBuilder::new()
                .layer(telemetry::set_request_id_layer())
                .layer(telemetry::trace_layer())
                .layer(telemetry::propagate_request_id_layer())
                .layer(middleware::from_fn(telemetry::record_metrics))
                // One limit for every route: refuses by Content-Length up front and stops reading
                // a streamed body at the limit. axum's own default would only cover its extractors.
                .layer(RequestBodyLimitLayer::new(max_body))
                .layer(DefaultBodyLimit::disable()),
        )
        .with_state(state)
}

/// Liveness: the process answers.
async fn healthz() -> &'static str {
    "ok"
}

/// Readiness: the database answers.
async fn readyz(State(services): State<Services>) -> impl IntoResponse {
    if db::is_reachable(&services.db).await {
        (StatusCode::OK, "ready")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "database unreachable")
    }
}

async fn metrics(State(metrics): State<PrometheusHandle>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        metrics.render(),
    )
}

async fn not_found() -> AppError {
    AppError::not_found("route")
}
