//! Why a request was refused: one enum for every door.
//!
//! A [`Refusal`] carries a stable [`Code`] (greppable, documented, never renamed), the numeric
//! status vendor software already knows from iMAX, and a clear English sentence. SOAP faults,
//! audit outcomes and (later) web messages are all produced from it, so one refusal reads the
//! same wherever it is shown.

use std::fmt;

/// Declares [`Code`] from one table: each row is a code (its name is its stable string), the
/// iMAX status number vendor software acts on, and the default sentence. One row per code, so
/// a new refusal is one line and the three can never disagree.
macro_rules! codes {
    ($($(#[$meta:meta])* $code:ident => $status:literal, $sentence:expr;)+) => {
        /// The stable refusal codes. The string form ([`Code::as_str`]) is part of the wire contract.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Code {
            $($(#[$meta])* $code,)+
        }

        impl Code {
            /// Every code, in the table's order.
            pub const ALL: &'static [Code] = &[$(Code::$code,)+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(Code::$code => stringify!($code),)+
                }
            }

            /// The iMAX status number published for vendor software (see `imax-facts.md`), the
            /// nearest to what the person must do, because vendor software acts on the number:
            /// 401 only for wrong M-ID credentials and what must look like them (a locked or
            /// terminated M-ID, an expired password: the M-ID's password no longer opens it); 403 only
            /// for being outside the `imaxuser` group (no iMAX role, the 24–48 hours, a coordinator
            /// without the iMAX Coordinator action, an uncertified user whose roles HUD removes at the
            /// deadline), which vendors read as "wait for the working group"; 400 the mailbox's
            /// credentials, or a mailbox this M-ID may not open; 300 nothing was done, read the
            /// sentence (the Rules of Behavior, which only the person can accept, on the web, R21);
            /// 405 retry later; 500 unavailable.
            pub fn imax_status(self) -> u16 {
                match self {
                    $(Code::$code => $status,)+
                }
            }

            /// The default sentence. Some refusals add a second sentence with specifics.
            pub fn sentence(self) -> &'static str {
                match self {
                    $(Code::$code => $sentence,)+
                }
            }
        }
    };
}

codes! {
    // The same sentence whatever the reason, so that it tells a guesser nothing: the
    // M-ID may be unknown, the password wrong, or the M-ID locked or terminated.
    AuthenticationFailed => 401,
        "The M-ID or password is not correct, or the M-ID may not sign in now (repeated failures or 90 days without use lock it; a coordinator unlocks it).";
    MailboxAuthenticationFailed => 400,
        "The iMAX ID or its password is not correct, or the mailbox may not be opened now (repeated wrong passwords freeze it for a while; the Help Desk resets its password).";
    MailboxInactive => 400,
        "This TRACSMail ID is inactive: it has not been used for a long time. Call the Multifamily Housing Help Desk; it reactivates the mailbox with a password reset after checking the mailbox's profile.";
    AccountLocked => 401,
        "This M-ID is locked. A user asks a coordinator to unlock it; a coordinator asks the Help Desk.";
    AccountTerminated => 401,
        "This M-ID has been terminated after 90 days without use; only REAC-TAC (HUD's Technical Assistance Center) can restore it.";
    PasswordExpired => 401,
        "The M-ID's password has expired; change it (ChangePassword) before doing anything else.";
    PasswordRejected => 300,
        "The new password does not meet the password rules.";
    NoImaxRole => 403,
        "This M-ID does not hold the iMAX role; ask your coordinator to grant it.";
    NotInWorkingGroup => 403,
        "This M-ID is not yet in the iMAX working group for system-to-system transfers; this happens 24 to 48 hours after the iMAX role is granted.";
    RulesOfBehaviorNotAccepted => 300,
        "Your yearly TRACS Rules of Behavior are due (a year after you last accepted them, or never accepted): sign in to the gateway on the web and accept them; vendor software cannot accept them for you.";
    NotRecertified => 403,
        "This M-ID has not been recertified for this year's cycle; ask your coordinator to recertify it.";
    TrainingRequired => 300,
        "A user is certified only with Security Awareness Training completed within the last year; record the training (its date and certificate) first, then certify.";
    UnknownMessage => 300,
        "There is no such message in this mailbox.";
    UnknownRecipient => 300,
        "The recipient is not an iMAX ID this mailbox can send to.";
    ChecksumMismatch => 300,
        "The SHA-256 sent with the file does not match its content; nothing was stored.";
    MissingFile => 300,
        "No file was uploaded: the content is missing or empty.";
    FileTooLarge => 300,
        "The file is larger than this gateway accepts; nothing was stored.";
    MalformedRequest => 300,
        "The request is not a well-formed iMAX SOAP request.";
    RateLimited => 405,
        "Too many failed attempts from this address; wait a few minutes and try again.";
    Unavailable => 500,
        "The gateway is unavailable just now; try again shortly.";
    SessionEnded => 401,
        "Your browser session has ended (signed out, idle too long, or the password, lock or rights of the M-ID or mailbox changed); sign in again.";
    InvalidTracsFile => 300,
        "The file is not a valid TRACS file, or not one this recipient accepts; nothing was stored.";
    Misrouted => 300,
        "The file is addressed to a recipient other than the one the directory names for its project; nothing was stored.";
    DuplicateFile => 300,
        "The same file was already sent; nothing was stored. Mark it as a deliberate resend to send it again.";
    SenderNotAllowed => 300,
        "The header's Sender's iMAX ID is neither the sending mailbox nor one allowed to send for it; nothing was stored.";
    StorageFull => 500,
        "The gateway's storage is nearly full, so it takes no new files for now; nothing was stored. Listing and fetching still work; try again later.";
    HudMailboxOnly => 400,
        "TRACMPROD is HUD's own mailbox: only HUD staff and contractors (H-IDs and C-IDs) may open it.";
    NotAffiliated => 400,
        "This mailbox opens only to the people of its own properties and organization (R6): ask a coordinator of the property, or of its owner, agent or service bureau, to assign your M-ID to it (they find you with Search for User); a TRACSMail password alone is not enough.";
    // Administration (the coordinator and Help Desk pages, `imax admin`): the same model as
    // the doors' refusals, with the specifics in the detail.
    NotPermitted => 300,
        "You may not do this; nothing was changed.";
    InvalidInput => 300,
        "What was entered is not acceptable; nothing was changed.";
    AlreadyExists => 300,
        "It already exists; nothing was changed.";
    NotFound => 300,
        "There is no such M-ID, mailbox, property or request.";
    MailUnavailable => 500,
        "The mail server could not be reached; nothing was changed. Try again later.";
    // Issue 30: the virus scanner's refusals (`gateway::virus`).
    VirusFound => 300,
        "The virus scanner found a virus in the file; nothing was stored. Clean the file (or the computer that made it) before sending it again.";
    TooLargeToScan => 300,
        "The file is larger than the virus scanner can check, and files are never stored unscanned; nothing was stored. Send it in smaller files, or ask the gateway's operators.";
    // A second factor on the browser door (issue 30). Browser and `imax admin` only: the
    // password was right, the code was not.
    SecondFactorFailed => 401,
        "The code is not correct, or was used already; enter the current code from your authenticator app, or one of your recovery codes.";
    SecondFactorRequired => 300,
        "A second factor is required for this M-ID: enrol an authenticator app before anything else.";
    // The vendor sandbox (issue 31).
    SandboxOnly => 300,
        "Sandbox mailboxes (TRACX IDs) exchange files with the sandbox's simulated TRACS only, and production mailboxes never with a sandbox; nothing was stored.";
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A refused request: the code plus, optionally, a more specific sentence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub code: Code,
    detail: Option<String>,
    /// Itemised specifics (the problems found in a TRACS file), shown as a list.
    pub items: Vec<String>,
}

