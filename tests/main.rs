#![allow(clippy::expect_used, clippy::unwrap_used)]
//! Integration tests: every test starts a real gateway in-process on an ephemeral port, over
//! real TLS, with its own SQLite file and a clock it moves. One test binary, for fast links.

mod helpers;
mod layers;
mod shape;

mod access_rules;
mod audit_chain;
mod backup;
mod balancer;
mod browser;
mod compliance;
mod compliance_binary;
mod db_restart;
mod docs;
mod downloads;
mod envelope_bounds;
mod exposure;
mod faults;
mod folders;
mod guessing;
mod lifecycle;
mod lockout;
mod matrix;
mod mtom;
mod nodes;
mod nodesoap;
mod objects;
mod ops;
mod portfolios;
mod profile_changes;
mod pump;
mod receipts;
mod replies;
mod resets;
mod sending;
mod storage;
mod tracs_checks;
mod transport;
mod web_forms;
mod webdriver;
mod zeep;
