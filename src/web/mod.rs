//! The browser door: HTML pages over the same core and access decision as the
//! system-to-system endpoint.
//!
//! Every page that needs a signed-in person goes through [`Web::authorize`], which turns the
//! session back into an [`Authorized`] caller through [`Gateway::resume`] and so through
//! [`crate::access::decide`]; mailbox pages go on through [`Gateway::resume_mailbox`];
//! coordinator and Help Desk pages act through [`Admin::for_signed_in`]. Nothing in this module
//! decides access on its own; it turns refusals into pages.
//!
//! Pages are rendered by askama templates (in `templates/`, auto-escaped), styled and scripted
//! by two assets the gateway serves itself (`assets/`), under a Content-Security-Policy that
//! allows no inline script and no other origin.

// Handlers return `Page`, a `Result` whose error is the page to show, built once per request,
// so its size does not matter.
#![allow(clippy::result_large_err)]

mod account;
mod audit;
mod certifier;
mod compliance;
mod coordinator;
mod extract;
mod helpdesk;
mod ledger;
mod mailbox;
mod notifications;
mod passkeys;
pub mod receipt_keys;
mod rules_record;
mod sandbox;
mod second_factor;
pub mod session;

use crate::access::Operation;
use crate::admin::Admin;
use crate::error::{Code, Refusal};
use crate::gateway::{Authorized, Gateway};
use askama::Template;
use axum::extract::Request;
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
pub use extract::{caller_of, check_csrf, Button, Checked, CheckedStaged, Ctx, Signed, Staged};
pub use session::Session;

/// What a page handler answers: the page, or (as the error) the page that says why not, already
/// rendered with its status. Handlers read as the page does: each step that can refuse ends in
/// `?` ([`OrPage::or_page`] turns a refusal into its page for the signed-in person).
pub type Page = Result<Response, Response>;

/// A refusal (or anything that becomes one, such as a store error) as the page that tells the
/// signed-in person why, the same sentence the system-to-system fault carries.
pub trait OrPage<T> {
    fn or_page(self, web: &Web, s: &Session) -> Result<T, Response>;
}

impl<T, E: Into<Refusal>> OrPage<T> for Result<T, E> {
    fn or_page(self, web: &Web, s: &Session) -> Result<T, Response> {
        self.map_err(|e| web.refusal_page(Some(s), &e.into()))
    }
}

/// The browser door's state: the core, and the directory administration acting as the
/// installation (narrowed to the signed-in person with [`Admin::for_signed_in`] on each use).
#[derive(Debug, Clone)]
pub struct Web {
    pub gw: Gateway,
    pub admin: Admin,
}

/// The pages, with the headers every page carries.
pub fn routes(web: Web) -> Router<Gateway> {
    // Forms (sign-in, settings) are small; the upload route sets its own, larger limit.
    let form_limit = axum::extract::DefaultBodyLimit::max(web.gw.config().limits.max_form_bytes);
    Router::new()
        .route("/assets/imax.css", get(css))
        .route("/assets/imax.js", get(js))
        .merge(account::routes())
        .merge(mailbox::routes(web.gw.config()))
        .merge(coordinator::routes())
        .merge(certifier::routes())
        .merge(helpdesk::routes())
        .merge(rules_record::routes()) // R21's printable record
        .merge(second_factor::routes()) // issue 30: the second factor
        .merge(passkeys::routes()) // issue 30: passkeys as the second factor
        .route("/assets/passkeys.js", get(passkeys_js))
        .merge(compliance::routes()) // what users have due (Q24, Q39)
        .merge(audit::routes()) // audit search and export (issue 30)
        .merge(notifications::routes()) // arrival notices (issue 30)
        .merge(sandbox::routes()) // a vendor's certification report (issue 31)
        .merge(ledger::routes()) // a contract's TRACS round-trip ledger (issue 31)
        .merge(receipt_keys::routes()) // issue 31: receipts anyone can verify
        .layer(form_limit)
        .layer(axum::middleware::from_fn(same_origin_posts))
        .layer(axum::middleware::map_response(page_headers))
        .with_state(web)
}

async fn css() -> Response {
    asset(
        "text/css; charset=utf-8",
        include_str!("../../assets/imax.css"),
    )
}

async fn js() -> Response {
    asset(
        "text/javascript; charset=utf-8",
        include_str!("../../assets/imax.js"),
    )
}

async fn passkeys_js() -> Response {
    asset(
        "text/javascript; charset=utf-8",
        include_str!("../../assets/passkeys.js"),
    )
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    let mut r = body.into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=3600"),
    );
    r
}

/// The Content-Security-Policy of every page: nothing inline, nothing from elsewhere, no
/// framing.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
     connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

