//! `imax client …`: the system-to-system door as vendor software uses it.

use super::progress_bar::TerminalBar;
use clap::{Args, Subcommand};
use imax_gateway::client::{Content, Direction, Reply, S2sClient};
use std::path::PathBuf;

#[derive(Args)]
pub struct ClientArgs {
    /// The gateway's URL.
    #[arg(long, default_value = "https://127.0.0.1:8443")]
    url: String,
    /// PEM file of the CA to trust (the development CA is imax-data/tls/dev-ca.pem).
    #[arg(long, default_value = "imax-data/tls/dev-ca.pem")]
    ca: PathBuf,
    /// The person's M-ID; the password comes from $TRACS_PASSWORD.
    #[arg(long)]
    mid: String,
    /// The mailbox (iMAX ID); its password comes from $TRACS_MAILBOX_PASSWORD.
    #[arg(long)]
    mailbox: Option<String>,
    #[command(subcommand)]
    command: ClientCommand,
}

#[derive(Subcommand)]
pub enum ClientCommand {
    /// Send a file (to TRACS, a CA's iMAX ID, or by default the property's administrator).
    Send {
        file: PathBuf,
        #[arg(long)]
        to: Option<String>,
        #[arg(long)]
        sha256: Option<String>,
        /// A deliberate resend of a file already sent (not refused as a duplicate).
        #[arg(long)]
        resend: bool,
        /// Answer this received message: the file goes back to its sender.
        #[arg(long, conflicts_with_all = ["to", "sha256", "resend"])]
        in_reply_to: Option<String>,
        /// Keep the signed receipt (JSON) in this file: `imax receipt verify` checks it.
        #[arg(long)]
        receipt: Option<PathBuf>,
    },
    /// List a folder: sentToTracs, receivedFromTracs, sentToOthers, receivedFromOthers, broadcasts.
    List {
        folder: String,
        #[arg(long)]
        all: bool,
    },
    /// Fetch a message into a file.
    Get {
        message_id: String,
        #[arg(long)]
        out: PathBuf,
    },
    /// Acknowledge a received message.
    Ack { message_id: String },
    /// Save the signed receipt of a file this mailbox sent (JSON), with --fetch-proof its
    /// inclusion proof embedded (once a checkpoint covers it): `imax receipt verify` checks both.
    Receipt {
        #[arg(long)]
        message: String,
        #[arg(long)]
        fetch_proof: bool,
        #[arg(long)]
        out: PathBuf,
    },
    /// Change the M-ID's password to $TRACS_NEW_PASSWORD.
    ChangePassword,
}

fn env_secret(name: &str) -> Result<String, String> {
    std::env::var(name).map_err(|_| format!("set ${name}"))
}

fn print_reply(r: &Reply) -> Result<(), String> {
    if let Some(f) = &r.fault {
        return Err(format!("{} ({}): {}", f.code, f.status, f.message));
    }
    println!("status {}", r.status);
    // R21: what the person must do soon, on lines of their own.
    for n in r.all("notice") {
        println!("notice: {n}");
    }
    for (k, v) in &r.fields {
        if !["status", "content", "notice", "signedReceipt", "proof"].contains(&k.as_str()) {
            println!("  {k}: {v}");
        }
    }
    Ok(())
}

/// The name a file is sent under: its own (`file` when it has none readable).
fn file_name(path: &std::path::Path) -> String {
    path.file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("file")
        .to_string()
}

/// A fetched message's content written to `out` (nothing for a Fault).
fn save_content(r: &imax_gateway::client::Reply, out: &std::path::Path) -> Result<(), String> {
    if r.fault.is_none() {
        let content = r.content().ok_or("the response has no content")?;
        std::fs::write(out, content).map_err(|e| e.to_string())?;
        println!("saved to {}", out.display());
    }
    Ok(())
}

/// The signed receipt of a SendFile answer written to `out`, as indented JSON (nothing for a
/// Fault, which `print_reply` reports).
fn save_receipt(r: &Reply, out: &std::path::Path) -> Result<(), String> {
    if r.fault.is_some() {
        return Ok(());
    }
    let text = r
        .get("signedReceipt")
        .ok_or("the gateway's answer carries no signed receipt")?;
    let signed =
        imax_gateway::receipt::SignedReceipt::from_json(text).map_err(|e| e.to_string())?;
    std::fs::write(out, signed.to_json()).map_err(|e| format!("{}: {e}", out.display()))?;
    println!("receipt saved to {}", out.display());
    Ok(())
}

/// A GetReceipt answer written to `out`: the receipt's JSON, its proof (if any) embedded as
/// the member `proof` (not signed; `imax receipt verify` checks it).
fn save_receipt_with_proof(r: &Reply, out: &std::path::Path) -> Result<(), String> {
    if r.fault.is_some() {
        return Ok(());
    }
    let receipt = r
        .get("signedReceipt")
        .ok_or("the answer carries no receipt")?;
    let mut json: serde_json::Value = serde_json::from_str(receipt).map_err(|e| e.to_string())?;
    if let Some(proof) = r.get("proof") {
        json["proof"] = serde_json::from_str(proof).map_err(|e| e.to_string())?;
    }
    let text = serde_json::to_string_pretty(&json).map_err(|e| e.to_string())? + "\n";
    std::fs::write(out, text).map_err(|e| format!("{}: {e}", out.display()))?;
    println!("receipt saved to {}", out.display());
    Ok(())
}

