//! The ground floor: what every other module may use, and which uses nothing of the crate's
//! own (`tests/layers.rs` checks it): which request is being served, who a client is, how
//! secrets are compared, and which modes the gateway's files get. The clock
//! ([`crate::clock`]) and the recertification calendar ([`crate::calendar`]) stand on this
//! floor too.

pub mod client;
pub mod csv;
pub mod private;
pub mod request;
pub mod secret;

pub use client::ClientKey;
pub use request::{request_span, within_request, RequestId};
pub use secret::constant_time_eq;
