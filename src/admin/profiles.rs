//! Mailbox profiles (R23): set by HUD, each change recorded for the Help Desk's reset page and
//! a change of an email address or a PIN mailed to the addresses on file before it. The
//! Help Desk's resets check against them (`resets.rs`, R24).

use super::{invalid, Admin, AdminOp, AdminResult};
use crate::audit::Action;
use crate::directory::password::{self, Secret};
use crate::directory::ImaxId;
use crate::error::Refusal;
use crate::mail;
use crate::store::profiles::{ChangedFields, Profile, ProfileChange, PIN, SECONDARY_PIN};

/// A profile as entered, with PINs in clear (hashed before storing).
#[derive(Debug, Clone)]
pub struct ProfileInput {
    pub profile: Profile,
    pub pin: Secret,
    pub secondary_pin: Option<Secret>,
}

impl Admin {
    /// Sets a mailbox's profile (HUD only), on HUD's own authority: no mailbox password. The
    /// change is recorded for the Help Desk's reset page, and a change of an email address or
    /// a PIN is mailed to the addresses on file before it, as a holder's is (R23); here the
    /// notice is best effort (a relay that is down does not stop the operator), and the audit
    /// record says whether it went.
    pub async fn set_mailbox_profile(
        &self,
        imax_id: &str,
        input: &ProfileInput,
    ) -> AdminResult<()> {
        self.permit(AdminOp::SetMailboxProfile)?;
        let id = Self::imax_id(imax_id)?;
        let m = self.mailbox(&id).await?;
        let p = &input.profile;
        if let Some(problem) = p.problem() {
            return Err(invalid(problem));
        }
        if input.pin.expose().len() < 4 {
            return Err(invalid("a PIN has at least 4 characters"));
        }
        let on_file = self.store.profiles().load(m.id).await?.map(|(p, _, _)| p);
        let mut changed = ChangedFields::between(on_file.as_ref(), p);
        let (pin_kept, secondary_kept) = pins_kept(on_file.as_ref(), input).await?;
        if !pin_kept {
            changed.pin(PIN);
        }
        if !secondary_kept {
            changed.pin(SECONDARY_PIN);
        }
        let mut stored = p.clone();
        stored.pin_hash = self.hash(&input.pin).await?;
        stored.secondary_pin_hash = match &input.secondary_pin {
            Some(pin) => Some(self.hash(pin).await?),
            None => None,
        };
        let now = self.now();
        let by = self.actor().name();
        let mailed = match on_file.as_ref().filter(|_| changed.guarded()) {
            Some(old) => self.mail_profile_notice(&id, old, &changed, now).await,
            None => String::new(),
        };
        let audit = self
            .entry(Action::SetMailboxProfile)
            .mailbox(id.as_str())
            .detail(format!(
                "contact={} email={} secondary={} changed: {}{mailed}",
                p.contact_name(),
                p.email,
                p.secondary_email,
                changed.sentence()
            ));
        let change = (!changed.is_empty()).then(|| ProfileChange {
            at: now,
            by,
            fields: changed.sentence(),
        });
        self.store
            .profiles()
            .save_change(m.id, &stored, change.as_ref(), &audit)
            .await?;
        Ok(())
    }

    /// R23's notice of a change to the addresses on file before it (`old`), best effort: the
    /// audit record's words on whether it went.
    async fn mail_profile_notice(
        &self,
        id: &ImaxId,
        old: &Profile,
        changed: &ChangedFields,
        now: time::OffsetDateTime,
    ) -> String {
        let to = old.addresses();
        let (subject, body) = mail::profile_change_notice(
            id.as_str(),
            &crate::clock::rfc3339(now),
            &self.actor().name(),
            &changed.sentence(),
        );
        match mail::send_each(&self.config.smtp, &to, &subject, &body).await {
            Ok(()) => format!("; notice mailed to {}", to.join(", ")),
            Err(e) => {
                tracing::warn!(error = %e, mailbox = %id, "profile change notice not mailed");
                format!("; notice NOT mailed to {}: {e}", to.join(", "))
            }
        }
    }

    /// The last change of a mailbox's profile, for the Help Desk's reset page (HUD only).
    pub async fn last_profile_change(&self, imax_id: &str) -> AdminResult<Option<ProfileChange>> {
        self.permit(AdminOp::MailboxState)?;
        let id = Self::imax_id(imax_id)?;
        let m = self.mailbox(&id).await?;
        Ok(self.store.profiles().last_change(m.id).await?)
    }
}

/// Whether the PIN and the secondary contact's PIN entered are the ones on file (checked
/// against their hashes, on the blocking threads): a PIN is named as changed unless it is.
async fn pins_kept(on_file: Option<&Profile>, input: &ProfileInput) -> AdminResult<(bool, bool)> {
    let Some(old) = on_file else {
        return Ok((false, input.secondary_pin.is_none()));
    };
    let (pin, secondary) = (input.pin.clone(), input.secondary_pin.clone());
    let (hash, secondary_hash) = (old.pin_hash.clone(), old.secondary_pin_hash.clone());
    tokio::task::spawn_blocking(move || {
        let kept = |pin: Option<Secret>, hash: Option<String>| match (pin, hash) {
            (Some(pin), Some(hash)) => password::verify(pin.expose(), &hash),
            (None, None) => true,
            _ => false,
        };
        (kept(Some(pin), Some(hash)), kept(secondary, secondary_hash))
    })
    .await
    .map_err(|e| Refusal::internal(format_args!("PIN check: {e}")))
}
