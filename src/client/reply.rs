//! A gateway's SOAP answer, read into its leaf elements (or its Fault).

use super::ClientError;
use base64::Engine;
use quick_xml::events::Event;

/// A SOAP Fault's parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    pub code: String,
    pub status: u16,
    pub message: String,
    /// The gateway's id of the refused request, to quote to its support desk.
    pub request_id: Option<String>,
}

/// A parsed response: the leaf elements in document order, or a Fault.
#[derive(Debug, Clone)]
pub struct Reply {
    pub http_status: u16,
    pub status: u16,
    pub fault: Option<Fault>,
    pub fields: Vec<(String, String)>,
}

impl Reply {
    /// The first leaf element with this local name.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
    /// Every leaf element with this local name.
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.fields
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }
    /// The decoded `content` element.
    pub fn content(&self) -> Option<Vec<u8>> {
        let text = self.get("content")?;
        base64::engine::general_purpose::STANDARD
            .decode(text.trim())
            .ok()
    }
    /// The fault code, or `ok`.
    pub fn code(&self) -> &str {
        self.fault.as_ref().map(|f| f.code.as_str()).unwrap_or("ok")
    }
}

/// Parses a response envelope into its leaf elements (or its Fault).
pub fn parse_reply(http_status: u16, bytes: &[u8]) -> Result<Reply, ClientError> {
    let mut reader = quick_xml::Reader::from_reader(bytes);
    reader.config_mut().trim_text(true);
    let mut buf = Vec::new();
    let mut stack: Vec<String> = Vec::new();
    let mut fields = Vec::new();
    let mut text = String::new();
    loop {
        match reader.read_event_into(&mut buf) {
            Ok(Event::Start(e)) => {
                stack.push(String::from_utf8_lossy(e.local_name().as_ref()).into_owned());
                text.clear();
            }
            Ok(Event::Text(t)) => text.push_str(
                &t.unescape()
                    .map_err(|e| ClientError::Response(e.to_string()))?,
            ),
            Ok(Event::End(_)) => {
                if let Some(name) = stack.pop() {
                    if !text.is_empty() {
                        fields.push((name, std::mem::take(&mut text)));
                    }
                }
                text.clear();
            }
            Ok(Event::Eof) => break,
            Ok(_) => {}
            Err(e) => return Err(ClientError::Response(e.to_string())),
        }
        buf.clear();
    }
    let get = |n: &str| {
        fields
            .iter()
            .find(|(k, _)| k == n)
            .map(|(_, v): &(String, String)| v.clone())
    };
    let fault = get("faultstring").map(|message| Fault {
        code: get("code").unwrap_or_default(),
        status: get("status").and_then(|s| s.parse().ok()).unwrap_or(0),
        message,
        request_id: get("requestId"),
    });
    let status = get("status").and_then(|s| s.parse().ok()).unwrap_or(0);
    if fault.is_none() && status == 0 {
        return Err(ClientError::Response(
            String::from_utf8_lossy(&bytes[..bytes.len().min(300)]).into_owned(),
        ));
    }
    Ok(Reply {
        http_status,
        status,
        fault,
        fields,
    })
}
