//! The five operations of the system-to-system door, one function each: authorize the M-ID
//! for the operation (R9), open the mailbox with its own password where the operation acts on
//! one (R10, R24), call the core, and write the SOAP answer.

use super::{reply, streamed_message, xml_response};
use crate::access::Operation;
use crate::directory::password::Secret;
use crate::error::Refusal;
use crate::gateway::{Caller, Credentials, Gateway, MailboxSession, SendRequest, Upload};
use crate::mailbox::ListQuery;
use axum::http::StatusCode;
use axum::response::Response;

/// One SOAP call: the core, where it came from, and the M-ID and password it carries.
pub(super) struct Call<'a> {
    pub gw: &'a Gateway,
    pub caller: Caller,
    pub person: &'a Credentials,
    /// What the answer must carry beside its result (R21).
    pub notices: super::notice::Notices,
}

impl Call<'_> {
    /// The person, authorized for `op`, acting for `mailbox`.
    async fn open(&self, op: Operation, mailbox: &Credentials) -> Result<MailboxSession, Refusal> {
        let session = self
            .gw
            .authorize_mailbox(self.caller, self.person, op, mailbox)
            .await?;
        self.notices.note(self.gw, session.authorized().account());
        Ok(session)
    }

    /// `SendFile`: the content was staged while it arrived (`upload`, opened once the
    /// credentials before it were checked), or the envelope carried none.
    pub async fn send_file(
        &self,
        mailbox: &Credentials,
        send: SendRequest<'_>,
        upload: Option<(Upload, MailboxSession)>,
    ) -> Result<Response, Refusal> {
        let (staged, session) = match upload {
            Some(u) => {
                self.notices.note(self.gw, u.1.authorized().account());
                u
            }
            None => {
                let session = self.open(Operation::SendFile, mailbox).await?;
                (self.gw.stage_body()?, session)
            }
        };
        let receipt = self.gw.send_file(&session, send, staged).await?;
        let signed = self.gw.sign_receipt(&receipt);
        Ok(xml_response(
            StatusCode::OK,
            reply::response("SendFile", 200, &reply::receipt(&receipt, signed.as_ref())),
        ))
    }

    /// `ListMessages`: one page of a folder; an empty first page answers the folder's iMAX
    /// status (600–604).
    pub async fn list_messages(
        &self,
        mailbox: &Credentials,
        q: ListQuery,
    ) -> Result<Response, Refusal> {
        let session = self.open(Operation::ListMessages, mailbox).await?;
        let page = self.gw.list_messages(&session, &q).await?;
        let status = if page.entries.is_empty() && q.after.is_none() {
            q.folder
                .empty_status(q.since.is_some() || q.until.is_some())
        } else {
            200
        };
        let mut xml = reply::Xml::default();
        xml.el("folder", q.folder.as_str());
        for m in &page.entries {
            xml.raw(&reply::message_info("message", m));
        }
        if let Some(next) = page.next {
            xml.el("nextPageToken", &next.encode());
        }
        Ok(xml_response(
            StatusCode::OK,
            reply::response("ListMessages", status, &xml.into_string()),
        ))
    }

    /// `GetMessage`: the body streamed, base64-encoded as it is read, or (MTOM) as a binary
    /// part of its own.
    pub async fn get_message(
        &self,
        mailbox: &Credentials,
        message_id: &str,
        mtom: bool,
    ) -> Result<Response, Refusal> {
        let session = self.open(Operation::GetMessage, mailbox).await?;
        let (info, body) = self.gw.get_message(&session, message_id).await?;
        Ok(if mtom {
            super::mtom::message_response(&info, body)
        } else {
            xml_response(StatusCode::OK, streamed_message(&info, body))
        })
    }

    /// `AckMessage`: the message leaves the unread view; history keeps it.
    pub async fn ack_message(
        &self,
        mailbox: &Credentials,
        message_id: &str,
    ) -> Result<Response, Refusal> {
        let session = self.open(Operation::AckMessage, mailbox).await?;
        let info = self.gw.ack_message(&session, message_id).await?;
        Ok(xml_response(
            StatusCode::OK,
            reply::response("AckMessage", 200, &reply::message_info("message", &info)),
        ))
    }

    /// `GetReceipt` (issue 31): the signed receipt of a file this mailbox sent, authorized as
    /// `GetMessage`; with `include_proof`, its inclusion proof too.
    pub async fn get_receipt(
        &self,
        mailbox: &Credentials,
        message_id: &str,
        include_proof: bool,
    ) -> Result<Response, Refusal> {
        let session = self.open(Operation::GetMessage, mailbox).await?;
        let signed = self.gw.signed_receipt(&session, message_id).await?;
        let mut xml = reply::Xml::default();
        xml.el("signedReceipt", &signed.to_json_line());
        if include_proof {
            let proof = self.gw.receipt_proof(&session, message_id).await?;
            xml.el("proof", &serde_json::to_string(&proof).unwrap_or_default());
        }
        Ok(xml_response(
            StatusCode::OK,
            reply::response("GetReceipt", 200, &xml.into_string()),
        ))
    }

    /// `ChangePassword` (R15): the M-ID's own password; no mailbox.
    pub async fn change_password(&self, new_password: Secret) -> Result<Response, Refusal> {
        let auth = self
            .gw
            .authorize(self.caller, self.person, Operation::ChangePassword)
            .await?;
        self.notices.note(self.gw, auth.account());
        self.gw
            .change_password(auth, &self.person.password, new_password)
            .await?;
        Ok(xml_response(
            StatusCode::OK,
            reply::response("ChangePassword", 200, ""),
        ))
    }
}
