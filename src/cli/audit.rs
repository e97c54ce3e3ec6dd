//! `imax audit search`: the audit chain's records by actor, mailbox, action and days, with
//! their place in the chain, as a table, CSV or JSON lines (issue 30 item 2). The operator's:
//! the search goes through `Admin::audit_search`, the same rule and query as the Help Desk's
//! page.

use clap::{Args, ValueEnum};
use imax_gateway::admin::Admin;
use imax_gateway::audit::{AuditQuery, AuditRecord, Found};
use imax_gateway::calendar::parse_iso_date;
use imax_gateway::clock::rfc3339;
use std::io::Write;
use time::Date;

/// Records a search prints unless `--limit` says otherwise.
const DEFAULT_LIMIT: u32 = 1_000;

#[derive(Args)]
pub struct SearchArgs {
    /// Records by this actor (an M-ID, or `admin` for the command line, `system`).
    #[arg(long)]
    mid: Option<String>,
    /// Records naming this TRACSMail ID.
    #[arg(long, value_name = "IMAX_ID")]
    mailbox: Option<String>,
    /// Records of this action, as recorded (`SendFile`, `SignIn`, `SetStatus`, …).
    #[arg(long, value_name = "NAME")]
    action: Option<String>,
    /// From this day on (YYYY-MM-DD, a calendar day in Washington, America/New_York).
    #[arg(long, value_name = "DATE", value_parser = day)]
    since: Option<Date>,
    /// Through the end of this day (YYYY-MM-DD, a calendar day in Washington).
    #[arg(long, value_name = "DATE", value_parser = day)]
    until: Option<Date>,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// The most records printed (at most `audit.search_max_records`); a note on standard
    /// error says when more matched.
    #[arg(long, default_value_t = DEFAULT_LIMIT)]
    limit: u32,
}

/// How records are printed.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Aligned columns for people.
    Table,
    /// A header row, then one record a line (fields quoted where needed).
    Csv,
    /// One JSON object a line.
    Json,
}

fn day(s: &str) -> Result<Date, String> {
    parse_iso_date(s).ok_or_else(|| format!("{s:?} is not a day as YYYY-MM-DD"))
}

/// Runs the search and prints what it found in chain order.
pub async fn search(admin: &Admin, args: SearchArgs) -> Result<(), String> {
    let q = AuditQuery {
        actor: args.mid,
        mailbox: args.mailbox,
        action: args.action,
        since: args.since,
        until: args.until,
    };
    let found = admin
        .audit_search(&q, args.limit)
        .await
        .map_err(|e| e.to_string())?;
    let text = match args.format {
        Format::Table => table(&found),
        Format::Csv => {
            let mut out = format!("{}\n", AuditRecord::CSV_HEADER);
            for r in &found.records {
                out.push_str(&r.csv());
                out.push('\n');
            }
            out
        }
        Format::Json => found
            .records
            .iter()
            .map(|r| format!("{}\n", r.json()))
            .collect(),
    };
    std::io::stdout()
        .write_all(text.as_bytes())
        .map_err(|e| e.to_string())?;
    if found.more {
        eprintln!(
            "imax: more than {} records match; narrow the search (--since, --until) or raise --limit",
            args.limit
        );
    }
    Ok(())
}

/// The records as aligned columns, their detail last.
fn table(found: &Found) -> String {
    let header = [
        "SEQ", "AT (UTC)", "ACTOR", "ACTION", "DOOR", "MAILBOX", "OUTCOME", "HASH", "DETAIL",
    ];
    let rows: Vec<[String; 9]> = found
        .records
        .iter()
        .map(|r| {
            let e = &r.entry;
            [
                r.seq.to_string(),
                rfc3339(e.at),
                e.actor.clone(),
                e.action.clone(),
                e.door.clone(),
                e.mailbox.clone().unwrap_or_else(|| "-".into()),
                e.outcome.clone(),
                r.hash.clone(),
                e.detail.replace(['\n', '\r'], " "),
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: [&str; 9]| {
        let mut s = String::new();
        for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
            if i == cells.len() - 1 {
                s.push_str(cell);
            } else {
                s.push_str(&format!("{cell:<w$}  "));
            }
        }
        format!("{}\n", s.trim_end())
    };
    let mut out = line(header);
    for row in &rows {
        out.push_str(&line(row.each_ref().map(String::as_str)));
    }
    if rows.is_empty() {
        out.push_str("(no records match)\n");
    }
    out
}
