//! Signing in and out, the password change (R15), the Rules of Behavior (R21) and the iMAX
//! home page (R10, R13).

use super::session::{self, clear_cookie, set_cookie, PRE_COOKIE, SESSION_COOKIE};
use super::{
    notice_page, render, see_other, when, Button, Checked, CheckedStaged, Chrome, Ctx, FieldErrors,
    OrPage, Page, Signed, Web,
};
use crate::access::Operation;
use crate::directory::password::{PasswordRules, Secret};
use crate::error::Code;
use crate::gateway::second_factor::SecondFactorNeed;
use crate::gateway::Credentials;
use crate::store::sessions::SessionStage;
use askama::Template;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::Response;
use axum::routing::get;
use axum::{Form, Router};
use serde::Deserialize;

pub fn routes() -> Router<Web> {
    Router::new()
        .route("/", get(|| async { see_other("/menu") }))
        .route("/menu", get(menu))
        .route("/signin", get(signin_form).post(signin))
        .route("/signout", axum::routing::post(signout))
        .route("/password", get(password_form).post(change_password))
        .route("/rules", get(rules_form).post(accept_rules))
        .route("/home", get(home))
        .route("/help/forgot-password", get(forgot_password))
        .route("/help/need-id", get(need_id))
}

#[derive(Template)]
#[template(path = "signin.html")]
struct SignInPage {
    chrome: Chrome,
    csrf: String,
    mid: String,
    errors: FieldErrors,
}

/// The sign-in page with a fresh pre-session token (its cookie is set with it). `error` is
/// shown above the form when not empty.
pub fn signin_page(error: String, token: &str, mid: &str, errors: FieldErrors) -> Response {
    let mut chrome = Chrome::anonymous("Sign in");
    chrome.error = (!error.is_empty()).then_some(error);
    signin_with(chrome, token, mid, errors)
}

fn signin_with(chrome: Chrome, token: &str, mid: &str, errors: FieldErrors) -> Response {
    let status = if chrome.error.is_some() || errors.get("password").is_some() {
        StatusCode::UNAUTHORIZED
    } else {
        StatusCode::OK
    };
    let mut r = render(&SignInPage {
        chrome,
        csrf: token.into(),
        mid: mid.into(),
        errors,
    });
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.append(header::SET_COOKIE, set_cookie(PRE_COOKIE, token));
    h.append(header::SET_COOKIE, clear_cookie(SESSION_COOKIE));
    r
}

async fn signin_form(State(web): State<Web>, ctx: Ctx) -> Response {
    if let Ok(Some(_)) = web.find_session(&ctx.headers, ctx.caller).await {
        return see_other("/menu");
    }
    let mut chrome = Chrome::anonymous("Sign in");
    if ctx.query.as_deref() == Some("signed-out") {
        chrome.notice = Some("You have signed out.".into());
    }
    signin_with(chrome, &session::random_token(), "", FieldErrors::default())
}

#[derive(Deserialize)]
struct SignInForm {
    csrf: String,
    mid: String,
    password: String,
}

