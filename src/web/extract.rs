//! What a page takes from its request: the signed-in session ([`Signed`]), a form whose CSRF
//! token matched ([`Checked`]), and the request's headers, caller and query ([`Ctx`]).

use super::{notice_page, session, Chrome, Session, Web};
use crate::access::Door;
use crate::error::Refusal;
use crate::gateway::Caller;
use crate::server::ClientAddr;
use crate::store::sessions::SessionStage;
use axum::extract::{FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};

/// A signed-in request: the live session found from its cookie. Without one, the person is
/// sent to sign in.
#[derive(Debug, Clone)]
pub struct Signed(pub Session);

impl FromRequestParts<Web> for Signed {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, web: &Web) -> Result<Self, Self::Rejection> {
        let Staged(s) = Staged::from_request_parts(parts, web).await?;
        // A session short of signed in opens only its own page (issue 30).
        match s.row.stage {
            SessionStage::SignedIn => Ok(Signed(s)),
            SessionStage::SecondFactor => Err(Redirect::to("/signin/code").into_response()),
            SessionStage::Enrol => Err(Redirect::to("/account/two-factor").into_response()),
        }
    }
}

/// A request with a live session at any stage (the second factor's own pages, sign-out).
#[derive(Debug, Clone)]
pub struct Staged(pub Session);

impl FromRequestParts<Web> for Staged {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, web: &Web) -> Result<Self, Self::Rejection> {
        let caller = caller_of(parts);
        match web.find_any_session(&parts.headers, caller).await {
            Ok(Some(s)) => Ok(Staged(s)),
            Ok(None) => Err(Redirect::to("/signin").into_response()),
            Err(e) => Err(web.refusal_page(None, &Refusal::from(e))),
        }
    }
}

/// A state-changing form from a signed-in person, its CSRF token already matched against the
/// session's: every POST route of the browser door takes its fields through this (or, for the
/// streamed upload, checks the token before the first file), and `tests/browser.rs` posts to
/// every route the door declares with a wrong token. `F` is read from the urlencoded body by
/// serde, within `limits.max_form_bytes`; unknown fields are ignored.
pub struct Checked<F>(pub Session, pub F);

/// [`Checked`] for a session at any stage ([`Staged`]): the second factor's forms, sign-out.
pub struct CheckedStaged<F>(pub Session, pub F);

impl<F> axum::extract::FromRequest<Web> for CheckedStaged<F>
where
    F: serde::de::DeserializeOwned + Send,
{
    type Rejection = Response;

    async fn from_request(req: Request, web: &Web) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = req.into_parts();
        let Staged(s) = Staged::from_request_parts(&mut parts, web).await?;
        let f = checked_form(web, &s, body).await?;
        Ok(CheckedStaged(s, f))
    }
}

/// The fields of a form that is only a button (sign out, close, acknowledge).
#[derive(serde::Deserialize)]
pub struct Button {}

#[derive(serde::Deserialize)]
struct TokenOnly {
    #[serde(default)]
    csrf: String,
}

impl<F> axum::extract::FromRequest<Web> for Checked<F>
where
    F: serde::de::DeserializeOwned + Send,
{
    type Rejection = Response;

    async fn from_request(req: Request, web: &Web) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = req.into_parts();
        let Signed(s) = Signed::from_request_parts(&mut parts, web).await?;
        let f = checked_form(web, &s, body).await?;
        Ok(Checked(s, f))
    }
}

/// A form's body, its CSRF token matched against the session's, read as `F`.
async fn checked_form<F: serde::de::DeserializeOwned>(
    web: &Web,
    s: &Session,
    body: axum::body::Body,
) -> Result<F, Response> {
    let limit = web.gw.config().limits.max_form_bytes;
    let bytes = axum::body::to_bytes(body, limit).await.map_err(|_| {
        web.refusal_page(
            Some(s),
            &Refusal::with_detail(
                crate::error::Code::MalformedRequest,
                "The form was too large or arrived incompletely.",
            ),
        )
    })?;
    let token: TokenOnly = serde_urlencoded::from_bytes(&bytes).unwrap_or(TokenOnly {
        csrf: String::new(),
    });
    check_csrf(s, &token.csrf)?;
    match serde_urlencoded::from_bytes::<F>(&bytes) {
        Ok(f) => Ok(f),
        Err(e) => Err(web.refusal_page(
            Some(s),
            &Refusal::with_detail(
                crate::error::Code::MalformedRequest,
                format!("The form could not be read: {e}."),
            ),
        )),
    }
}

/// What a page needs of a request besides its form: headers (cookies), the caller, the query.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub headers: axum::http::HeaderMap,
    pub caller: Caller,
    pub query: Option<String>,
}

impl FromRequestParts<Web> for Ctx {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &Web) -> Result<Self, Self::Rejection> {
        Ok(Ctx {
            headers: parts.headers.clone(),
            caller: caller_of(parts),
            query: parts.uri.query().map(str::to_string),
        })
    }
}

/// The client's address and the browser door.
pub fn caller_of(parts: &Parts) -> Caller {
    Caller {
        addr: parts.extensions.get::<ClientAddr>().map(|c| c.0.ip()),
        door: Door::Browser,
        request: parts.extensions.get::<crate::ground::RequestId>().copied(),
    }
}

/// Checks a form's CSRF token against the session's.
pub fn check_csrf(s: &Session, submitted: &str) -> Result<(), Response> {
    if session::csrf_ok(s.csrf(), submitted) {
        Ok(())
    } else {
        let mut chrome = Chrome::anonymous("Form expired");
        chrome.error = Some(
            "This form is out of date (it came from an earlier session or another site); nothing was done. Go back, reload the page and try again.".into(),
        );
        Err((
            StatusCode::FORBIDDEN,
            notice_page(chrome, Vec::new(), "/home"),
        )
            .into_response())
    }
}
