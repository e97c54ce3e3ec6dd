//! The second factor's pages (issue 30): the code after the password, and the enrolment (QR
//! code and secret, confirmed by a code, then ten recovery codes shown once).
//!
//! After the right password an enrolled person holds a session at stage `SecondFactor`: it
//! opens no page but `/signin/code`, lives `accounts.two_factor_pending_minutes`, and ends after
//! `accounts.two_factor_attempts` wrong codes. A person whose group
//! `accounts.two_factor_required` names and who has no second factor holds one at stage
//! `Enrol`, which opens only the enrolment. The decisions are the core's
//! (`gateway::second_factor`); this module turns them into pages.

use super::{render, see_other, Button, CheckedStaged, Chrome, FieldErrors, OrPage, Page, Staged};
use super::{Session, Web};
use crate::access::Operation;
use crate::error::{Code, Refusal};
use crate::gateway::second_factor::Via;
use crate::gateway::Authorized;
use crate::store::sessions::SessionStage;
use askama::Template;
use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;

pub fn routes() -> Router<Web> {
    Router::new()
        .route("/signin/code", get(code_form).post(give_code))
        .route("/account/two-factor", get(enrol_form))
        .route("/account/two-factor/begin", post(begin))
        .route("/account/two-factor/confirm", post(confirm))
}

#[derive(Template)]
#[template(path = "signin_code.html")]
struct CodePage {
    chrome: Chrome,
    csrf: String,
    mid: String,
    /// The person has a passkey: the page offers it too.
    passkey: bool,
    errors: FieldErrors,
}

/// The form that answers an enrolled person's right password: one input, `code` (and, for a
/// person with a passkey, a button that uses it).
pub(super) fn code_page(mid: &str, csrf: &str, passkey: bool, errors: FieldErrors) -> Response {
    let status = if errors.get("code").is_some() {
        StatusCode::UNAUTHORIZED
    } else {
        StatusCode::OK
    };
    let mut r = render(&CodePage {
        chrome: Chrome::anonymous("Enter your code"),
        csrf: csrf.into(),
        mid: mid.into(),
        passkey,
        errors,
    });
    *r.status_mut() = status;
    r
}

async fn code_form(State(web): State<Web>, Staged(s): Staged) -> Page {
    match s.row.stage {
        SessionStage::SecondFactor => {
            let passkey = super::passkeys::offered(&web, s.row.account_id).await;
            Ok(code_page(
                s.mid(),
                s.csrf(),
                passkey,
                FieldErrors::default(),
            ))
        }
        _ => Ok(see_other("/menu")),
    }
}

#[derive(Deserialize)]
struct CodeForm {
    #[serde(default)]
    code: String,
}

/// The code after the password: right, the session is signed in; wrong, the form again, until
/// `accounts.two_factor_attempts` wrong codes end the session.
async fn give_code(State(web): State<Web>, CheckedStaged(s, f): CheckedStaged<CodeForm>) -> Page {
    let auth = match awaiting_second_factor(&web, &s).await? {
        Some(auth) => auth,
        None => return Ok(see_other("/menu")),
    };
    let checked = web
        .gw
        .check_second_factor(s.caller, auth.account(), &f.code)
        .await;
    answered(&web, &s, checked).await
}

/// The account of a session waiting for its second factor, as it is now (a lock or password
/// change meanwhile ends the session: `Err`, the page saying so); `None` when the session is
/// not at that stage. Shared by the code's form and the passkey's requests.
pub(super) async fn awaiting_second_factor(
    web: &Web,
    s: &Session,
) -> Result<Option<Authorized>, Response> {
    if s.row.stage != SessionStage::SecondFactor {
        return Ok(None);
    }
    let now = web
        .gw
        .resume(s.caller, s.mid(), s.row.auth_epoch, Operation::SignIn);
    match now.await {
        Ok(auth) => Ok(Some(auth)),
        Err(r) => Err(web.ended(s, &r).await),
    }
}

/// A second factor's answer (a code or a passkey): right, the session is signed in; wrong,
/// the code's form again, until `accounts.two_factor_attempts` wrong answers end the session.
pub(super) async fn answered(web: &Web, s: &Session, checked: Result<(), Refusal>) -> Page {
    let sessions = web.gw.store().sessions();
    let passkey = super::passkeys::offered(web, s.row.account_id).await;
    match checked {
        Ok(()) => {
            sessions
                .set_stage(&s.row.id_hash, SessionStage::SignedIn)
                .await
                .or_page(web, s)?;
            Ok(see_other("/menu"))
        }
        Err(r) if r.code == Code::SecondFactorFailed => {
            let n = sessions
                .count_code_failure(&s.row.id_hash)
                .await
                .or_page(web, s)?;
            let limit = i64::from(web.gw.config().accounts.two_factor_attempts);
            if n >= limit {
                let ended = Refusal::with_detail(
                    Code::SecondFactorFailed,
                    "Too many wrong codes: sign in again with your password.",
                );
                return Err(web.ended(s, &ended).await);
            }
            let errors = FieldErrors::one("code", r.message());
            Err(code_page(s.mid(), s.csrf(), passkey, errors))
        }
        Err(r) if r.code == Code::RateLimited => {
            let errors = FieldErrors::one("code", format!("{} ({})", r.message(), r.code));
            Err(code_page(s.mid(), s.csrf(), passkey, errors))
        }
        Err(r) => Err(web.refusal_page(None, &r)),
    }
}

