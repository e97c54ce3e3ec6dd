//! Request bodies with a pace to keep, and responses that mark the end of their request.
//!
//! [`PacedBody`] wraps every request body, so that no reader (the SOAP door, the browser's
//! forms and multipart uploads, a drain after a refusal) can be held by a client that
//! dribbles: a pause longer than the idle timeout, or an average below the minimum rate once
//! the grace has passed, ends the body with [`BodyTooSlow`]. Only time spent waiting on the
//! client counts; time the gateway spends on its own work (hashing a password, writing a
//! chunk) does not.

use super::conns::{InFlight, Registry};
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
                let deadline = start + limit;
                let timer = this
                    .timer
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
                if timer.deadline() != deadline {
                    timer.as_mut().reset(deadline);
                }
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

pin_project_lite::pin_project! {
    /// A response body that holds its request's [`InFlight`] until it has been sent (or
    /// dropped), so the connection counts as busy exactly while a request is being answered.
    pub struct Answer<B> {
        #[pin]
        inner: B,
        _inflight: InFlight,
    }
}

impl<B> Answer<B> {
    pub fn new(inner: B, inflight: InFlight) -> Self {
        Answer {
            inner,
            _inflight: inflight,
        }
    }
}

impl<B: Body> Body for Answer<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        self.project().inner.poll_frame(cx)
    }
    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }
    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
