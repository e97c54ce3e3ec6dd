//! Parsing the SOAP 1.1 envelope (the skeleton left by the scanner) into a typed request.
//!
//! quick-xml never expands entities beyond the five predefined ones and character references;
//! a document type declaration is refused outright. Names are matched by namespace: the SOAP
//! 1.1 envelope, WS-Security's `UsernameToken`, and this service's namespace [`TNS`] (children
//! of the operation element may also be unqualified, as some stock clients send them).

use crate::directory::password::Secret;
use crate::error::{Code, Refusal};
use crate::gateway::Credentials;
use crate::mailbox::{Folder, PageToken};
use quick_xml::events::{BytesStart, Event};
use quick_xml::name::ResolveResult;
use quick_xml::NsReader;
use time::OffsetDateTime;

pub const SOAP_ENV: &str = "http://schemas.xmlsoap.org/soap/envelope/";
pub const SOAP12_ENV: &str = "http://www.w3.org/2003/05/soap-envelope";
pub const WSSE: &str =
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd";
pub const TNS: &str = "urn:imax-gateway:s2s:1";
/// XOP's `Include` (MTOM): the content is in another part of a multipart/related request.
pub const XOP: &str = "http://www.w3.org/2004/08/xop/include";
const PASSWORD_TEXT: &str = "#PasswordText";

/// The WS-Security UsernameToken: the person's M-ID and password (R9).
#[derive(Debug, Clone)]
pub struct UsernameToken {
    pub username: String,
    pub password: Secret,
    pub password_type: Option<String>,
}

/// What the envelope holds, before typing.
#[derive(Debug, Default)]
pub struct Envelope {
    pub token: Option<UsernameToken>,
    pub operation: Option<String>,
    pub fields: Vec<(String, String)>,
    /// SendFile's content as `<xop:Include href="cid:…"/>`: the href (MTOM).
    pub xop_include: Option<String>,
}

/// A typed operation request.
#[derive(Debug, Clone)]
pub enum Request {
    SendFile {
        mailbox: Credentials,
        to: Option<String>,
        file_name: String,
        sha256: Option<String>,
        /// A deliberate resend, not to be refused as a duplicate.
        resend: bool,
        /// The received message this file answers.
        in_reply_to: Option<String>,
    },
    ListMessages {
        mailbox: Credentials,
        folder: Folder,
        since: Option<OffsetDateTime>,
        until: Option<OffsetDateTime>,
        after: Option<PageToken>,
        include_acknowledged: bool,
    },
    GetMessage {
        mailbox: Credentials,
        message_id: String,
    },
    AckMessage {
        mailbox: Credentials,
        message_id: String,
    },
    /// Issue 31: a sent file's signed receipt, and its inclusion proof if asked.
    GetReceipt {
        mailbox: Credentials,
        message_id: String,
        include_proof: bool,
    },
    ChangePassword {
        new_password: Secret,
    },
}

fn malformed(why: impl Into<String>) -> Refusal {
    Refusal::with_detail(Code::MalformedRequest, why)
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Ns {
    Soap,
    Wsse,
    Tns,
    Xop,
    None,
    Other,
}

/// How much of an envelope the bytes given to [`parse`] hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Extent {
    /// The whole envelope: it must be complete and well-formed.
    Whole,
    /// The prefix before the file content: cut short, it yields what it holds so far (the
    /// credentials) instead of an error.
    Prefix,
}

