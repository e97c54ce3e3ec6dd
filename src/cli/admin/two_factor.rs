//! `imax admin --as MID account two-factor enroll|confirm --code N|disable` (issue 30): the
//! second factor of the person `--as` names, from the operator's console. Unlike the other
//! `--as` commands this acts *for* that person, not with their administrative rights: any
//! M-ID may be named.

use clap::Subcommand;
use imax_gateway::gateway::second_factor::Via;
use imax_gateway::gateway::Gateway;

#[derive(Subcommand)]
pub enum TwoFactorCommand {
    /// Begin (or begin again) the enrolment: prints the otpauth:// URI for an authenticator
    /// app, and its secret. It guards nothing until confirmed.
    Enroll,
    /// Complete the enrolment with a current code; prints the ten recovery codes, shown only
    /// now.
    Confirm {
        #[arg(long)]
        code: String,
    },
    /// Remove the second factor and its recovery codes (the sign-in asks for the password
    /// alone again, unless `accounts.two_factor_required` names the person's group).
    Disable,
}

pub async fn two_factor_command(
    gw: &Gateway,
    mid: &str,
    command: TwoFactorCommand,
) -> Result<(), String> {
    let s = |e: imax_gateway::error::Refusal| e.to_string();
    match command {
        TwoFactorCommand::Enroll => {
            let e = gw.begin_enrolment(mid, Via::CommandLine).await.map_err(s)?;
            println!("{}", e.uri);
            eprintln!(
                "secret {} (enter it in an authenticator app, or scan the URI above as a QR code); then: imax admin --as {mid} account two-factor confirm --code NNNNNN",
                e.secret.expose()
            );
        }
        TwoFactorCommand::Confirm { code } => {
            let codes = gw
                .confirm_enrolment(mid, &code, Via::CommandLine)
                .await
                .map_err(s)?;
            println!("second factor of {mid} enrolled; recovery codes (each works once, shown only now):");
            for c in codes {
                println!("  {c}");
            }
        }
        TwoFactorCommand::Disable => {
            gw.disable_second_factor(mid, Via::CommandLine)
                .await
                .map_err(s)?;
            println!("second factor of {mid} removed");
        }
    }
    Ok(())
}