async fn signin(State(web): State<Web>, ctx: Ctx, Form(f): Form<SignInForm>) -> Page {
    let fresh = session::random_token();
    let expected = session::cookie(&ctx.headers, PRE_COOKIE).unwrap_or("");
    if !session::csrf_ok(expected, &f.csrf) {
        return Err(signin_page(
            "The sign-in form had expired; nothing was sent. Please sign in again.".into(),
            &fresh,
            &f.mid,
            FieldErrors::default(),
        ));
    }
    let caller = ctx.caller;
    // A sign-in always starts a new session (no fixation): any earlier one ends.
    if let Ok(Some(old)) = web.find_any_session(&ctx.headers, caller).await {
        let _ = web.end_session(&old).await;
    }
    let creds = Credentials {
        principal: f.mid.trim().to_string(),
        password: Secret::new(f.password),
    };
    // Refused: the sign-in page again, the password field marked for a wrong password (which
    // is all a stranger is ever told), otherwise the refusal's sentence above the form.
    let (auth, need) = web.gw.sign_in(caller, &creds).await.map_err(|r| {
        let (error, fields) = if r.code == Code::AuthenticationFailed {
            (String::new(), FieldErrors::one("password", r.message()))
        } else {
            let error = format!("{} ({})", r.message(), r.code.as_str());
            (error, FieldErrors::default())
        };
        signin_page(error, &fresh, &f.mid, fields)
    })?;
    let a = auth.account();
    // Issue 30: an enrolled person's password is answered with the code's form, in a session
    // that opens nothing else; one whose group requires a second factor enrols first. The
    // core decided what is still owed, and whether this was a sign-in yet (R16).
    let stage = match need {
        SecondFactorNeed::Nothing => SessionStage::SignedIn,
        SecondFactorNeed::Code => SessionStage::SecondFactor,
        SecondFactorNeed::Enrol => SessionStage::Enrol,
    };
    let (token, csrf) = web
        .start_session(a.id, a.mid.as_str(), a.auth_epoch, stage)
        .await
        .map_err(|e| web.refusal_page(None, &e.into()))?;
    // A completed sign-in is Secure Systems use (R16); iMAX is one application on its menu (R13).
    let mut r = match stage {
        SessionStage::SignedIn => see_other("/menu"),
        SessionStage::Enrol => see_other("/account/two-factor"),
        SessionStage::SecondFactor => {
            let passkey = super::passkeys::offered(&web, a.id).await;
            super::second_factor::code_page(a.mid.as_str(), &csrf, passkey, FieldErrors::default())
        }
    };
    let h = r.headers_mut();
    h.append(header::SET_COOKIE, set_cookie(SESSION_COOKIE, &token));
    h.append(header::SET_COOKIE, clear_cookie(PRE_COOKIE));
    Ok(r)
}

async fn signout(
    State(web): State<Web>,
    CheckedStaged(s, Button {}): CheckedStaged<Button>,
) -> Page {
    web.end_session(&s).await.or_page(&web, &s)?;
    let mut r = see_other("/signin?signed-out");
    r.headers_mut()
        .append(header::SET_COOKIE, clear_cookie(SESSION_COOKIE));
    Ok(r)
}

#[derive(Template)]
#[template(path = "password.html")]
struct PasswordPage {
    chrome: Chrome,
    expired: bool,
    rules: String,
    errors: FieldErrors,
}

impl Web {
    fn password_rules(&self) -> PasswordRules {
        PasswordRules::for_m_ids(&self.gw.config().accounts)
    }
}

/// The password page; with field errors, it is the form sent back (status 400).
async fn password_page(web: &Web, s: &super::Session, errors: FieldErrors) -> Page {
    let auth = web.authorize(s, Operation::ChangePassword).await?;
    let policy = &web.gw.config().accounts;
    let expired = web.gw.clock().now() - auth.account().password_changed_at
        >= time::Duration::days(policy.password_max_age_days);
    let chrome = web.chrome(s, &auth, "Change your password").await;
    let status = if errors.0.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    let mut r = render(&PasswordPage {
        chrome,
        expired,
        rules: web.password_rules().describe(),
        errors,
    });
    *r.status_mut() = status;
    if status.is_success() {
        Ok(r)
    } else {
        Err(r)
    }
}

async fn password_form(State(web): State<Web>, Signed(s): Signed) -> Page {
    password_page(&web, &s, FieldErrors::default()).await
}

#[derive(Deserialize)]
struct PasswordForm {
    current: String,
    new_password: String,
    confirm: String,
}

