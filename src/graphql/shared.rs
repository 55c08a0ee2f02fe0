//! Identical subscriptions share one execution. A CRM opens the same subscription in every tab of
//! every agent; run one by one, each would hold its own GraphQL execution (most of an idle
//! subscriber's memory) and resolve and serialise every event again. Subscriptions with the same
//! principal (workspace, member, key, role and scopes), query, operation name and variables give
//! the same responses, so they share one: its responses are serialised once and broadcast to
//! each subscriber, which only adds its own id.
//!
//! An execution lives while one of its subscribers does. It leaves the table before it sends its
//! last message (an error at the start, or the end of its stream), so that a subscriber either
//! joins in time to receive that message or starts an execution of its own.

use std::{
    collections::HashMap,
    pin::Pin,
    sync::{Arc, Mutex, MutexGuard, Weak},
};

use async_graphql::{Request, Response};
use futures_util::{Stream, StreamExt, stream};
use tokio::{sync::broadcast, task::AbortHandle};

use super::ParleySchema;
use crate::auth::Principal;

/// Responses an execution keeps for subscribers that have not read them yet; a subscriber further
/// behind is dropped as a slow client.
const BACKLOG: usize = 64;

/// What a subscriber receives.
#[derive(Clone)]
pub enum Step {
    /// A response, serialised.
    Next(Arc<str>),
    /// The operation failed before it started (invalid, or refused): its errors, serialised.
    /// The last step.
    Error(Arc<str>),
    /// The stream ended. The last step.
    Done,
    /// The subscriber fell too far behind. The last step.
    Lagged,
}

pub type Steps = Pin<Box<dyn Stream<Item = Step> + Send>>;

type Table = Arc<Mutex<HashMap<Key, Weak<Execution>>>>;

/// The running subscription executions of one server.
#[derive(Clone, Default)]
pub struct SharedSubscriptions {
    executions: Table,
}

#[derive(Clone, PartialEq, Eq, Hash)]
struct Key {
    principal: Option<String>,
    query: String,
    operation_name: Option<String>,
    variables: String,
}

impl Key {
    fn new(principal: Option<&Principal>, request: &Request) -> Self {
        Self {
            principal: principal.map(|principal| {
                format!(
                    "{}/{}/{:?}/{:?}/{:?}",
                    principal.workspace_id,
                    principal.member_id,
                    principal.api_key.as_ref().map(|key| key.id),
                    principal.role,
                    principal.scopes,
                )
            }),
            query: request.query.clone(),
            operation_name: request.operation_name.clone(),
            variables: serde_json::to_string(&request.variables).unwrap_or_default(),
        }
    }
}

struct Execution {
    key: Key,
    executions: Table,
    sender: broadcast::Sender<Step>,
    task: AbortHandle,
}

impl Drop for Execution {
    fn drop(&mut self) {
        self.task.abort();
        let mut executions = lock(&self.executions);
        if executions
            .get(&self.key)
            .is_some_and(|entry| entry.strong_count() == 0)
        {
            executions.remove(&self.key);
        }
    }
}

impl SharedSubscriptions {
    /// The steps of `request` run as `principal`: joined to an identical running execution, or
    /// a new one.
    pub fn subscribe(
        &self,
        schema: &ParleySchema,
        principal: Option<&Principal>,
        request: Request,
    ) -> Steps {
        let key = Key::new(principal, &request);
        let (execution, receiver) = {
            let mut executions = lock(&self.executions);
            match executions.get(&key).and_then(Weak::upgrade) {
                Some(execution) => {
                    let receiver = execution.sender.subscribe();
                    (execution, receiver)
                }
                None => {
                    let request = match principal {
                        Some(principal) => request.data(principal.clone()),
                        None => request,
                    };
                    let (sender, receiver) = broadcast::channel(BACKLOG);
                    let execution = Arc::new_cyclic(|me: &Weak<Execution>| {
                        let task = tokio::spawn(drive(
                            schema.clone(),
                            request,
                            sender.clone(),
                            self.executions.clone(),
                            key.clone(),
                            me.clone(),
                        ));
                        Execution {
                            key: key.clone(),
                            executions: self.executions.clone(),
                            sender,
                            task: task.abort_handle(),
                        }
                    });
                    executions.insert(key, Arc::downgrade(&execution));
                    (execution, receiver)
                }
            }
        };
        // The subscriber holds the execution alive until its stream is dropped.
        Box::pin(stream::unfold(
            Some((execution, receiver)),
            |state| async move {
                let (execution, mut receiver) = state?;
                let step = match receiver.recv().await {
                    Ok(step) => step,
                    Err(broadcast::error::RecvError::Lagged(_)) => Step::Lagged,
                    Err(broadcast::error::RecvError::Closed) => Step::Done,
                };
                let more = matches!(step, Step::Next(_)).then_some((execution, receiver));
                Some((step, more))
            },
        ))
    }

    /// Executions running now, for tests and metrics.
    pub fn running(&self) -> usize {
        lock(&self.executions)
            .values()
            .filter(|entry| entry.strong_count() > 0)
            .count()
    }
}

/// Runs one execution, broadcasting its responses.
async fn drive(
    schema: ParleySchema,
    request: Request,
    sender: broadcast::Sender<Step>,
    executions: Table,
    key: Key,
    me: Weak<Execution>,
) {
    let retire = || {
        let mut executions = lock(&executions);
        if executions
            .get(&key)
            .is_some_and(|entry| Weak::ptr_eq(entry, &me))
        {
            executions.remove(&key);
        }
    };
    let mut responses = schema.execute_stream(request);
    let mut first = true;
    while let Some(response) = responses.next().await {
        if std::mem::take(&mut first) && failed_to_start(&response) {
            retire();
            let errors = serde_json::to_string(&response.errors).unwrap_or_else(|_| "[]".into());
            let _ = sender.send(Step::Error(errors.into()));
            return;
        }
        match serde_json::to_string(&response) {
            Ok(text) => {
                let _ = sender.send(Step::Next(text.into()));
            }
            Err(error) => tracing::error!(%error, "a subscription response does not serialise"),
        }
    }
    retire();
    let _ = sender.send(Step::Done);
}

/// Errors before any data: the operation never ran.
fn failed_to_start(response: &Response) -> bool {
    response.data == async_graphql::Value::Null && response.is_err()
}

fn lock(table: &Table) -> MutexGuard<'_, HashMap<Key, Weak<Execution>>> {
    // A panic while holding the lock leaves the table usable: entries are only inserted and
    // removed whole.
    table
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
