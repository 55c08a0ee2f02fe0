//! A webhook delivery from any bytes, as if Meta had signed it: read into Meta's model, then
//! stored and applied as the server does, to a fresh SQLite database holding one workspace whose
//! sender has phone_number_id `1001` (the seeds use it). Applying may skip what it does not know,
//! but must never panic or fail with an internal error: a bad delivery is kept with a note, never
//! retried forever.
#![no_main]

use std::sync::{Arc, OnceLock};

use libfuzzer_sys::fuzz_target;
use parley::{
    accounts::{BootstrapRequest, bootstrap},
    config::Config,
    db::{self, ServerSecrets},
    events::EventBus,
    services::Services,
    webhooks::{apply_delivery, inbound::parse_inbound},
    whatsapp::webhook::Delivery,
};
use sea_orm::ConnectionTrait;

struct World {
    runtime: tokio::runtime::Runtime,
    services: Services,
}

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let (db, secrets) = runtime.block_on(async {
            // A file rather than `:memory:`, which the pool would lose with its connection.
            let path = std::env::temp_dir().join(format!("parley-fuzz-{}.db", std::process::id()));
            let _ = std::fs::remove_file(&path);
            let config = Config {
                database_url: format!("sqlite://{}?mode=rwc", path.display()),
                database_max_connections: 2,
                ..Config::default()
            };
            let db = db::connect(&config).await.unwrap();
            db::migrate(&db).await.unwrap();
            let secrets = ServerSecrets::load(&db, &config).await.unwrap();
            let request = BootstrapRequest {
                workspace: "Fuzz",
                email: "fuzz@example.com",
                password: "fuzz password 1234",
                sandbox_sender: Some("+15550001000"),
                api_key_name: "fuzz",
            };
            bootstrap(&db, &secrets, 3600, request).await.unwrap();
            db.execute_unprepared("UPDATE senders SET phone_number_id = '1001'")
                .await
                .unwrap();
            (db, secrets)
        });
        let services = Services {
            db,
            events: EventBus::default(),
            // Auto-replies stay off (no sender enables them); the defaults are what a server runs.
            config: Arc::new(Config::default()),
            secrets: Arc::new(secrets),
        };
        World { runtime, services }
    })
}

fuzz_target!(|data: &[u8]| {
    // Not JSON: stored with a note, never applied.
    let Ok(delivery) = Delivery::parse(data) else {
        return;
    };
    // What the intake reads on its own.
    for (_, change) in delivery.changes() {
        for message in &change.value.messages {
            let _ = parse_inbound(message);
        }
    }
    let world = world();
    let outcome = world
        .runtime
        .block_on(apply_delivery(&world.services, data));
    if let Err(error) = outcome {
        panic!(
            "applying {} failed: {error:?}",
            String::from_utf8_lossy(data)
        );
    }
});