/// `SendFile` (or its reply form), the signed receipt kept if asked.
async fn send_file(
    c: &mut S2sClient,
    (mb, mpw): (&str, &str),
    send: ClientCommand,
    bar: Option<&TerminalBar>,
) -> Result<Reply, String> {
    let ClientCommand::Send {
        file,
        to,
        sha256,
        resend,
        in_reply_to,
        receipt,
    } = send
    else {
        return Err("not a send".into());
    };
    c.resend = resend;
    let name = file_name(&file);
    let content = Content::File(file);
    let r = match in_reply_to {
        Some(id) => c.send_reply(mb, mpw, &id, &name, content).await,
        None => {
            c.send_file(mb, mpw, to.as_deref(), &name, content, sha256.as_deref())
                .await
        }
    }
    .map_err(|e| e.to_string())?;
    bar.iter().for_each(|b| b.finish());
    if let Some(out) = receipt {
        save_receipt(&r, &out)?;
    }
    Ok(r)
}

/// `GetReceipt` for `message` of `mailbox` (its iMAX ID and password), saved to `out`.
async fn fetch_receipt(
    c: &mut S2sClient,
    mailbox: (&str, &str),
    message: &str,
    fetch_proof: bool,
    out: &std::path::Path,
) -> Result<Reply, String> {
    let mut fields = vec![
        ("mailbox", mailbox.0),
        ("mailboxPassword", mailbox.1),
        ("messageId", message),
    ];
    if fetch_proof {
        fields.push(("includeProof", "true"));
    }
    let r = c
        .call("GetReceipt", &fields)
        .await
        .map_err(|e| e.to_string())?;
    save_receipt_with_proof(&r, out)?;
    Ok(r)
}

/// `imax client …`: one call of the system-to-system door.
pub async fn client_command(args: ClientArgs) -> Result<(), String> {
    let password = env_secret("TRACS_PASSWORD")?;
    let mut c = S2sClient::connect(&args.url, &args.ca, &args.mid, &password)
        .await
        .map_err(|e| e.to_string())?;
    let e = |e: imax_gateway::client::ClientError| e.to_string();
    if let ClientCommand::ChangePassword = args.command {
        let new = env_secret("TRACS_NEW_PASSWORD")?;
        let r = c
            .call("ChangePassword", &[("newPassword", &new)])
            .await
            .map_err(e)?;
        return print_reply(&r);
    }
    // Every other command acts on a mailbox.
    let mb = args.mailbox.clone().ok_or("--mailbox is required")?;
    let mpw = env_secret("TRACS_MAILBOX_PASSWORD")?;
    let on_message = |op: &'static str, id: String| {
        let fields = [
            ("mailbox", mb.clone()),
            ("mailboxPassword", mpw.clone()),
            ("messageId", id),
        ];
        (op, fields)
    };
    // A progress bar on a terminal for the commands that move a file (nothing otherwise).
    let bar = match args.command {
        ClientCommand::Send { .. } => TerminalBar::on_terminal(Direction::Upload),
        ClientCommand::Get { .. } => TerminalBar::on_terminal(Direction::Download),
        _ => None,
    };
    c.progress = bar.as_ref().map(TerminalBar::sink);
    let r = match args.command {
        send @ ClientCommand::Send { .. } => {
            send_file(&mut c, (&mb, &mpw), send, bar.as_deref()).await?
        }
        ClientCommand::List { folder, all } => {
            let mut fields = vec![
                ("mailbox", mb.as_str()),
                ("mailboxPassword", mpw.as_str()),
                ("folder", folder.as_str()),
            ];
            if all {
                fields.push(("includeAcknowledged", "true"));
            }
            c.call("ListMessages", &fields).await.map_err(e)?
        }
        ClientCommand::Get { message_id, out } => {
            let (op, f) = on_message("GetMessage", message_id);
            let r = c
                .call(op, &f.each_ref().map(|(k, v)| (*k, v.as_str())))
                .await
                .map_err(e)?;
            bar.iter().for_each(|b| b.finish());
            save_content(&r, &out)?;
            r
        }
        ClientCommand::Receipt {
            message,
            fetch_proof,
            out,
        } => fetch_receipt(&mut c, (&mb, &mpw), &message, fetch_proof, &out).await?,
        ClientCommand::Ack { message_id } => {
            let (op, f) = on_message("AckMessage", message_id);
            c.call(op, &f.each_ref().map(|(k, v)| (*k, v.as_str())))
                .await
                .map_err(e)?
        }
        ClientCommand::ChangePassword => return Ok(()),
    };
    bar.iter().for_each(|b| b.finish());
    print_reply(&r)
}
