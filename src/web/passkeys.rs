//! Passkeys on the browser's pages (issue 30, item 3): registering one on the Second factor
//! page, and answering the password with one at sign-in, beside the code.
//!
//! The pages' script (`assets/passkeys.js`, same-origin: the policy forbids inline script)
//! asks for a ceremony's options as JSON, hands them to `navigator.credentials`, and posts the
//! browser's answer back in an ordinary form with the CSRF token, so the outcome is a page like
//! any form's. The ceremony's state stays in the session's row. The decisions are the core's
//! (`gateway::passkeys`).

use super::second_factor::{answered, awaiting_second_factor};
use super::{see_other, Button, CheckedStaged, OrPage, Page, Web};
use crate::access::Operation;
use crate::error::Refusal;
use crate::gateway::passkeys::Ceremony;
use crate::store::sessions::SessionStage;
use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use serde::Deserialize;

pub fn routes() -> Router<Web> {
    Router::new()
        .route("/account/passkeys/options", post(registration_options))
        .route("/account/passkeys", post(register))
        .route("/signin/passkey/options", post(assertion_options))
        .route("/signin/passkey", post(assert))
}

/// Whether the code's page offers a passkey to the person with `account_id`: the gateway
/// offers passkeys and the person has registered one.
pub(super) async fn offered(web: &Web, account_id: i64) -> bool {
    if !web.gw.passkeys_offered() {
        return false;
    }
    let keys = web.gw.store().passkeys().of(account_id).await;
    keys.is_ok_and(|k| !k.is_empty())
}

#[derive(Deserialize)]
struct Answer {
    /// The browser's `PublicKeyCredential`, as JSON with its buffers in base64url.
    #[serde(default)]
    credential: String,
}

/// Keeps the ceremony's state in the session and gives its options to the script.
async fn begun(web: &Web, s: &super::Session, c: Result<Ceremony, Refusal>) -> Page {
    let c = c.map_err(|r| web.refusal_page(Some(s), &r))?;
    let passkeys = web.gw.store().passkeys();
    let kept = passkeys.begin_ceremony(&s.row.id_hash, &c.state).await;
    kept.or_page(web, s)?;
    let mut r = c.options.to_string().into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(r)
}

async fn taken(web: &Web, s: &super::Session) -> Result<Option<String>, Response> {
    let store = web.gw.store();
    store
        .passkeys()
        .take_ceremony(&s.row.id_hash)
        .await
        .or_page(web, s)
}

async fn registration_options(
    State(web): State<Web>,
    CheckedStaged(s, Button {}): CheckedStaged<Button>,
) -> Page {
    if s.row.stage == SessionStage::SecondFactor {
        return Ok(see_other("/signin/code"));
    }
    let auth = web.authorize(&s, Operation::SignIn).await?;
    let begun_now = web.gw.begin_passkey_registration(auth.account()).await;
    begun(&web, &s, begun_now).await
}

/// The new passkey: registered, back to the Second factor page; a session that had to enrol
/// first is signed in.
async fn register(State(web): State<Web>, CheckedStaged(s, f): CheckedStaged<Answer>) -> Page {
    if s.row.stage == SessionStage::SecondFactor {
        return Ok(see_other("/signin/code"));
    }
    let auth = web.authorize(&s, Operation::SignIn).await?;
    let state = taken(&web, &s).await?;
    let done = web
        .gw
        .finish_passkey_registration(s.caller, auth.account(), &f.credential, state.as_deref())
        .await;
    done.map_err(|r| web.refusal_page(Some(&s), &r))?;
    if s.row.stage == SessionStage::Enrol {
        // R16: the required enrolment completes the sign-in (the password did not).
        let done = web
            .gw
            .complete_sign_in(s.caller, auth.account(), "passkey enrolled");
        done.await.or_page(&web, &s)?;
        let sessions = web.gw.store().sessions();
        let signed = sessions.set_stage(&s.row.id_hash, SessionStage::SignedIn);
        signed.await.or_page(&web, &s)?;
    }
    Ok(see_other("/account/two-factor"))
}

async fn assertion_options(
    State(web): State<Web>,
    CheckedStaged(s, Button {}): CheckedStaged<Button>,
) -> Page {
    let auth = match awaiting_second_factor(&web, &s).await? {
        Some(auth) => auth,
        None => return Ok(see_other("/menu")),
    };
    let begun_now = web.gw.begin_passkey_sign_in(auth.account()).await;
    begun(&web, &s, begun_now).await
}

/// The passkey's answer after the password: as a right or wrong code (`second_factor`).
async fn assert(State(web): State<Web>, CheckedStaged(s, f): CheckedStaged<Answer>) -> Page {
    let auth = match awaiting_second_factor(&web, &s).await? {
        Some(auth) => auth,
        None => return Ok(see_other("/menu")),
    };
    let state = taken(&web, &s).await?;
    let checked = web
        .gw
        .check_passkey(s.caller, auth.account(), &f.credential, state.as_deref())
        .await;
    answered(&web, &s, checked).await
}
