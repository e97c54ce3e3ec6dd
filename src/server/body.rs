//! Request bodies with a pace to keep, and responses that mark the end of their request.
//!
//! [`PacedBody`] wraps every request body, so that no reader (the SOAP door, the browser's
//! forms and multipart uploads, a drain after a refusal) can be held by a client that
//! dribbles: a pause longer than the idle timeout, or an average below the minimum rate once
//! the grace has passed, ends the body with [`BodyTooSlow`]. Only time spent waiting on the
//! client counts; time the gateway spends on its own work (hashing a password, writing a
//! chunk) does not.

use super::conns::{InFlight, Progress, Registry};
use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::time::{Instant, Sleep};

/// How fast a request body must arrive.
#[derive(Debug, Clone, Copy)]
pub struct BodyPace {
    pub idle: Duration,
    pub min_rate: u64,
    pub grace: Duration,
}

/// The error a body ends with when its client fell below the pace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyTooSlow {
    pub stalled: bool,
}

impl std::fmt::Display for BodyTooSlow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.stalled {
            f.write_str("the request body stopped arriving before it was complete")
        } else {
            f.write_str("the request body arrived too slowly")
        }
    }
}

impl std::error::Error for BodyTooSlow {}

impl BodyTooSlow {
    /// Whether an error from reading a request body (as axum or hyper hand it on) is this one.
    pub fn find(e: &(dyn std::error::Error + 'static)) -> Option<BodyTooSlow> {
        let mut cur = Some(e);
        while let Some(err) = cur {
            if let Some(s) = err.downcast_ref::<BodyTooSlow>() {
                return Some(*s);
            }
            cur = err.source();
        }
        None
    }
}

pin_project_lite::pin_project! {
    /// A request body that must keep [`BodyPace`].
    pub struct PacedBody<B> {
        #[pin]
        inner: B,
        pace: BodyPace,
        received: u64,
        waited: Duration,
        wait_start: Option<Instant>,
        timer: Option<Pin<Box<Sleep>>>,
        failed: bool,
        registry: Arc<Registry>,
    }
}

impl<B> PacedBody<B> {
    pub fn new(inner: B, pace: BodyPace, registry: Arc<Registry>) -> Self {
        PacedBody {
            inner,
            pace,
            received: 0,
            waited: Duration::ZERO,
            wait_start: None,
            timer: None,
            failed: false,
            registry,
        }
    }
}

impl<B> Body for PacedBody<B>
where
    B: Body<Data = Bytes>,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Data = Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = self.project();
        if *this.failed {
            return Poll::Ready(None);
        }
        match this.inner.poll_frame(cx) {
            Poll::Ready(frame) => {
                if let Some(start) = this.wait_start.take() {
                    *this.waited += start.elapsed();
                }
                *this.timer = None;
                if let Some(Ok(f)) = &frame {
                    if let Some(d) = f.data_ref() {
                        *this.received += d.len() as u64;
                    }
                }
                Poll::Ready(frame.map(|r| r.map_err(Into::into)))
            }
            Poll::Pending => {
                let now = Instant::now();
                let start = *this.wait_start.get_or_insert(now);
                let earned = if this.pace.min_rate == 0 {
                    Duration::MAX
                } else {
                    Duration::from_secs_f64(*this.received as f64 / this.pace.min_rate as f64)
                };
                let allowance = this
                    .pace
                    .grace
                    .saturating_add(earned)
                    .saturating_sub(*this.waited);
                let (limit, stalled) = if this.pace.idle <= allowance {
                    (this.pace.idle, true)
                } else {
                    (allowance, false)
                };
                let timer = armed(this.timer, start + limit);
                match timer.as_mut().poll(cx) {
                    Poll::Ready(()) => {
                        *this.failed = true;
                        this.registry
                            .stats
                            .body_timeouts
                            .fetch_add(1, Ordering::Relaxed);
                        Poll::Ready(Some(Err(Box::new(BodyTooSlow { stalled }))))
                    }
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.failed || self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// A response body that holds its request's [`InFlight`] until it has been sent (or
/// dropped), so the connection counts as busy exactly while a request is being answered; and
/// that tells its connection whether the gateway is producing it or it waits on the client
/// ([`Progress`]), which is how stalled responses are found (see [`super::conns`]).
///
/// It also makes sure a streamed body is always asked for its end, on both protocols, once
/// its last bytes were sent: the body's end is where a download checks the whole body and
/// marks the message retrieved ([`crate::gateway::Delivery`]). HTTP/2 asks for the end itself;
/// HTTP/1.1 with a `Content-Length` stops asking once it has that many bytes, and drops the
/// body. So when an HTTP/1.1 body is dropped after exactly its `Content-Length`, the end is
/// asked for at the connection's next successful flush (its bytes reached the socket); when the
/// connection fails first, the body is dropped unfinished.
pub struct Answer {
    inner: Option<axum::body::Body>,
    progress: Arc<Progress>,
    /// HTTP/1.1 only: the response's `Content-Length`, after which hyper drops the body.
    length: Option<u64>,
    produced: u64,
    ended: bool,
    flush_wait: Duration,
    inflight: InFlight,
}

impl Answer {
    /// `length`: the response's `Content-Length` when it goes out over HTTP/1.1;
    /// `flush_wait`: how long a finished body waits for its bytes to be flushed.
    pub fn new(
        inner: axum::body::Body,
        inflight: InFlight,
        length: Option<u64>,
        flush_wait: Duration,
    ) -> Self {
        let progress = inflight.conn().answer_started();
        super::stall::claim(&progress);
        Answer {
            inner: Some(inner),
            progress,
            length,
            produced: 0,
            ended: false,
            flush_wait,
            inflight,
        }
    }
}

impl Body for Answer {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        let Some(inner) = this.inner.as_mut() else {
            return Poll::Ready(None);
        };
        this.progress.produce();
        let r = Pin::new(inner).poll_frame(cx);
        match &r {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(d) = frame.data_ref() {
                    this.produced += d.len() as u64;
                }
                this.progress.wait();
            }
            Poll::Ready(Some(Err(_))) | Poll::Ready(None) => this.ended = true,
            Poll::Pending => {}
        }
        r
    }
    fn is_end_stream(&self) -> bool {
        self.inner.as_ref().is_none_or(|b| b.is_end_stream())
    }
    fn size_hint(&self) -> SizeHint {
        self.inner
            .as_ref()
            .map(|b| b.size_hint())
            .unwrap_or_default()
    }
}

impl Drop for Answer {
    fn drop(&mut self) {
        let conn = self.inflight.conn().clone();
        conn.answer_finished(&self.progress);
        let Some(body) = self.inner.take() else {
            return;
        };
        let whole = !self.ended && !body.is_end_stream() && self.length == Some(self.produced);
        if !whole {
            return; // dropped here: a body that was not sent whole is told so by its drop
        }
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let flushed = conn.next_flush(self.flush_wait);
        rt.spawn(async move {
            if flushed.await {
                finish(body).await;
            }
        });
    }
}

/// Asks a body that was sent whole for its end (no more data is expected: any is refused by
/// dropping the body unfinished).
async fn finish(mut body: axum::body::Body) {
    use http_body_util::BodyExt;
    while let Some(Ok(frame)) = body.frame().await {
        if frame.data_ref().is_some_and(|d| !d.is_empty()) {
            return;
        }
    }
}

/// The timer in `slot`, made or moved to fire at `deadline` (one allocation per body or
/// stream, however often its deadline moves).
pub(super) fn armed(
    slot: &mut Option<Pin<Box<tokio::time::Sleep>>>,
    deadline: tokio::time::Instant,
) -> &mut Pin<Box<tokio::time::Sleep>> {
    let timer = slot.get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
    if timer.deadline() != deadline {
        timer.as_mut().reset(deadline);
    }
    timer
}
