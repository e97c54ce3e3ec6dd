//! `imax tracs …`: check TRACS files before sending them, and make sample files.

use clap::{Subcommand, ValueEnum};
use imax_gateway::tracs::{self, FileKind, Sample, Verdict};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

#[derive(Subcommand)]
pub enum TracsCommand {
    /// Check files as the gateway does at the door (streaming; nothing is sent anywhere).
    Check { files: Vec<PathBuf> },
    /// Write a valid sample file, built from the layout tables, to standard output.
    Sample {
        kind: Kind,
        /// The Project's iMAX ID (and, unless --sender, the Sender's).
        #[arg(long, default_value = "TRACM10001")]
        project: String,
        #[arg(long)]
        sender: Option<String>,
        /// 2.0.2.C, 2.0.2.D or 2.0.3.A.
        #[arg(long, default_value = "2.0.2.D")]
        release: String,
        /// Date stamp MMDDYYYY and time stamp HHMMSS (unique per sender, MAT Guide).
        #[arg(long, default_value = "03022026")]
        date: String,
        #[arg(long, default_value = "090000")]
        time: String,
        #[arg(long, default_value_t = 1)]
        batches: usize,
        /// Body records per batch.
        #[arg(long, default_value_t = 3)]
        records: usize,
    },
}

#[derive(Clone, Copy, ValueEnum)]
pub enum Kind {
    Tenant,
    Voucher,
    Iser,
}

/// `imax tracs …`.
pub fn tracs_command(command: TracsCommand) -> Result<(), String> {
    match command {
        TracsCommand::Check { files } => check_files(&files),
        TracsCommand::Sample {
            kind,
            project,
            sender,
            release,
            date,
            time,
            batches,
            records,
        } => {
            let kind = match kind {
                Kind::Tenant => FileKind::Tenant,
                Kind::Voucher => FileKind::Voucher,
                Kind::Iser => FileKind::Iser,
            };
            let Some(release) = tracs::layout::RELEASES
                .iter()
                .find(|r| r.name == release)
                .map(|r| r.name)
            else {
                return Err(format!("unknown release {release}"));
            };
            let file = Sample {
                kind,
                release,
                sender: sender.unwrap_or_else(|| project.clone()),
                project,
                date,
                time,
                batches,
                records_per_batch: records,
            }
            .build();
            std::io::stdout()
                .write_all(&file)
                .map_err(|e| e.to_string())
        }
    }
}

/// `imax tracs check`: each file scanned and its report printed; an error if any would be
/// refused.
fn check_files(files: &[PathBuf]) -> Result<(), String> {
    let mut bad = 0;
    for path in files {
        let r = scan(path)?;
        if !r.problems.is_empty() {
            bad += 1;
        }
        print_report(path, &r);
    }
    if bad > 0 {
        return Err(format!(
            "{bad} file(s) would be refused as InvalidTracsFile"
        ));
    }
    Ok(())
}

/// The checker's report of the file at `path`, read as the door reads it (in chunks).
fn scan(path: &Path) -> Result<tracs::Report, String> {
    let mut f = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut scan = tracs::Scanner::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = f
            .read(&mut buf)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        if n == 0 {
            break;
        }
        scan.feed(&buf[..n]);
    }
    Ok(scan.finish())
}

/// What the gateway would do with the file, and the problems it would name.
fn print_report(path: &Path, r: &tracs::Report) {
    let what = match r.verdict {
        Verdict::Empty => "empty".to_string(),
        Verdict::NotTracs => "not a TRACS file (an attachment)".into(),
        Verdict::Tracs { kind, release } => format!(
            "TRACS {} file, release {}, {} batches, {} records",
            kind.map(|k| k.as_str()).unwrap_or("?"),
            release.unwrap_or("?"),
            r.batch_count,
            r.records
        ),
    };
    if r.problems.is_empty() && r.provisional.is_empty() {
        println!("{}: {what}: OK", path.display());
    } else if r.problems.is_empty() {
        // Accepted: the sender would get a format-error reply naming these.
        println!(
            "{}: {what}: accepted, with {} problems in fields whose layout is not confirmed (answered by a format-error reply)",
            path.display(),
            r.provisional.len() as u64 + r.more_provisional
        );
        for p in &r.provisional {
            println!("  {p}");
        }
        if r.more_provisional > 0 {
            println!("  … and {} more", r.more_provisional);
        }
    } else {
        println!(
            "{}: {what}: {} problems",
            path.display(),
            r.problems.len() as u64 + r.more_problems
        );
        for p in &r.problems {
            println!("  {p}");
        }
        if r.more_problems > 0 {
            println!("  … and {} more", r.more_problems);
        }
    }
}