async fn change_password(State(web): State<Web>, Checked(s, f): Checked<PasswordForm>) -> Page {
    if f.new_password != f.confirm {
        let differ = FieldErrors::one("confirm", "The two new passwords differ.");
        return password_page(&web, &s, differ).await;
    }
    // The session proves who signed in; changing the password asks for it again, so a
    // browser left open cannot be used to take the account over.
    let creds = Credentials {
        principal: s.mid().to_string(),
        password: Secret::new(f.current),
    };
    let auth = match web
        .gw
        .authorize(s.caller, &creds, Operation::ChangePassword)
        .await
    {
        Ok(a) => a,
        Err(r) if r.code == Code::AuthenticationFailed => {
            let wrong = FieldErrors::one("current", "The current password is not correct.");
            return password_page(&web, &s, wrong).await;
        }
        Err(r) => return Err(web.resolve(&s, &r).await),
    };
    let (id, mid) = (auth.account().id, auth.account().mid.to_string());
    match web
        .gw
        .change_password(auth, &creds.password, Secret::new(f.new_password))
        .await
    {
        Ok(()) => {}
        Err(r) if r.code == Code::PasswordRejected => {
            return password_page(&web, &s, FieldErrors::one("new_password", r.message())).await
        }
        Err(r) => return Err(web.resolve(&s, &r).await),
    }
    // The change moved the account's auth_epoch, ending every session of it, this one too;
    // the person goes on in a new one.
    let epoch = match crate::directory::MId::parse(&mid) {
        Some(m) => web
            .gw
            .store()
            .accounts()
            .load(&m)
            .await
            .ok()
            .flatten()
            .map(|a| a.auth_epoch),
        None => None,
    };
    let _ = web.end_session(&s).await;
    let Some(epoch) = epoch else {
        return Ok(see_other("/signin"));
    };
    let (token, _) = web
        .start_session(id, &mid, epoch, SessionStage::SignedIn)
        .await
        .map_err(|e| web.refusal_page(None, &e.into()))?;
    let mut r = see_other("/menu");
    r.headers_mut()
        .append(header::SET_COOKIE, set_cookie(SESSION_COOKIE, &token));
    Ok(r)
}

#[derive(Template)]
#[template(path = "rules.html")]
struct RulesPage {
    chrome: Chrome,
    year: i32,
    errors: FieldErrors,
}

async fn rules_page(web: &Web, s: &super::Session, errors: FieldErrors) -> Page {
    let auth = web.authorize(s, Operation::AcceptRules).await?;
    let chrome = web.chrome(s, &auth, "TRACS Rules of Behavior").await;
    Ok(render(&RulesPage {
        chrome,
        year: crate::calendar::day_in_washington(web.gw.clock().now()).year(),
        errors,
    }))
}

async fn rules_form(State(web): State<Web>, Signed(s): Signed) -> Page {
    rules_page(&web, &s, FieldErrors::default()).await
}

#[derive(Deserialize)]
struct RulesForm {
    accept: Option<String>,
}

async fn accept_rules(State(web): State<Web>, Checked(s, f): Checked<RulesForm>) -> Page {
    if f.accept.as_deref() != Some("yes") {
        let tick = FieldErrors::one("accept", "Tick the box to accept the Rules of Behavior.");
        return Err(rules_page(&web, &s, tick).await?);
    }
    let auth = web.authorize(&s, Operation::AcceptRules).await?;
    web.settled(&s, web.gw.accept_rules(&auth).await).await?;
    Ok(see_other("/menu"))
}

#[derive(Template)]
#[template(path = "menu.html")]
struct MenuPage {
    chrome: Chrome,
    coordinator: bool,
    help_desk: bool,
    imax_locked: Option<String>,
}

/// The Secure Systems main menu a sign-in lands on: iMAX as one application among the
/// coordinator's and the Help Desk's functions. Showing it is Secure Systems use only (the
/// sign-in recorded it, R16); opening iMAX from it is iMAX use (R13).
async fn menu(State(web): State<Web>, Signed(s): Signed) -> Page {
    // What the Secure Systems functions need: a current password (R15) and this year's Rules
    // of Behavior (R21); without them the person is led to the password or the rules first.
    let auth = web.authorize(&s, Operation::Administer).await?;
    let chrome = web.chrome(&s, &auth, "Secure Systems").await;
    let imax_locked = (auth.account().status
        == crate::directory::AccountStatus::Locked(crate::directory::LockReason::Inactivity))
    .then(|| {
        "You are locked out of iMAX: it was not used for 90 days. Ask your coordinator to unlock your M-ID (coordinators ask the Help Desk).".to_string()
    });
    Ok(render(&MenuPage {
        coordinator: chrome.coordinator,
        help_desk: chrome.help_desk,
        chrome,
        imax_locked,
    }))
}

