//! HTTP/2 streams that wait on their client too long are reset.
//!
//! An HTTP/2 client controls how much the gateway may send on each stream (its flow-control
//! window); a client that keeps it closed (`SETTINGS_INITIAL_WINDOW_SIZE = 0`) would hold a
//! response, and its request slot, for ever. hyper runs each stream in a task of its own,
//! which it hands to the connection's executor: [`StreamExec`] wraps that task so the
//! response body created in it ([`super::body::Answer`]) tells it, through [`Progress`], since
//! when it waits for the client to take its last chunk. When that wait reaches the send
//! timeout the task ends, which drops the stream's handles: h2 resets it (`RST_STREAM`), the
//! request ends, and the rest of the connection carries on.

use super::conns::{ConnStats, Progress, Registry};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::time::Sleep;

tokio::task_local! {
    /// The progress of the response the current stream's task sends.
    static STREAM: Arc<OnceLock<Arc<Progress>>>;
}

/// Tells the current HTTP/2 stream's task which response it sends (nothing over HTTP/1.1,
/// whose watchdog looks at the connection's responses itself).
pub(super) fn claim(progress: &Arc<Progress>) {
    let _ = STREAM.try_with(|slot| slot.set(progress.clone()));
}

/// Spawns hyper's HTTP/2 stream tasks, each watched for a response stalled on its client.
#[derive(Clone)]
pub struct StreamExec {
    send_timeout: Duration,
    registry: Arc<Registry>,
}

impl StreamExec {
    pub fn new(send_timeout: Duration, registry: Arc<Registry>) -> StreamExec {
        StreamExec {
            send_timeout,
            registry,
        }
    }
}

impl<F> hyper::rt::Executor<F> for StreamExec
where
    F: Future<Output = ()> + Send + 'static,
{
    fn execute(&self, fut: F) {
        tokio::spawn(WatchedStream {
            inner: fut,
            slot: Arc::new(OnceLock::new()),
            timer: None,
            send_timeout: self.send_timeout,
            registry: self.registry.clone(),
        });
    }
}

pin_project_lite::pin_project! {
    struct WatchedStream<F> {
        #[pin]
        inner: F,
        slot: Arc<OnceLock<Arc<Progress>>>,
        timer: Option<Pin<Box<Sleep>>>,
        send_timeout: Duration,
        registry: Arc<Registry>,
    }
}

impl<F: Future<Output = ()>> Future for WatchedStream<F> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.project();
        let inner = this.inner;
        if STREAM
            .sync_scope(this.slot.clone(), || inner.poll(cx))
            .is_ready()
        {
            return Poll::Ready(());
        }
        // The response's wait only changes while the task is polled, so it is read here.
        let Some(since) = this.slot.get().and_then(|p| p.waiting_since()) else {
            *this.timer = None;
            return Poll::Pending;
        };
        let timer = super::body::armed(this.timer, since + *this.send_timeout);
        match timer.as_mut().poll(cx) {
            Poll::Ready(()) => {
                // Dropping the stream's task (and with it its handles) resets the stream.
                ConnStats::bump(&this.registry.stats.stalled_streams);
                metrics::counter!("imax_responses_stalled_total").increment(1);
                tracing::debug!("an HTTP/2 response waited on its client too long; stream reset");
                Poll::Ready(())
            }
            Poll::Pending => Poll::Pending,
        }
    }
}
