//! # imax-gateway
//!
//! A secure file-transfer gateway for HUD multifamily TRACS files: the job of HUD's iMAX.
//!
//! The crate is layered like this, from the wire inwards:
//!
//! * [`server`] owns the TLS accept loop (rustls, HTTP/1.1 and HTTP/2 by ALPN) and graceful
//!   shutdown. [`tls`] loads or generates certificates.
//! * [`s2s`] is the system-to-system door: SOAP 1.1 over HTTPS. It only translates XML to calls on
//!   the [`gateway::Gateway`] and [`error::Refusal`]s back to SOAP faults.
//! * [`gateway`] is the transport-free core every door shares: it authenticates, asks
//!   [`access::decide`] whether the request may proceed, and performs it on the [`mailbox`] and
//!   [`directory`] through the [`store`], appending to the [`audit`] chain.
//! * [`clock`] is the one source of "now", so tests move time instead of sleeping; it stands on
//!   the ground floor with [`ground`] (request ids and spans, client keys, constant-time
//!   comparison, file modes) and [`calendar`].
//!
//! The floors, and which may use which, are listed in `docs/architecture.md` ("Floors") and
//! checked by `tests/layers.rs`.
//!
//! Rules of the domain are cited by number (R1–R26, see `docs/rules.md`) where they are
//! enforced.

pub mod access;
pub mod admin;
pub mod app;
pub mod audit;
pub mod calendar;
pub mod checkpoint;
pub mod client;
pub mod clock;
pub mod config;
pub mod directory;
pub mod error;
pub mod gateway;
pub mod ground;
pub mod mail;
pub mod mailbox;
pub mod ops;
pub mod receipt;
pub mod s2s;
pub mod server;
pub mod store;
pub mod syslog;
pub mod tls;
pub mod tracs;
pub mod web;