#[derive(Template)]
#[template(path = "home.html")]
pub(super) struct HomePage {
    pub chrome: Chrome,
    pub refused: Option<String>,
    pub imax_id: String,
    pub errors: FieldErrors,
    pub broadcasts: Vec<(String, String, String)>,
}

/// The iMAX home page (R10): opening it counts as use (R13). A person without the iMAX role
/// (a coordinator who only administers) sees why and still reaches the other pages. With
/// field errors it is the mailbox form sent back (status 401).
pub(super) async fn home_page(
    web: &Web,
    s: &super::Session,
    imax_id: &str,
    errors: FieldErrors,
) -> Page {
    let (auth, refused) = match web
        .gw
        .resume(s.caller, s.mid(), s.row.auth_epoch, Operation::OpenImax)
        .await
    {
        Ok(auth) => {
            web.settled(s, web.gw.open_imax(&auth).await).await?;
            (auth, None)
        }
        // Without the iMAX role, uncertified, or locked out of iMAX for want of use (R13): the
        // reason on the page, the rest of the gateway still reachable.
        Err(r)
            if matches!(
                r.code,
                Code::NoImaxRole | Code::NotRecertified | Code::AccountLocked
            ) =>
        {
            let auth = web.authorize(s, Operation::Administer).await?;
            (auth, Some(format!("{} ({})", r.message(), r.code.as_str())))
        }
        Err(r) => return Err(web.resolve(s, &r).await),
    };
    let chrome = web.chrome(s, &auth, "iMAX").await;
    let messages = web.gw.store().messages();
    let latest = messages.latest_broadcasts(5).await.or_page(web, s)?;
    let broadcasts = latest
        .into_iter()
        .map(|(_, title, at, body)| (title, when(at), body))
        .collect();
    let status = if errors.0.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNAUTHORIZED
    };
    let mut r = render(&HomePage {
        chrome,
        refused,
        imax_id: imax_id.into(),
        errors,
        broadcasts,
    });
    *r.status_mut() = status;
    if status.is_success() {
        Ok(r)
    } else {
        Err(r)
    }
}

async fn home(State(web): State<Web>, Signed(s): Signed) -> Page {
    home_page(&web, &s, "", FieldErrors::default()).await
}

async fn help_chrome(web: &Web, ctx: &Ctx, title: &str) -> Chrome {
    if let Ok(Some(s)) = web.find_session(&ctx.headers, ctx.caller).await {
        if let Ok(auth) = web
            .gw
            .resume(s.caller, s.mid(), s.row.auth_epoch, Operation::SignIn)
            .await
        {
            return web.chrome(&s, &auth, title).await;
        }
    }
    Chrome::anonymous(title)
}

async fn forgot_password(State(web): State<Web>, ctx: Ctx) -> Response {
    let chrome = help_chrome(&web, &ctx, "Forgot a mailbox password").await;
    notice_page(
        chrome,
        vec![
            "A TRACSMail (iMAX ID) password is reset only by the Help Desk.".into(),
            "Send the request in writing: a letter on your company's letterhead, signed and dated, or an email to the TRACS address. Give the mailbox's iMAX ID and the contact details exactly as in its profile: your name, title, organization, firm name, the firm's whole address (street, city, state or territory, ZIP or postal code) and email, with the profile's PIN.".into(),
            "The Help Desk records the letter's date and reference, checks every detail against the profile, and mails a new password to the profile's email address only. A telephone call is not enough.".into(),
            "Your own M-ID's password is a different one: your coordinator resets it for you.".into(),
        ],
        "/home",
    )
}

async fn need_id(State(web): State<Web>, ctx: Ctx) -> Response {
    let chrome = help_chrome(&web, &ctx, "Need a TRACSMail ID").await;
    notice_page(
        chrome,
        vec![
            "Each business relationship (a property or site, a management company, a service bureau or a Contract Administrator) has its own TRACSMail ID.".into(),
            "Ask the Help Desk for one; a service bureau's staff use their own M-IDs with the client property's TRACSMail ID and password.".into(),
        ],
        "/home",
    )
}