async fn page_headers(mut r: Response) -> Response {
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin"),
    );
    h.insert(
        "permissions-policy",
        HeaderValue::from_static("camera=(), microphone=(), geolocation=()"),
    );
    r
}

/// Defence in depth beside the CSRF token: a state-changing request must come from our own
/// pages (`Sec-Fetch-Site`, else `Origin`, when the browser sends them).
async fn same_origin_posts(req: Request, next: Next) -> Response {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        let h = req.headers();
        let site = h.get("sec-fetch-site").and_then(|v| v.to_str().ok());
        let cross = match site {
            Some(s) => !matches!(s, "same-origin" | "none"),
            // HTTP/2 carries the host in the URI's authority, HTTP/1.1 in `Host`.
            None => match (
                h.get(header::ORIGIN).and_then(|v| v.to_str().ok()),
                h.get(header::HOST)
                    .and_then(|v| v.to_str().ok())
                    .or_else(|| req.uri().authority().map(|a| a.as_str())),
            ) {
                (Some(origin), Some(host)) => {
                    origin.strip_prefix("https://").is_none_or(|o| o != host)
                }
                _ => false,
            },
        };
        if cross {
            return refused_page(
                StatusCode::FORBIDDEN,
                "This form was sent from another site; nothing was done.",
            );
        }
    }
    next.run(req).await
}

/// Field-level errors of a form, shown next to their fields.
#[derive(Debug, Clone, Default)]
pub struct FieldErrors(Vec<(&'static str, String)>);

impl FieldErrors {
    pub fn one(field: &'static str, message: impl Into<String>) -> Self {
        FieldErrors(vec![(field, message.into())])
    }
    pub fn get(&self, field: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(f, _)| *f == field)
            .map(|(_, m)| m.as_str())
    }
}

/// What the frame of every page shows: title, who is signed in, the open mailbox, menus.
#[derive(Debug, Clone, Default)]
pub struct Chrome {
    pub title: String,
    pub mid: Option<String>,
    pub csrf: String,
    pub mailbox: Option<String>,
    pub coordinator: bool,
    pub help_desk: bool,
    /// A certifier of HUD's staff (a supervisor, OTC or COR).
    pub certifier: bool,
    pub notice: Option<String>,
    pub error: Option<String>,
    /// What the person must do soon, on every page (R21's Rules of Behavior notice).
    pub banners: Vec<String>,
    /// The open mailbox is a vendor's sandbox (issue 31): every page says so.
    pub sandbox: bool,
}

impl Chrome {
    pub fn anonymous(title: &str) -> Chrome {
        Chrome {
            title: title.into(),
            ..Chrome::default()
        }
    }
}

/// Renders a template into a page.
pub fn render(t: &impl Template) -> Response {
    match t.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "template failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "The page could not be drawn.",
            )
                .into_response()
        }
    }
}

#[derive(Template)]
#[template(path = "notice.html")]
struct NoticePage {
    chrome: Chrome,
    paragraphs: Vec<String>,
    back: String,
}

/// A page that only says something, with a link onwards.
pub fn notice_page(chrome: Chrome, paragraphs: Vec<String>, back: &str) -> Response {
    render(&NoticePage {
        chrome,
        paragraphs,
        back: back.into(),
    })
}

fn refused_page(status: StatusCode, sentence: &str) -> Response {
    let mut chrome = Chrome::anonymous("Not allowed");
    chrome.error = Some(sentence.into());
    (status, notice_page(chrome, Vec::new(), "/home")).into_response()
}

pub(crate) fn status_of(code: Code) -> StatusCode {
    match code {
        Code::AuthenticationFailed
        | Code::MailboxAuthenticationFailed
        | Code::SessionEnded
        | Code::SecondFactorFailed => StatusCode::UNAUTHORIZED,
        Code::UnknownMessage | Code::NotFound => StatusCode::NOT_FOUND,
        Code::AlreadyExists => StatusCode::CONFLICT,
        Code::MailUnavailable => StatusCode::SERVICE_UNAVAILABLE,
        Code::RateLimited => StatusCode::TOO_MANY_REQUESTS,
        Code::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        Code::StorageFull => StatusCode::INSUFFICIENT_STORAGE,
        Code::FileTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        Code::MissingFile
        | Code::MalformedRequest
        | Code::ChecksumMismatch
        | Code::UnknownRecipient
        | Code::PasswordRejected
        | Code::InvalidInput => StatusCode::BAD_REQUEST,
        _ => StatusCode::FORBIDDEN,
    }
}

