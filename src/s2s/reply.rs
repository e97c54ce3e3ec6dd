//! Writing SOAP responses and faults. Every text value is escaped; element names are fixed.

use super::envelope::{SOAP_ENV, TNS};
use crate::clock::rfc3339;
use crate::error::{Code, Refusal};
use crate::mailbox::{MessageInfo, Receipt};
use std::fmt::Write;

/// Escapes text for element content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => {}
            c => out.push(c),
        }
    }
    out
}

/// Accumulates the children of one response element.
#[derive(Debug, Default)]
pub struct Xml(String);

impl Xml {
    pub fn el(&mut self, name: &str, value: &str) -> &mut Self {
        let _ = write!(self.0, "<tns:{name}>{}</tns:{name}>", escape(value));
        self
    }
    pub fn open(&mut self, name: &str) -> &mut Self {
        let _ = write!(self.0, "<tns:{name}>");
        self
    }
    pub fn close(&mut self, name: &str) -> &mut Self {
        let _ = write!(self.0, "</tns:{name}>");
        self
    }
    pub fn raw(&mut self, s: &str) -> &mut Self {
        self.0.push_str(s);
        self
    }
    pub fn into_string(self) -> String {
        self.0
    }
}

pub fn envelope_open() -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><soap:Envelope xmlns:soap="{SOAP_ENV}" xmlns:tns="{TNS}"><soap:Body>"#
    )
}

pub const ENVELOPE_CLOSE: &str = "</soap:Body></soap:Envelope>";

/// A complete response whose body element is `{op}Response`.
pub fn response(op: &str, status: u16, children: &str) -> String {
    format!(
        "{}<tns:{op}Response><tns:status>{status}</tns:status>{children}</tns:{op}Response>{ENVELOPE_CLOSE}",
        envelope_open()
    )
}

/// A SOAP 1.1 Fault: `faultstring` is the clear sentence; `detail` carries the iMAX status
/// number and the stable code.
/// A SOAP Fault for `r`, with the request's id (`RequestId`) when known.
pub fn fault(r: &Refusal, request_id: Option<&str>) -> String {
    let faultcode = match r.code {
        Code::Unavailable | Code::RateLimited => "soap:Server",
        _ => "soap:Client",
    };
    let mut text = r.message();
    if !r.items.is_empty() {
        text = format!("{text} {}.", r.items.join("; "));
    }
    let msg = escape(&text);
    let problems: String = r
        .items
        .iter()
        .map(|i| format!("<tns:problem>{}</tns:problem>", escape(i)))
        .collect();
    let id = request_id
        .map(|id| format!("<tns:requestId>{}</tns:requestId>", escape(id)))
        .unwrap_or_default();
    format!(
        "{}<soap:Fault><faultcode>{faultcode}</faultcode><faultstring xml:lang=\"en\">{msg}</faultstring><detail><tns:imaxFault><tns:status>{}</tns:status><tns:code>{}</tns:code><tns:message>{msg}</tns:message>{problems}{id}</tns:imaxFault></detail></soap:Fault>{ENVELOPE_CLOSE}",
        envelope_open(),
        r.code.imax_status(),
        r.code.as_str(),
    )
}

pub fn receipt(r: &Receipt, signed: Option<&crate::receipt::SignedReceipt>) -> String {
    let mut x = Xml::default();
    x.open("receipt")
        .el("messageId", r.message_id.as_str())
        .el("sha256", &r.sha256)
        .el("sizeBytes", &r.size_bytes.to_string())
        .el("fromMailbox", &r.from_mailbox)
        .el("toMailbox", &r.to_mailbox)
        .el("receivedAt", &rfc3339(r.received_at))
        .el("routedBy", r.routed_by.as_str());
    if r.misrouted {
        x.el("misrouted", "true");
    }
    if let Some(id) = &r.in_reply_to {
        x.el("inReplyTo", id.as_str());
    }
    if let Some(f) = &r.format_errors {
        x.open("formatErrors")
            .el("problems", &f.problems.to_string())
            .el("replyId", f.reply_id.as_str())
            .close("formatErrors");
    }
    // Issue 31: the receipt signed with the gateway's receipt key, as JSON (docs/receipts.md).
    if let Some(signed) = signed {
        x.el("signedReceipt", &signed.to_json_line());
    }
    x.close("receipt");
    x.into_string()
}

/// The metadata of one message, as `<tns:{wrapper}>…</tns:{wrapper}>`.
pub fn message_info(wrapper: &str, m: &MessageInfo) -> String {
    let mut x = Xml::default();
    x.open(wrapper)
        .el("messageId", m.message_id.as_str())
        .el("fromMailbox", &m.from_mailbox)
        .el("toMailbox", &m.to_mailbox)
        .el("fileName", &m.file_name)
        .el("sizeBytes", &m.size_bytes.to_string())
        .el("sha256", &m.sha256)
        .el("receivedAt", &rfc3339(m.received_at));
    if let Some(t) = m.retrieved_at {
        x.el("retrievedAt", &rfc3339(t));
    }
    if let Some(t) = m.acked_at {
        x.el("acknowledgedAt", &rfc3339(t));
    }
    if let Some(id) = &m.in_reply_to {
        x.el("inReplyTo", id.as_str());
    }
    if let Some(t) = m.answered_at {
        x.el("answeredAt", &rfc3339(t));
    }
    x.close(wrapper);
    x.into_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fault_is_byte_exact() {
        let f = fault(&Refusal::new(Code::NotInWorkingGroup), Some("ab12-7"));
        let expected = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><soap:Envelope xmlns:soap=\"{SOAP_ENV}\" xmlns:tns=\"{TNS}\"><soap:Body><soap:Fault><faultcode>soap:Client</faultcode><faultstring xml:lang=\"en\">{m}</faultstring><detail><tns:imaxFault><tns:status>403</tns:status><tns:code>NotInWorkingGroup</tns:code><tns:message>{m}</tns:message><tns:requestId>ab12-7</tns:requestId></tns:imaxFault></detail></soap:Fault></soap:Body></soap:Envelope>",
            m = Code::NotInWorkingGroup.sentence()
        );
        assert_eq!(f, expected);
    }

    #[test]
    fn escapes_markup_and_control_characters() {
        assert_eq!(escape("a<b>&\"'\u{1}"), "a&lt;b&gt;&amp;&quot;&apos;");
    }
}