/// An enrolment's QR code and secret, as the page shows them.
struct Shown {
    qr: String,
    secret: String,
}

#[derive(Template)]
#[template(path = "two_factor.html")]
struct EnrolPage {
    chrome: Chrome,
    required: bool,
    enrolled: bool,
    pending: Option<Shown>,
    recovery: Vec<String>,
    /// The gateway offers passkeys, and how many the person has registered.
    passkeys_offered: bool,
    passkeys: usize,
    errors: FieldErrors,
}

/// The `otpauth://` URI as an inline SVG QR code (inline: the page's policy allows images
/// from the gateway only, and no data: URI).
fn qr_svg(uri: &str) -> String {
    match qrcode::QrCode::new(uri.as_bytes()) {
        Ok(code) => {
            let svg = code
                .render::<qrcode::render::svg::Color<'_>>()
                .min_dimensions(200, 200)
                .build();
            svg.find("<svg")
                .map(|at| svg[at..].to_string())
                .unwrap_or_default()
        }
        Err(_) => String::new(),
    }
}

async fn enrol_page(web: &Web, s: &Session, recovery: Vec<String>, errors: FieldErrors) -> Page {
    let auth = web.authorize(s, Operation::SignIn).await?;
    let a = auth.account();
    let enrolled = web.gw.has_second_factor(a).await.or_page(web, s)?;
    let pending = match enrolled {
        true => None,
        false => web.gw.pending_enrolment(a).await.or_page(web, s)?,
    };
    let pending = pending.map(|e| Shown {
        qr: qr_svg(&e.uri),
        secret: e.secret.expose().to_string(),
    });
    let failed = errors.get("code").is_some();
    let passkeys = web.gw.passkey_count(a).await.or_page(web, s)?;
    let mut r = render(&EnrolPage {
        chrome: web.chrome(s, &auth, "Second factor").await,
        required: s.row.stage == SessionStage::Enrol,
        enrolled,
        pending,
        recovery,
        passkeys_offered: web.gw.passkeys_offered(),
        passkeys,
        errors,
    });
    if failed {
        *r.status_mut() = StatusCode::UNAUTHORIZED;
        return Err(r);
    }
    Ok(r)
}

/// The enrolment page; a session still awaiting its code is sent to the code's form.
async fn enrol_form(State(web): State<Web>, Staged(s): Staged) -> Page {
    if s.row.stage == SessionStage::SecondFactor {
        return Ok(see_other("/signin/code"));
    }
    enrol_page(&web, &s, Vec::new(), FieldErrors::default()).await
}

async fn begin(State(web): State<Web>, CheckedStaged(s, Button {}): CheckedStaged<Button>) -> Page {
    if s.row.stage == SessionStage::SecondFactor {
        return Ok(see_other("/signin/code"));
    }
    let auth = web.authorize(&s, Operation::SignIn).await?;
    let mid = auth.account().mid.to_string();
    let begun = web.gw.begin_enrolment(&mid, Via::Browser(s.caller)).await;
    begun.or_page(&web, &s)?;
    Ok(see_other("/account/two-factor"))
}

/// A current code confirms the enrolment: the recovery codes are shown, once, and a session
/// that had to enrol first is signed in.
async fn confirm(State(web): State<Web>, CheckedStaged(s, f): CheckedStaged<CodeForm>) -> Page {
    if s.row.stage == SessionStage::SecondFactor {
        return Ok(see_other("/signin/code"));
    }
    let auth = web.authorize(&s, Operation::SignIn).await?;
    let mid = auth.account().mid.to_string();
    let via = Via::Browser(s.caller);
    match web.gw.confirm_enrolment(&mid, &f.code, via).await {
        Ok(codes) => {
            if s.row.stage == SessionStage::Enrol {
                // R16: the required enrolment completes the sign-in (the password did not).
                let done = web
                    .gw
                    .complete_sign_in(s.caller, auth.account(), "enrolled");
                done.await.or_page(&web, &s)?;
                let sessions = web.gw.store().sessions();
                let signed = sessions.set_stage(&s.row.id_hash, SessionStage::SignedIn);
                signed.await.or_page(&web, &s)?;
            }
            let mut r = enrol_page(&web, &s, codes, FieldErrors::default()).await?;
            // The recovery codes are shown once: never kept by a cache.
            r.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            Ok(r)
        }
        Err(r) if r.code == Code::SecondFactorFailed => {
            enrol_page(&web, &s, Vec::new(), FieldErrors::one("code", r.message())).await
        }
        Err(r) => Err(web.refusal_page(Some(&s), &r)),
    }
}
