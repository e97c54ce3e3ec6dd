//! The MTOM/XOP calls (`multipart/related`, as WCF and JAX-WS send and fetch large files).

use super::{full, parse_reply, streamed, ClientError, Content, Reply, S2sClient};

impl S2sClient {
    /// `SendFile` as MTOM/XOP (`multipart/related`, as WCF and JAX-WS send large files): the
    /// envelope's content is an `xop:Include` of a second part carrying the file's raw bytes.
    pub async fn send_file_mtom(
        &mut self,
        mailbox: &str,
        mailbox_password: &str,
        to: Option<&str>,
        file_name: &str,
        content: Content,
    ) -> Result<Reply, ClientError> {
        let mut fields = vec![("mailbox", mailbox), ("mailboxPassword", mailbox_password)];
        if let Some(t) = to {
            fields.push(("toMailbox", t));
        }
        fields.push(("fileName", file_name));
        if self.resend {
            fields.push(("resend", "true"));
        }
        let b = mime_boundary();
        let prefix = format!(
            "--{b}\r\nContent-Type: application/xop+xml; charset=UTF-8; type=\"text/xml\"\r\nContent-ID: <root@imax-client>\r\n\r\n{}{}<t:content><xop:Include xmlns:xop=\"{}\" href=\"cid:file@imax-client\"/></t:content></t:SendFile></soap:Body></soap:Envelope>\r\n--{b}\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\nContent-ID: <file@imax-client>\r\n\r\n",
            self.open("SendFile"),
            Self::fields(&fields),
            crate::s2s::envelope::XOP,
        );
        let suffix = format!("\r\n--{b}--\r\n");
        let body = match content {
            Content::Bytes(bytes) => {
                let mut all = prefix.into_bytes();
                all.extend_from_slice(&bytes);
                all.extend_from_slice(suffix.as_bytes());
                full(all)
            }
            Content::File(path) => {
                let file = tokio::fs::File::open(path).await?;
                self.expect_upload(&file).await;
                streamed(prefix, file, suffix, false, self.progress.clone())
            }
        };
        let ct = format!(
            "multipart/related; type=\"application/xop+xml\"; boundary=\"{b}\"; start=\"<root@imax-client>\"; start-info=\"text/xml\""
        );
        let (status, _, bytes) = self.exchange(body, &ct, None).await?;
        parse_reply(status, &bytes)
    }

    /// `GetMessage` asking for MTOM (`Accept: multipart/related`): the reply, and the file's
    /// bytes from the binary part its content's `xop:Include` names (`None` if it answered
    /// otherwise, a Fault for one).
    pub async fn get_message_mtom(
        &mut self,
        mailbox: &str,
        mailbox_password: &str,
        message_id: &str,
    ) -> Result<(Reply, Option<Vec<u8>>), ClientError> {
        let xml = format!(
            "{}{}</t:GetMessage></soap:Body></soap:Envelope>",
            self.open("GetMessage"),
            Self::fields(&[
                ("mailbox", mailbox),
                ("mailboxPassword", mailbox_password),
                ("messageId", message_id),
            ])
        );
        let (status, ct, bytes) = self
            .exchange(
                full(xml),
                "text/xml; charset=utf-8",
                Some("multipart/related, text/xml"),
            )
            .await?;
        let Some(boundary) = ct
            .split(';')
            .find_map(|p| p.trim().strip_prefix("boundary="))
            .map(|b| b.trim_matches('"').to_string())
        else {
            return Ok((parse_reply(status, &bytes)?, None));
        };
        let mut splitter = crate::s2s::multipart::Splitter::new(&boundary);
        let mut pieces = Vec::new();
        splitter
            .feed(&bytes, &mut pieces)
            .map_err(|e| ClientError::Response(e.to_string()))?;
        splitter
            .finish()
            .map_err(|e| ClientError::Response(e.to_string()))?;
        let mut parts: Vec<Vec<u8>> = Vec::new();
        for p in pieces {
            match p {
                crate::s2s::multipart::Piece::Part(_) => parts.push(Vec::new()),
                crate::s2s::multipart::Piece::Data(d) => {
                    if let Some(last) = parts.last_mut() {
                        last.extend_from_slice(&d);
                    }
                }
                _ => {}
            }
        }
        let mut parts = parts.into_iter();
        let root = parts
            .next()
            .ok_or_else(|| ClientError::Response("an MTOM answer without parts".into()))?;
        Ok((parse_reply(status, &root)?, parts.next()))
    }
}

/// A MIME boundary no file contains by chance.
fn mime_boundary() -> String {
    let mut b = [0u8; 16];
    let _ = getrandom::getrandom(&mut b);
    format!("imax-client-{}", hex::encode(b))
}
