//! A mailbox holder's change of the mailbox's profile (R23), which the Help Desk's password
//! reset (R24) trusts: the new mailbox password goes to the profile's email address, to a
//! caller who knows its PIN. So whoever has the mailbox open in a browser must not be able to
//! redirect the next reset unseen:
//!
//! * changing an email address or a PIN needs the mailbox's password again, checked exactly as
//!   opening the mailbox checks it ([`Gateway::open_mailbox`]: the same bounded argon2, the
//!   same per-mailbox counting and freezing, the same audit record);
//! * before such a change of a profile that had addresses, a notice goes to the addresses on
//!   file (the primary and the secondary contact), naming the changed fields (never a value)
//!   and how to undo it; when it cannot be mailed nothing is changed;
//! * every change records when, who and which fields, for the Help Desk's reset page.
//!
//! Other fields (a telephone number, a street) change without the password, as before: they
//! do not decide where a new password goes.

use super::{Credentials, Gateway, MailboxSession};
use crate::audit::{Action, AuditEntry};
use crate::directory::password::Secret;
use crate::error::{Code, Refusal};
use crate::mail;
use crate::store::profiles::{ChangedFields, Profile, ProfileChange, PIN, SECONDARY_PIN};

/// A profile as the holder submits it: the fields, the PINs in clear when they are to change
/// (hashed here), and the mailbox's password when given.
#[derive(Debug, Clone)]
pub struct ProfileEdit {
    pub profile: Profile,
    pub pin: Option<Secret>,
    pub secondary_pin: Option<Secret>,
    pub mailbox_password: Option<Secret>,
}

/// The sentence of the refusal of a guarded change without the mailbox's password.
pub const PASSWORD_NEEDED: &str = "Changing an email address or a PIN of the profile needs the \
     mailbox's password again: type it in the Mailbox password field.";

/// Counts a profile change's outcome (`imax_profile_changes_total`).
fn counted(outcome: &'static str) {
    metrics::counter!("imax_profile_changes_total", "outcome" => outcome).increment(1);
}

/// What is wrong with a submitted profile and its new PINs, if anything: the profile's own
/// problem first, then a PIN shorter than 4 characters.
fn edit_problem(profile: &Profile, pins: [&Option<Secret>; 2]) -> Option<String> {
    profile.problem().or_else(|| {
        pins.iter()
            .any(|p| p.as_ref().is_some_and(|p| p.expose().len() < 4))
            .then(|| "A PIN has at least 4 characters.".to_string())
    })
}

/// The fields an edit changes, the new PINs among them.
fn changed_fields(
    on_file: Option<&Profile>,
    profile: &Profile,
    pin: &Option<Secret>,
    secondary_pin: &Option<Secret>,
) -> ChangedFields {
    let mut changed = ChangedFields::between(on_file, profile);
    if pin.is_some() {
        changed.pin(PIN);
    }
    if secondary_pin.is_some() {
        changed.pin(SECONDARY_PIN);
    }
    changed
}