impl Refusal {
    pub fn new(code: Code) -> Self {
        Self {
            code,
            detail: None,
            items: Vec::new(),
        }
    }

    /// Adds itemised specifics.
    pub fn with_items(mut self, items: Vec<String>) -> Self {
        self.items = items;
        self
    }

    /// A refusal with a sentence that adds specifics after the code's own sentence.
    pub fn with_detail(code: Code, detail: impl Into<String>) -> Self {
        Self {
            code,
            detail: Some(detail.into()),
            items: Vec::new(),
        }
    }

    /// A refusal whose specifics are one sentence: its first letter is raised and a final
    /// stop added, so details written as clauses (`"x is not an M-ID"`) read as sentences.
    pub fn because(code: Code, why: impl Into<String>) -> Self {
        let why = why.into();
        let mut chars = why.trim_end_matches('.').chars();
        let sentence = match chars.next() {
            Some(first) => format!("{}{}.", first.to_uppercase(), chars.as_str()),
            None => String::new(),
        };
        Self::with_detail(code, sentence)
    }

    /// The same refusal, its specifics naming what it concerns (`account M10001: …`), for
    /// refusals met while working through a list.
    pub fn concerning(self, what: impl fmt::Display) -> Self {
        let why = self.detail.as_deref().unwrap_or(self.code.sentence());
        let detail = format!("{what}: {why}");
        Self {
            detail: Some(detail),
            ..self
        }
    }

    /// The specifics after the code's sentence, if any.
    pub fn detail(&self) -> Option<&str> {
        self.detail.as_deref()
    }

    /// The whole human sentence shown to the client.
    pub fn message(&self) -> String {
        match &self.detail {
            Some(d) => format!("{} {}", self.code.sentence(), d),
            None => self.code.sentence().to_string(),
        }
    }

    /// An internal failure: logged with its cause, shown to the client as `Unavailable`.
    pub fn internal(cause: impl fmt::Display) -> Self {
        tracing::error!(error = %cause, "internal error");
        Self::new(Code::Unavailable)
    }
}

impl From<Code> for Refusal {
    fn from(code: Code) -> Self {
        Self::new(code)
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message())
    }
}

impl std::error::Error for Refusal {}

impl From<std::io::Error> for Refusal {
    fn from(e: std::io::Error) -> Self {
        if e.kind() == std::io::ErrorKind::StorageFull {
            tracing::warn!(error = %e, "refused for lack of storage");
            return Refusal::new(Code::StorageFull);
        }
        Refusal::internal(format_args!("io: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_have_sentences() {
        let mut seen = std::collections::HashSet::new();
        for c in Code::ALL {
            assert!(seen.insert(c.as_str()), "{c} twice");
            assert!(c.sentence().ends_with('.'));
            assert!([300, 400, 401, 403, 405, 500].contains(&c.imax_status()));
        }
    }
}