impl Web {
    /// The signed-in person, decided on afresh for `op` (R10, R13, R15, R21, …). A refusal
    /// becomes the page that resolves it: the password change, the Rules of Behavior, the
    /// sign-in page when the session ended, or the refusal's own sentence.
    pub async fn authorize(&self, s: &Session, op: Operation) -> Result<Authorized, Response> {
        let decided = self
            .gw
            .resume(s.caller, s.mid(), s.row.auth_epoch, op)
            .await;
        self.settled(s, decided).await
    }

    /// The core's answer to a signed-in person's request: its value, or the page that resolves
    /// its refusal ([`Web::resolve`]).
    pub async fn settled<T>(&self, s: &Session, answer: Result<T, Refusal>) -> Result<T, Response> {
        match answer {
            Ok(v) => Ok(v),
            Err(r) => Err(self.resolve(s, &r).await),
        }
    }

    /// The page that resolves a refusal of a signed-in person's request.
    pub async fn resolve(&self, s: &Session, r: &Refusal) -> Response {
        match r.code {
            Code::PasswordExpired => Redirect::to("/password").into_response(),
            Code::RulesOfBehaviorNotAccepted => Redirect::to("/rules").into_response(),
            Code::SessionEnded | Code::AccountLocked | Code::AccountTerminated => {
                self.ended(s, r).await
            }
            _ => self.refusal_page(Some(s), r),
        }
    }

    /// Ends the session and shows the sign-in page with the reason.
    async fn ended(&self, s: &Session, r: &Refusal) -> Response {
        if let Err(e) = self.end_session(s).await {
            return self.refusal_page(None, &Refusal::from(e));
        }
        account::signin_page(
            r.message(),
            &session::random_token(),
            "",
            FieldErrors::default(),
        )
    }

    /// The frame of a page for a signed-in person.
    pub async fn chrome(&self, s: &Session, auth: &Authorized, title: &str) -> Chrome {
        let a = auth.account();
        let help_desk = self
            .gw
            .store()
            .operators()
            .is_help_desk(a.id)
            .await
            .unwrap_or(false);
        let certifier = a.affiliation.is_hud()
            && self
                .gw
                .store()
                .internal()
                .is_certifier(a.id)
                .await
                .unwrap_or(false);
        let mailbox = match s.row.mailbox {
            Some((id, _)) => self
                .gw
                .store()
                .mailboxes()
                .load_by_id(id)
                .await
                .ok()
                .flatten(),
            None => None,
        };
        let sandbox = mailbox.as_ref().is_some_and(|m| m.kind.is_sandbox());
        let mailbox = mailbox.map(|m| m.imax_id.to_string());
        Chrome {
            title: title.into(),
            mid: Some(a.mid.to_string()),
            csrf: s.csrf().to_string(),
            mailbox,
            coordinator: a.kind == crate::directory::AccountKind::Coordinator,
            help_desk,
            certifier,
            notice: None,
            error: None,
            banners: crate::access::notices(a, &self.gw.config().accounts, self.gw.clock().now()),
            sandbox,
        }
    }

    /// A refusal as a page, with the same sentence the system-to-system fault carries.
    pub fn refusal_page(&self, s: Option<&Session>, r: &Refusal) -> Response {
        let mut chrome = Chrome::anonymous("Not allowed");
        if let Some(s) = s {
            chrome.mid = Some(s.mid().to_string());
            chrome.csrf = s.csrf().to_string();
        }
        chrome.error = Some(format!("{} ({})", r.message(), r.code.as_str()));
        (status_of(r.code), notice_page(chrome, Vec::new(), "/home")).into_response()
    }

    /// The directory administration acting as the signed-in person (coordinator or Help
    /// Desk), after the access decision for `Administer`.
    pub async fn acting(&self, s: &Session) -> Result<(Authorized, Admin), Response> {
        let auth = self.authorize(s, Operation::Administer).await?;
        match self.admin.for_signed_in(&auth).await {
            Ok(admin) => Ok((auth, admin)),
            Err(e) => Err(self.refusal_page(Some(s), &e)),
        }
    }
}

/// The `Set-Cookie` and redirect after a successful form: Post/Redirect/Get.
pub fn see_other(to: &str) -> Response {
    Redirect::to(to).into_response()
}

/// Formats a time for pages: `2026-03-02 09:00 UTC`.
pub fn when(t: time::OffsetDateTime) -> String {
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02} UTC",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute()
    )
}

/// Formats a byte count for pages.
pub fn size(n: u64) -> String {
    match n {
        0..1024 => format!("{n} B"),
        1024..1_048_576 => format!("{:.1} KiB", n as f64 / 1024.0),
        _ => format!("{:.1} MiB", n as f64 / 1_048_576.0),
    }
}