/// Parses `xml`, which holds the envelope to the `extent` given.
pub fn parse(xml: &[u8], extent: Extent) -> Result<Envelope, Refusal> {
    let mut reader = NsReader::from_reader(xml);
    reader.config_mut().trim_text(true);
    let mut buf = Vec::new();
    let mut parser = Parser::default();
    loop {
        let (ns, event) = match reader.read_resolved_event_into(&mut buf) {
            Ok(x) => x,
            Err(_) if extent == Extent::Prefix => break,
            Err(e) => return Err(malformed(format!("The XML is not well-formed ({e})."))),
        };
        let ns = namespace(ns)?;
        match event {
            Event::DocType(_) => {
                return Err(malformed("Document type declarations are not allowed."))
            }
            Event::Start(e) => parser.start(ns, &e)?,
            Event::Empty(e) => parser.empty(ns, &e)?,
            Event::Text(t) => {
                let s = t
                    .unescape()
                    .map_err(|e| malformed(format!("Bad text ({e}).")))?;
                parser.text.push_str(&s);
            }
            Event::CData(c) => parser.text.push_str(&String::from_utf8_lossy(&c)),
            Event::End(_) => parser.end(),
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    parser.finish(extent)
}

/// The namespace an element is in, among those that matter.
fn namespace(ns: ResolveResult<'_>) -> Result<Ns, Refusal> {
    Ok(match ns {
        ResolveResult::Bound(n) => match n.as_ref() {
            x if x == SOAP_ENV.as_bytes() => Ns::Soap,
            x if x == WSSE.as_bytes() => Ns::Wsse,
            x if x == TNS.as_bytes() => Ns::Tns,
            x if x == XOP.as_bytes() => Ns::Xop,
            x if x == SOAP12_ENV.as_bytes() => {
                return Err(malformed("Only SOAP 1.1 envelopes are accepted."))
            }
            _ => Ns::Other,
        },
        ResolveResult::Unbound => Ns::None,
        ResolveResult::Unknown(_) => {
            return Err(malformed("An XML namespace prefix is not declared."))
        }
    })
}

/// The parse so far: where it is, and what it collected.
#[derive(Default)]
struct Parser {
    path: Vec<(Ns, String)>,
    env: Envelope,
    text: String,
    password_type: Option<String>,
    username: Option<String>,
    password: Option<String>,
    saw_envelope_end: bool,
}

impl Parser {
    fn start(&mut self, ns: Ns, e: &BytesStart<'_>) -> Result<(), Refusal> {
        let local = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
        let path = &self.path;
        if path.len() == 4 && path[2].1 == "Security" && local == "Password" {
            for a in e.attributes().flatten() {
                if a.key.local_name().as_ref() == b"Type" {
                    self.password_type = Some(String::from_utf8_lossy(&a.value).into_owned());
                }
            }
        }
        self.path.push((ns, local));
        self.text.clear();
        check_position(&self.path)
    }

    fn empty(&mut self, ns: Ns, e: &BytesStart<'_>) -> Result<(), Refusal> {
        let local = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
        let path = &self.path;
        // SendFile's content as an XOP Include: where its bytes are (MTOM).
        if ns == Ns::Xop
            && local == "Include"
            && path.len() == 4
            && path[1].1 == "Body"
            && path[3].1 == "content"
        {
            if self.env.xop_include.is_some() {
                return Err(malformed("The content holds more than one xop:Include."));
            }
            let href = e
                .attributes()
                .flatten()
                .find(|a| a.key.as_ref() == b"href")
                .map(|a| String::from_utf8_lossy(&a.value).into_owned());
            self.env.xop_include =
                Some(href.ok_or_else(|| malformed("An xop:Include has no href."))?);
            return Ok(());
        }
        self.path.push((ns, local));
        check_position(&self.path)?;
        let path = &self.path;
        if path.len() == 3 && path[1].1 == "Body" {
            self.env.operation = Some(path[2].1.clone());
        }
        if path.len() == 4 && path[1].1 == "Body" {
            self.env.fields.push((path[3].1.clone(), String::new()));
        }
        self.path.pop();
        Ok(())
    }

    fn end(&mut self) {
        let path = &self.path;
        let depth = path.len();
        if depth == 3 && path[1].1 == "Body" {
            self.env.operation = Some(path[2].1.clone());
        }
        if depth == 4 && path[1].1 == "Body" {
            let value = std::mem::take(&mut self.text);
            self.env.fields.push((path[3].1.clone(), value));
        }
        if depth == 5 && path[1].1 == "Header" && path[2].1 == "Security" {
            match path[4].1.as_str() {
                "Username" => self.username = Some(std::mem::take(&mut self.text)),
                "Password" => self.password = Some(std::mem::take(&mut self.text)),
                _ => {}
            }
        }
        if depth == 1 {
            self.saw_envelope_end = true;
        }
        self.path.pop();
        self.text.clear();
    }

    fn finish(self, extent: Extent) -> Result<Envelope, Refusal> {
        let Parser {
            path,
            mut env,
            password_type,
            username,
            password,
            saw_envelope_end,
            ..
        } = self;
        if extent == Extent::Whole && !saw_envelope_end {
            return Err(malformed("The SOAP envelope is incomplete."));
        }
        if path.len() >= 3 && path[1].1 == "Body" && env.operation.is_none() {
            env.operation = Some(path[2].1.clone());
        }
        if let (Some(u), Some(p)) = (username, password) {
            env.token = Some(UsernameToken {
                username: u,
                password: Secret::new(p),
                password_type,
            });
        }
        Ok(env)
    }
}

/// Refuses elements in the wrong namespace at the levels that matter.
fn check_position(path: &[(Ns, String)]) -> Result<(), Refusal> {
    let (ns, local) = match path.last() {
        Some(x) => x,
        None => return Ok(()),
    };
    match path.len() {
        1 if !(*ns == Ns::Soap && local == "Envelope") => {
            Err(malformed("The document is not a SOAP 1.1 Envelope."))
        }
        2 if !(*ns == Ns::Soap && (local == "Header" || local == "Body")) => Err(malformed(
            format!("Unexpected element {local} in the Envelope."),
        )),
        3 if path[1].1 == "Body" && *ns != Ns::Tns => Err(malformed(format!(
            "The operation element {local} is not in the namespace {TNS}."
        ))),
        3 if path[1].1 == "Header" && local == "Security" && *ns != Ns::Wsse => Err(malformed(
            "The Security header is not in the WS-Security namespace.",
        )),
        4 if path[1].1 == "Body" && !matches!(ns, Ns::Tns | Ns::None) => Err(malformed(format!(
            "The element {local} is not in the namespace {TNS}."
        ))),
        _ => Ok(()),
    }
}

impl Envelope {
    fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn required(&self, name: &str) -> Result<&str, Refusal> {
        self.field(name)
            .ok_or_else(|| malformed(format!("The element {name} is required.")))
    }

    fn optional(&self, name: &str) -> Option<String> {
        self.field(name)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    }

    /// The mailbox's iMAX ID and password from the body (R10, R11).
    pub fn mailbox(&self) -> Result<Credentials, Refusal> {
        Ok(Credentials {
            principal: self.required("mailbox")?.trim().to_string(),
            password: Secret::new(self.required("mailboxPassword")?),
        })
    }

    /// The person's M-ID and password from the WS-Security header. PasswordDigest cannot be
    /// checked against an argon2 hash, so only PasswordText is accepted.
    pub fn person(&self) -> Result<Credentials, Refusal> {
        let token = self.token.as_ref().ok_or_else(|| {
            Refusal::with_detail(
                Code::AuthenticationFailed,
                "The request carries no WS-Security UsernameToken with the M-ID and password.",
            )
        })?;
        if let Some(t) = &token.password_type {
            if !t.ends_with(PASSWORD_TEXT) {
                return Err(malformed(
                    "Only the PasswordText password type is accepted.",
                ));
            }
        }
        Ok(Credentials {
            principal: token.username.trim().to_string(),
            password: token.password.clone(),
        })
    }

    pub fn request(&self) -> Result<Request, Refusal> {
        let op = self
            .operation
            .as_deref()
            .ok_or_else(|| malformed("The SOAP Body is empty."))?;
        let time = |name: &str| -> Result<Option<OffsetDateTime>, Refusal> {
            match self.optional(name) {
                None => Ok(None),
                Some(s) => crate::clock::parse_rfc3339(&s).map(Some).ok_or_else(|| {
                    malformed(format!("{name} must be an xsd:dateTime with a time zone, e.g. 2026-11-22T00:00:00Z."))
                }),
            }
        };
        Ok(match op {
            "SendFile" => Request::SendFile {
                mailbox: self.mailbox()?,
                to: self.optional("toMailbox"),
                file_name: self.required("fileName")?.to_string(),
                sha256: self.optional("sha256"),
                resend: matches!(self.optional("resend").as_deref(), Some("true" | "1")),
                in_reply_to: self.optional("inReplyTo"),
            },
            "ListMessages" => {
                let raw = self.required("folder")?;
                let folder = Folder::parse(raw).ok_or_else(|| {
                    malformed(format!(
                        "Unknown folder {raw:?}; use one of {}.",
                        Folder::ALL.map(|f| f.as_str()).join(", ")
                    ))
                })?;
                let after = match self.optional("pageToken") {
                    None => None,
                    Some(t) => Some(PageToken::decode(&t).ok_or_else(|| {
                        malformed("The pageToken is not one this gateway issued.")
                    })?),
                };
                let include_acknowledged = matches!(
                    self.optional("includeAcknowledged").as_deref(),
                    Some("true") | Some("1")
                );
                Request::ListMessages {
                    mailbox: self.mailbox()?,
                    folder,
                    since: time("since")?,
                    until: time("until")?,
                    after,
                    include_acknowledged,
                }
            }
            "GetMessage" => Request::GetMessage {
                mailbox: self.mailbox()?,
                message_id: self.required("messageId")?.trim().to_string(),
            },
            "AckMessage" => Request::AckMessage {
                mailbox: self.mailbox()?,
                message_id: self.required("messageId")?.trim().to_string(),
            },
            "GetReceipt" => Request::GetReceipt {
                mailbox: self.mailbox()?,
                message_id: self.required("messageId")?.trim().to_string(),
                include_proof: matches!(
                    self.optional("includeProof").as_deref(),
                    Some("true") | Some("1")
                ),
            },
            "ChangePassword" => Request::ChangePassword {
                new_password: Secret::new(self.required("newPassword")?),
            },
            other => return Err(malformed(format!("Unknown operation {other}."))),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(header: &str, body: &str) -> String {
        format!(
            r#"<?xml version="1.0"?><soap:Envelope xmlns:soap="{SOAP_ENV}" xmlns:t="{TNS}" xmlns:wsse="{WSSE}"><soap:Header>{header}</soap:Header><soap:Body>{body}</soap:Body></soap:Envelope>"#
        )
    }

    const TOKEN: &str = r#"<wsse:Security soap:mustUnderstand="1"><wsse:UsernameToken><wsse:Username>M10001</wsse:Username><wsse:Password Type="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordText">p&amp;w</wsse:Password></wsse:UsernameToken></wsse:Security>"#;

    #[test]
    fn parses_a_list_request_with_its_token() {
        let x = doc(TOKEN, "<t:ListMessages><t:mailbox>TRACM10001</t:mailbox><t:mailboxPassword>x</t:mailboxPassword><t:folder>sentToTracs</t:folder><t:since>2026-01-01T00:00:00Z</t:since></t:ListMessages>");
        let env = parse(x.as_bytes(), Extent::Whole).expect("parses");
        let person = env.person().expect("token");
        assert_eq!(person.principal, "M10001");
        assert_eq!(person.password.expose(), "p&w");
        match env.request().expect("request") {
            Request::ListMessages { folder, since, .. } => {
                assert_eq!(folder, Folder::SentToTracs);
                assert!(since.is_some());
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn refuses_wrong_namespaces_doctype_and_unknown_entities() {
        let wrong = doc(TOKEN, "<ListMessages><t:folder>x</t:folder></ListMessages>");
        assert_eq!(
            parse(wrong.as_bytes(), Extent::Whole).err().map(|r| r.code),
            Some(Code::MalformedRequest)
        );
        let dtd = format!(
            "<!DOCTYPE x [<!ENTITY e 'boom'>]>{}",
            doc(
                "",
                "<t:GetMessage><t:messageId>&e;</t:messageId></t:GetMessage>"
            )
        );
        assert!(parse(dtd.as_bytes(), Extent::Whole).is_err());
        let ent = doc(
            "",
            "<t:GetMessage><t:messageId>&e;</t:messageId></t:GetMessage>",
        );
        assert!(parse(ent.as_bytes(), Extent::Whole).is_err());
        let soap12 = r#"<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope"><e:Body/></e:Envelope>"#;
        assert!(parse(soap12.as_bytes(), Extent::Whole).is_err());
        let digest = doc(
            &TOKEN.replace("#PasswordText", "#PasswordDigest"),
            "<t:ChangePassword><t:newPassword>x</t:newPassword></t:ChangePassword>",
        );
        assert!(parse(digest.as_bytes(), Extent::Whole)
            .expect("parses")
            .person()
            .is_err());
    }

    #[test]
    fn partial_prefix_yields_credentials() {
        let x = doc(TOKEN, "<t:SendFile><t:mailbox>TRACM10001</t:mailbox><t:mailboxPassword>x</t:mailboxPassword><t:fileName>a</t:fileName><t:content>");
        let cut = &x[..x.find("<t:content>").expect("content") + "<t:content>".len()];
        let env = parse(cut.as_bytes(), Extent::Prefix).expect("partial parse");
        assert_eq!(env.operation.as_deref(), Some("SendFile"));
        assert_eq!(env.person().expect("person").principal, "M10001");
        assert!(parse(cut.as_bytes(), Extent::Whole).is_err());
    }
}
