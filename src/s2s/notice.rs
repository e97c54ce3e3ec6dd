//! Notices on system-to-system answers (R21): from a setting's number of days before a
//! person's Rules of Behavior fall due, every answer to that person carries, after its
//! `status`, one `notice` element per notice ("Rules of Behavior due on 2028-03-10: sign in on
//! the web to accept"), as the WSDL documents. Vendor software that does not know the element
//! skips it; `imax client` prints each as a `notice: …` line. Vendor software has no way to
//! accept the rules itself, so the person must be told before the day, not on it.

use super::reply::escape;
use crate::directory::Account;
use crate::gateway::Gateway;
use axum::body::Body;
use axum::http::header;
use axum::response::Response;
use bytes::Bytes;
use futures_util::StreamExt;
use std::sync::Mutex;

/// The notices of one call, noted when the person is authorized.
#[derive(Default)]
pub(super) struct Notices(Mutex<Vec<String>>);

impl Notices {
    /// Notes the notices `account`'s answers carry now.
    pub fn note(&self, gw: &Gateway, account: &Account) {
        let notices = crate::access::notices(account, &gw.config().accounts, gw.clock().now());
        if let Ok(mut n) = self.0.lock() {
            *n = notices;
        }
    }

    /// `response` with the notices after its `status` element (in its first piece, which
    /// holds the whole head of every answer, streamed or not).
    pub fn attach(&self, response: Response) -> Response {
        let notices = self.0.lock().map(|n| n.clone()).unwrap_or_default();
        if notices.is_empty() {
            return response;
        }
        let elements: String = notices
            .iter()
            .map(|n| format!("<tns:notice>{}</tns:notice>", escape(n)))
            .collect();
        let (mut parts, body) = response.into_parts();
        parts.headers.remove(header::CONTENT_LENGTH);
        let mut pending = Some(elements);
        let stream = body.into_data_stream().map(move |chunk| match chunk {
            Ok(c) => Ok(match pending.take() {
                Some(e) => insert_after_status(&c, &e),
                None => c,
            }),
            Err(e) => Err(e),
        });
        Response::from_parts(parts, Body::from_stream(stream))
    }
}

/// `chunk` with `elements` after its first `</tns:status>` (unchanged if it has none).
fn insert_after_status(chunk: &Bytes, elements: &str) -> Bytes {
    const END: &[u8] = b"</tns:status>";
    match memchr::memmem::find(chunk, END) {
        Some(i) => {
            let at = i + END.len();
            let mut out = Vec::with_capacity(chunk.len() + elements.len());
            out.extend_from_slice(&chunk[..at]);
            out.extend_from_slice(elements.as_bytes());
            out.extend_from_slice(&chunk[at..]);
            Bytes::from(out)
        }
        None => chunk.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn r21_notice_follows_the_status() {
        let head = Bytes::from_static(b"<tns:XResponse><tns:status>200</tns:status><tns:a/>");
        let out = insert_after_status(&head, "<tns:notice>n</tns:notice>");
        assert_eq!(
            &out[..],
            b"<tns:XResponse><tns:status>200</tns:status><tns:notice>n</tns:notice><tns:a/>"
        );
    }
}
