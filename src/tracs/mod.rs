//! Knowing what is being sent: TRACS files (tenant `TENHR`…`TENTR`, voucher `VCHHR`…`VCHTR`,
//! iSERS `ERRHR`…`ERRTR`) recognised and checked while they stream in.
//!
//! * [`layout`]: the record layouts as data tables, one per record type and release;
//! * [`scan`]: the streaming checker, which the gateway feeds with every upload's bytes as they
//!   are staged, so checking costs no second read;
//! * [`reply`]: the format-error reply to a file accepted with problems in fields whose
//!   layout is not confirmed;
//! * [`sandbox`]: the vendor sandbox's simulated TRACS answers (issue 31);
//! * [`sample`]: files built from the same tables (tests, benchmark, `imax tracs sample`).
//!
//! The gateway refuses what is certainly wrong (`InvalidTracsFile`, with at most 20 located
//! problems), accepts with a format-error reply what disagrees only with a layout not yet
//! confirmed, routes by the header's Project's iMAX ID, checks the Sender's iMAX ID, and
//! identifies a transmission by the sender with the header's date and time stamps.

pub mod layout;
pub mod reply;
pub mod sample;
pub mod sandbox;
pub mod scan;

pub use layout::FileKind;
pub use sample::Sample;
pub use scan::{check, Batch, Mark, Marked, Problem, Report, Scanner, Verdict, MAX_PROBLEMS};

#[cfg(test)]
mod tests;