impl Gateway {
    /// R23 (issue 27): the Description is the kind of the organization the mailbox belongs
    /// to, when it belongs to one; the holder neither sets nor changes it.
    async fn organization_description(
        &self,
        s: &MailboxSession,
    ) -> Result<Option<&'static str>, Refusal> {
        let orgs = self.inner.store.organizations();
        let kind = orgs.of_mailbox(s.mailbox.id).await?.map(|o| o.kind);
        Ok(kind.map(|k| k.description()))
    }

    /// The PINs' hashes to save: a new PIN hashed, else the one on file kept (a first profile
    /// always brings its PIN).
    async fn pin_hashes(
        &self,
        pin: &Option<Secret>,
        secondary_pin: &Option<Secret>,
        on_file: Option<&Profile>,
    ) -> Result<(String, Option<String>), Refusal> {
        let primary = match (pin, on_file) {
            (Some(pin), _) => self.hash_password(pin).await?,
            (None, Some(old)) => old.pin_hash.clone(),
            (None, None) => return Err(Refusal::internal("a first profile without its PIN")),
        };
        let secondary = match (secondary_pin, on_file) {
            (Some(pin), _) => Some(self.hash_password(pin).await?),
            (None, Some(old)) => old.secondary_pin_hash.clone(),
            (None, None) => None,
        };
        Ok((primary, secondary))
    }

    /// R23: whoever has the mailbox open changes its profile; an email address or a PIN only
    /// with the mailbox's password again (counted as an attempt at the mailbox), and only
    /// once the addresses on file were told. A PIN left empty keeps the one on file (the first
    /// profile needs one); PINs are hashed, never stored or shown in clear.
    #[tracing::instrument(name = "change_mailbox_profile", skip_all)]
    pub async fn change_mailbox_profile(
        &self,
        s: &MailboxSession,
        edit: ProfileEdit,
    ) -> Result<(), Refusal> {
        let mid = s.auth.account.mid.clone();
        let entry = self
            .audit(mid.as_str(), Action::UpdateMailboxProfile, s.auth.caller)
            .mailbox(s.mailbox.imax_id.as_str());
        let invalid = |why: String| Refusal::because(Code::InvalidInput, why);
        let ProfileEdit {
            mut profile,
            pin,
            secondary_pin,
            mailbox_password,
        } = edit;
        let description = self.organization_description(s).await?;
        if let Some(d) = description {
            profile.description = d.to_string();
        }
        let given = |p: Option<Secret>| p.filter(|p| !p.expose().is_empty());
        let (pin, secondary_pin) = (given(pin), given(secondary_pin));
        let password = given(mailbox_password);
        if let Some(problem) = edit_problem(&profile, [&pin, &secondary_pin]) {
            counted("invalid");
            return Err(self.refuse(vec![], entry, invalid(problem)).await);
        }
        let mut on_file = self.mailbox_profile(s).await?;
        // The Description on file is the organization's kind too: not a change of the holder's.
        if let (Some(p), Some(d)) = (on_file.as_mut(), description) {
            p.description = d.to_string();
        }
        if on_file.is_none() && pin.is_none() {
            counted("invalid");
            let needed = invalid("A first profile needs a PIN.".into());
            return Err(self.refuse(vec![], entry, needed).await);
        }
        let changed = changed_fields(on_file.as_ref(), &profile, &pin, &secondary_pin);
        let what = format!(
            "changed: {} (email={} secondary={})",
            changed.sentence(),
            profile.email,
            profile.secondary_email
        );
        let mut entry = entry.detail(what.clone());
        self.prove_mailbox_password(s, password.as_ref(), changed.guarded(), &entry, &what)
            .await?;
        (profile.pin_hash, profile.secondary_pin_hash) = self
            .pin_hashes(&pin, &secondary_pin, on_file.as_ref())
            .await?;
        let now = self.inner.clock.now();
        // The notice first: a guarded change the addresses on file were not told of is not
        // made (R23).
        if let Some(old) = on_file.as_ref().filter(|_| changed.guarded()) {
            entry = self
                .notify_profile_change(s, old, &changed, now, entry, &what)
                .await?;
        }
        let change = (!changed.is_empty()).then(|| ProfileChange {
            at: now,
            by: mid.to_string(),
            fields: changed.sentence(),
        });
        self.inner
            .store
            .profiles()
            .save_change(s.mailbox.id, &profile, change.as_ref(), &entry)
            .await?;
        counted(if changed.is_empty() {
            "unchanged"
        } else {
            "changed"
        });
        Ok(())
    }

    /// R23: an email address or a PIN only with the mailbox's password, checked and counted as
    /// opening the mailbox (a wrong one counts towards its freeze; a given one is checked even
    /// when the change would not need it).
    async fn prove_mailbox_password(
        &self,
        s: &MailboxSession,
        password: Option<&Secret>,
        guarded: bool,
        entry: &AuditEntry,
        what: &str,
    ) -> Result<(), Refusal> {
        match password {
            None if guarded => {
                counted("password_needed");
                let needed = Refusal::because(Code::InvalidInput, PASSWORD_NEEDED);
                let entry = entry
                    .clone()
                    .detail(format!("{what}; refused: no mailbox password"));
                Err(self.refuse(vec![], entry, needed).await)
            }
            None => Ok(()),
            Some(password) => {
                let creds = Credentials {
                    principal: s.mailbox.imax_id.to_string(),
                    password: password.clone(),
                };
                let proved = match self.open_mailbox(s.auth.clone(), &creds).await {
                    Ok(proved) => proved,
                    Err(r) => {
                        counted("password_refused");
                        return Err(r);
                    }
                };
                if proved.mailbox.id != s.mailbox.id {
                    return Err(Refusal::internal("the mailbox's password opened another"));
                }
                Ok(())
            }
        }
    }

    /// Mails the notice of a guarded change to the addresses on file (`old`'s); the audit
    /// record says so. When it cannot be mailed the change is refused (R23).
    async fn notify_profile_change(
        &self,
        s: &MailboxSession,
        old: &Profile,
        changed: &ChangedFields,
        now: time::OffsetDateTime,
        entry: AuditEntry,
        what: &str,
    ) -> Result<AuditEntry, Refusal> {
        let to = old.addresses();
        let (subject, body) = mail::profile_change_notice(
            s.mailbox.imax_id.as_str(),
            &crate::clock::rfc3339(now),
            s.auth.account.mid.as_str(),
            &changed.sentence(),
        );
        if let Err(e) = mail::send_each(&self.inner.config.smtp, &to, &subject, &body).await {
            tracing::error!(error = %e, "profile change notice not mailed");
            counted("notice_failed");
            let r = Refusal::with_detail(
                Code::MailUnavailable,
                "The notice of this change could not be mailed to the addresses on file, so \
                 nothing was changed. Try again later, or call the Help Desk.",
            );
            let entry = entry.detail(format!("{what}; refused: notice not mailed"));
            return Err(self.refuse(vec![], entry, r).await);
        }
        Ok(entry.detail(format!("{what}; notice mailed to {}", to.join(", "))))
    }
}
