//! Reads shared by concurrent requests: whatever questions of one kind are waiting are answered
//! by one statement, as the committer writes their effects in one transaction.
//!
//! Under load a statement per request is most of what the database does for a read (on
//! PostgreSQL a round trip, a bind and the executor's start-up of the plan each; on SQLite a
//! trip to a connection's thread and back). A task takes the questions waiting, up to
//! [`MAX_PER_READ`], and answers them with one statement, with [`READS_IN_FLIGHT`] under way;
//! a question alone is read at once.

use crate::store::read_sessions::Kept;
use crate::store::StoreError;
use futures_util::future::BoxFuture;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot, Semaphore};

/// Questions answered by one statement at most.
pub(super) const MAX_PER_READ: usize = 32;

/// Statements of one kind under way at once. One: questions arriving while it runs share the
/// next, so the database starts one statement for several of them (its executor's start-up of
/// the statement's plan is most of what a read costs it). With four at once nearly every
/// caller had a statement of its own (1.2 callers a statement at 2,000 calls/s); with one,
/// PostgreSQL spent 659–707 µs a SendFile instead of 845–1,046 and the gateway served 20 % more
/// (`docs/performance.md`, stop 40). A question waits at most for the statement under way.
const READS_IN_FLIGHT: usize = 1;

/// The answers to `questions`, one each and in order, from one statement.
pub(super) type ReadFn<Q, A> =
    for<'a> fn(&'a Kept, &'a [Q]) -> BoxFuture<'a, Result<Vec<A>, StoreError>>;

type Asked<Q, A> = (Q, oneshot::Sender<Result<A, StoreError>>);

/// The handle of one kind's batching task.
pub(super) struct Batcher<Q, A> {
    tx: mpsc::Sender<Asked<Q, A>>,
}

impl<Q, A> std::fmt::Debug for Batcher<Q, A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Batcher").finish_non_exhaustive()
    }
}

impl<Q, A> Clone for Batcher<Q, A> {
    fn clone(&self) -> Self {
        Batcher {
            tx: self.tx.clone(),
        }
    }
}

impl<Q: Send + Sync + 'static, A: Send + 'static> Batcher<Q, A> {
    /// Starts the task that answers questions with `read`, recording each statement's number
    /// of questions in the histogram `metric`.
    pub(super) fn start(sessions: Arc<Kept>, read: ReadFn<Q, A>, metric: &'static str) -> Self {
        let (tx, rx) = mpsc::channel(1024);
        tokio::spawn(serve(sessions, rx, read, metric));
        Batcher { tx }
    }

    /// The answer to `question`, read with the questions waiting beside it.
    pub(super) async fn read(&self, question: Q) -> Result<A, StoreError> {
        let (reply, answer) = oneshot::channel();
        if self.tx.send((question, reply)).await.is_err() {
            return Err(sqlx::Error::PoolClosed.into());
        }
        answer.await.map_err(|_| sqlx::Error::PoolClosed)?
    }
}

async fn serve<Q: Send + Sync + 'static, A: Send + 'static>(
    sessions: Arc<Kept>,
    mut rx: mpsc::Receiver<Asked<Q, A>>,
    read: ReadFn<Q, A>,
    metric: &'static str,
) {
    let slots = Arc::new(Semaphore::new(READS_IN_FLIGHT));
    while let Some(first) = rx.recv().await {
        // Questions arriving while every slot is busy wait here, and share the next statement.
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        let mut batch = vec![first];
        while batch.len() < MAX_PER_READ {
            match rx.try_recv() {
                Ok(asked) => batch.push(asked),
                Err(_) => break,
            }
        }
        let sessions = sessions.clone();
        tokio::spawn(async move {
            let _slot = slot;
            answer(&sessions, batch, read, metric).await;
        });
    }
}

/// Answers every question of `batch`; if the shared statement fails, each is read on its own,
/// all at once (so a database that is down costs each question two waits, not one per
/// question before it), and each gets its own answer.
async fn answer<Q: Send + Sync, A: Send>(
    sessions: &Kept,
    batch: Vec<Asked<Q, A>>,
    read: ReadFn<Q, A>,
    metric: &'static str,
) {
    metrics::histogram!(metric).record(batch.len() as f64);
    let (questions, replies): (Vec<Q>, Vec<_>) = batch.into_iter().unzip();
    match read(sessions, &questions).await {
        Ok(answers) if answers.len() == replies.len() => {
            for (reply, a) in replies.into_iter().zip(answers) {
                let _ = reply.send(Ok(a));
            }
        }
        Ok(_) => {
            for reply in replies {
                let _ = reply.send(Err(sqlx::Error::RowNotFound.into()));
            }
        }
        Err(e) if replies.len() == 1 => {
            if let Some(reply) = replies.into_iter().next() {
                let _ = reply.send(Err(e));
            }
        }
        Err(_) => {
            let alone = questions.iter().zip(replies).map(|(q, reply)| async move {
                let one = read(sessions, std::slice::from_ref(q)).await;
                let _ = reply.send(
                    one.and_then(|mut a| a.pop().ok_or_else(|| sqlx::Error::RowNotFound.into())),
                );
            });
            futures_util::future::join_all(alone).await;
        }
    }
}
