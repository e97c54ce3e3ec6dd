//! Where a sandbox mailbox's file goes (issue 31): always to the sandbox's simulated TRACS
//! (`TRACXTRACS`), whatever its header says, and never anywhere else. The header's iMAX IDs
//! are checked for their form only (a vendor tests with its customers' files), not against
//! the directory, so nothing of production is read or reached.

use super::super::{Gateway, MailboxSession};
use super::plan::{self, Destination, Routing, SendPlan};
use crate::directory::ImaxId;
use crate::error::{Code, Refusal};
use crate::mailbox::RoutedBy;

impl Gateway {
    /// The simulated TRACS, if the sender named it, `TRACS` or nobody; refused otherwise
    /// (`SandboxOnly`), as is an answer (a sandbox only receives TRACS's answers).
    pub(super) async fn sandbox_destination(
        &self,
        s: &MailboxSession,
        plan: &SendPlan,
    ) -> Result<Destination, Refusal> {
        if plan.in_reply_to.is_some() {
            return Err(Refusal::with_detail(
                Code::SandboxOnly,
                "A sandbox mailbox answers nothing: it sends TRACS files to the sandbox's TRACS.",
            ));
        }
        let tracs_id = ImaxId::sandbox_tracs();
        // `TRACS` is the simulated one here; HUD's TRACMPROD is production.
        let by = match plan.to.as_deref().map(str::trim) {
            None => RoutedBy::Directory,
            Some(t) if t.eq_ignore_ascii_case("TRACS") => RoutedBy::Sender,
            Some(t) => match ImaxId::parse(t) {
                Some(id) if id == tracs_id => RoutedBy::Sender,
                Some(id) => {
                    return Err(Refusal::with_detail(
                        Code::SandboxOnly,
                        format!(
                            "{} sends to the sandbox's TRACS only, not to {id}.",
                            s.mailbox.imax_id
                        ),
                    ))
                }
                None => {
                    return Err(Refusal::with_detail(
                        Code::UnknownRecipient,
                        format!("{t:?} is neither TRACS nor an iMAX ID."),
                    ))
                }
            },
        };
        let to = self
            .inner
            .store
            .mailboxes()
            .load(&tracs_id)
            .await?
            .ok_or_else(|| Refusal::internal("the sandbox's TRACS (TRACXTRACS) is missing"))?;
        plan::check_attachment(&plan.report, &to)?;
        let routing = Routing {
            to,
            by,
            misrouted: false,
            forwarded: false,
        };
        // The sandbox's own transmissions: a vendor's test file may carry a production
        // file's header, and must neither collide with it nor learn of it.
        let tracs_key = routing
            .transmission_key(&plan.report, &s.mailbox)
            .map(|k| format!("{k}|sandbox {}", s.mailbox.imax_id));
        if !plan.resend {
            // Nothing remembered here (`None`): the check is made now, never left to the commit.
            self.not_a_duplicate(s, &routing.to, tracs_key.as_deref(), &plan.sha256, None)
                .await?;
        }
        Ok(Destination {
            routing,
            answered: None,
            tracs_key,
            repeat_check: None,
        })
    }
}
