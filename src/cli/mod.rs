//! The command-line front ends of the `imax` binary: thin adapters over the library.

pub mod admin;
pub mod audit;
pub mod client;
pub mod progress_bar;
pub mod receipt;
pub mod tracs;
