//! Browser sessions: a random cookie, the session row in the database, CSRF tokens.
//!
//! * The cookie `__Host-imax-session` holds 32 random bytes (hex). It is `Secure`, `HttpOnly`,
//!   `SameSite=Strict`, host-only, path `/`, and lives only as long as the browser is open.
//! * The database keeps only the SHA-256 of that value ([`crate::store::sessions`]), so any
//!   node can find the session and none can forge one.
//! * A session ends after `web.session_idle_minutes` without a request, after
//!   `web.session_lifetime_hours` in any case, at sign-out (on every node at once, since the row
//!   is gone), and when the account's `auth_epoch` moves (password change, lock, rights).
//! * Each session has its own CSRF token; every form carries it and every POST is checked
//!   against it in constant time. The sign-in form, before any session exists, carries a
//!   token tied to a short-lived pre-session cookie instead.

use super::Web;
use crate::gateway::Caller;
use crate::ground::constant_time_eq;
use crate::store::sessions::{SessionRow, SessionStage};
use axum::http::{header, HeaderMap, HeaderValue};
use sha2::{Digest, Sha256};
use time::Duration;

pub const SESSION_COOKIE: &str = "__Host-imax-session";
pub const PRE_COOKIE: &str = "__Host-imax-signin";

/// A random token: 32 bytes, hex.
pub fn random_token() -> String {
    let mut b = [0u8; 32];
    if let Err(e) = getrandom::getrandom(&mut b) {
        // Without randomness no session may be made; a fixed token would be a vulnerability.
        panic!("the operating system's random number generator failed: {e}");
    }
    hex::encode(b)
}

pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// The value of cookie `name`, if the request carries it.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// A `Set-Cookie` value with the attributes every cookie of ours has.
pub fn set_cookie(name: &str, value: &str) -> HeaderValue {
    HeaderValue::from_str(&format!(
        "{name}={value}; Path=/; Secure; HttpOnly; SameSite=Strict"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("invalid=; Path=/"))
}

/// A `Set-Cookie` value that removes the cookie.
pub fn clear_cookie(name: &str) -> HeaderValue {
    HeaderValue::from_str(&format!(
        "{name}=; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=0"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("invalid=; Path=/"))
}

/// Constant-time check of a submitted CSRF token.
pub fn csrf_ok(expected: &str, submitted: &str) -> bool {
    !expected.is_empty() && constant_time_eq(expected.as_bytes(), submitted.as_bytes())
}

/// A live session, as found for a request.
#[derive(Debug, Clone)]
pub struct Session {
    pub row: SessionRow,
    pub caller: Caller,
}

impl Session {
    pub fn csrf(&self) -> &str {
        &self.row.csrf_token
    }
    pub fn mid(&self) -> &str {
        &self.row.mid
    }
}

impl Web {
    /// The signed-in session a request's cookie names, if it is still live (a session still
    /// awaiting its second factor or its enrolment is none).
    pub async fn find_session(
        &self,
        headers: &HeaderMap,
        caller: Caller,
    ) -> Result<Option<Session>, crate::store::StoreError> {
        let found = self.find_any_session(headers, caller).await?;
        Ok(found.filter(|s| s.row.stage == SessionStage::SignedIn))
    }

    /// The session a request's cookie names at whatever stage, if it is still live. Expired
    /// sessions are removed; one awaiting its second factor lives only
    /// `accounts.two_factor_pending_minutes`.
    pub async fn find_any_session(
        &self,
        headers: &HeaderMap,
        caller: Caller,
    ) -> Result<Option<Session>, crate::store::StoreError> {
        let Some(token) = cookie(headers, SESSION_COOKIE).filter(|t| t.len() == 64) else {
            return Ok(None);
        };
        let store = &self.gw.store();
        let id_hash = hash_token(token);
        let Some(row) = store.sessions().load(&id_hash).await? else {
            return Ok(None);
        };
        let now = self.gw.clock().now();
        let cfg = &self.gw.config().web;
        let idle = Duration::minutes(cfg.session_idle_minutes);
        let lifetime = match row.stage {
            SessionStage::SecondFactor => {
                Duration::minutes(self.gw.config().accounts.two_factor_pending_minutes)
            }
            _ => Duration::hours(cfg.session_lifetime_hours),
        };
        if now - row.last_seen_at >= idle || now - row.created_at >= lifetime {
            store.sessions().delete(&id_hash).await?;
            return Ok(None);
        }
        // The idle deadline moves with use; a write per quarter minute is plenty.
        if now - row.last_seen_at >= Duration::seconds(15) {
            store.sessions().touch(&id_hash, now).await?;
        }
        Ok(Some(Session { row, caller }))
    }

    /// Starts a session for a person who just gave the right password, at `stage`; returns
    /// the cookie value and the session's CSRF token.
    pub async fn start_session(
        &self,
        account_id: i64,
        mid: &str,
        auth_epoch: i64,
        stage: SessionStage,
    ) -> Result<(String, String), crate::store::StoreError> {
        let token = random_token();
        let now = self.gw.clock().now();
        let row = SessionRow {
            id_hash: hash_token(&token),
            account_id,
            mid: mid.to_string(),
            auth_epoch,
            csrf_token: random_token(),
            created_at: now,
            last_seen_at: now,
            mailbox: None,
            stage,
            code_failures: 0,
        };
        self.gw.store().sessions().create(&row).await?;
        Ok((token, row.csrf_token))
    }

    /// Ends a session (sign-out): the row is gone, so no node accepts the cookie again.
    pub async fn end_session(&self, s: &Session) -> Result<(), crate::store::StoreError> {
        self.gw.store().sessions().delete(&s.row.id_hash).await
    }

    /// Removes sessions past their idle or absolute deadline (run periodically).
    pub async fn purge_sessions(&self) -> Result<u64, crate::store::StoreError> {
        let now = self.gw.clock().now();
        let cfg = &self.gw.config().web;
        self.gw
            .store()
            .sessions()
            .purge_expired(
                now - Duration::minutes(cfg.session_idle_minutes),
                now - Duration::hours(cfg.session_lifetime_hours),
            )
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_found_among_others() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; __Host-imax-session=abc; b=2"),
        );
        assert_eq!(cookie(&h, SESSION_COOKIE), Some("abc"));
        assert_eq!(cookie(&h, "c"), None);
    }

    #[test]
    fn tokens_are_random_and_csrf_is_exact() {
        let (a, b) = (random_token(), random_token());
        assert_eq!(a.len(), 64);
        assert_ne!(a, b);
        assert!(csrf_ok(&a, &a));
        assert!(!csrf_ok(&a, &b));
        assert!(!csrf_ok("", ""));
    }

    #[test]
    fn cookie_attributes_are_strict() {
        let v = set_cookie(SESSION_COOKIE, "x");
        let v = v.to_str().unwrap_or_default();
        for attr in ["Secure", "HttpOnly", "SameSite=Strict", "Path=/"] {
            assert!(v.contains(attr), "{v} lacks {attr}");
        }
        assert!(!v.contains("Domain"));
    }
}
