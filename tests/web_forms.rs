//! Every state-changing route of the browser door refuses a forged CSRF token, found by walking
//! the routes the door declares (`src/web/*.rs`), so a new POST route that forgets the check
//! (`web::Checked`, or the upload's first field) fails here.

use crate::helpers::*;

/// The browser door's source files, in `src/web` and its folders.
fn web_sources(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("src/web") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            web_sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Every `.route("path", …post(…)…)` declared in the browser door's modules.
fn post_routes() -> Vec<String> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/web");
    let mut routes = Vec::new();
    let mut files = Vec::new();
    web_sources(&dir, &mut files);
    for file in files {
        let text = std::fs::read_to_string(file).expect("read");
        // Routes declared in a loop (`for base in ["/a", "/b"] { … format!("{base}/x") … }`).
        let bases: Vec<String> = text
            .split("for base in [")
            .skip(1)
            .flat_map(|r| {
                let list = r.split(']').next().unwrap_or("");
                list.split('"')
                    .skip(1)
                    .step_by(2)
                    .map(str::to_string)
                    .collect::<Vec<_>>()
            })
            .collect();
        let mut rest = text.as_str();
        while let Some(at) = rest.find(".route(") {
            rest = &rest[at + ".route(".len()..];
            // The call's arguments, up to its closing parenthesis.
            let mut depth = 1;
            let end = rest
                .char_indices()
                .find(|&(_, c)| {
                    depth += match c {
                        '(' => 1,
                        ')' => -1,
                        _ => 0,
                    };
                    depth == 0
                })
                .map(|(i, _)| i)
                .expect("a closed .route( call");
            let call = &rest[..end];
            if let Some(path) = call.split('"').nth(1) {
                if call.contains("post(") {
                    if path.contains("{base}") {
                        assert!(!bases.is_empty(), "{path}: where is its base?");
                        routes.extend(bases.iter().map(|b| path.replace("{base}", b)));
                    } else {
                        routes.push(path.to_string());
                    }
                }
            }
        }
    }
    routes.sort();
    routes
}

/// A same-origin request as a browser's form makes it: status, `Set-Cookie` values and body.
pub(crate) async fn request(
    t: &TestApp,
    method: &str,
    path: &str,
    cookie: &str,
    content_type: &str,
    body: Vec<u8>,
) -> (u16, Vec<String>, String) {
    let origin = format!("https://localhost:{}", t.app().addr.port());
    let mut headers = vec![
        ("origin", origin.as_str()),
        ("sec-fetch-site", "same-origin"),
    ];
    if !cookie.is_empty() {
        headers.push(("cookie", cookie));
    }
    if !content_type.is_empty() {
        headers.push(("content-type", content_type));
    }
    let (status, response, page) = https_request(t, method, path, &headers, body).await;
    let cookies = response
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or("").to_string())
        .collect();
    (status, cookies, page)
}

/// The CSRF token of the first form on a page.
pub(crate) fn csrf_of(page: &str) -> String {
    page.split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .expect("the page's form token")
        .to_string()
}

/// Signs in over plain HTTP as the sign-in page's form does; the session cookie.
pub(crate) async fn session_cookie(t: &TestApp, who: (&str, &str)) -> String {
    let (_, pre, page) = request(t, "GET", "/signin", "", "", Vec::new()).await;
    let token = csrf_of(&page);
    let form = format!("csrf={token}&mid={}&password={}", who.0, who.1);
    let (status, cookies, _) = request(
        t,
        "POST",
        "/signin",
        &pre.join("; "),
        "application/x-www-form-urlencoded",
        form.into_bytes(),
    )
    .await;
    assert_eq!(status, 303, "signed in");
    cookies
        .into_iter()
        .find(|c| c.starts_with("__Host-imax-session="))
        .expect("a session cookie")
}

#[tokio::test]
async fn every_post_route_refuses_a_forged_csrf_token() {
    let t = TestApp::start().await;
    let routes = post_routes();
    assert!(
        routes.len() >= 10,
        "the walk found the door's POST routes: {routes:?}"
    );
    let cookie = session_cookie(&t, COORDINATOR).await;
    let audit_before: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_log")
        .fetch_one(&t.db)
        .await
        .expect("audit count");
    for route in &routes {
        if route == "/signin" {
            continue; // before a session: its own token, tested in tests/browser.rs
        }
        let path = route
            .replace("{imax_id}", MAPLE.0)
            .replace("{mid}", SITE_USER.0)
            .replace("{id}", "M00000000")
            .replace("{folder}", "inbox");
        let forms = [
            (
                "application/x-www-form-urlencoded",
                b"csrf=forged&mid=M10001&title=x&body=y".to_vec(),
            ),
            (
                "multipart/form-data; boundary=XyZ",
                b"--XyZ\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\nforged\r\n--XyZ--\r\n"
                    .to_vec(),
            ),
        ];
        // A route reads one kind of form: with it, the forged token is refused (403); the
        // other kind is refused as unreadable (400) or for its token, never acted on.
        let mut refused_for_the_token = false;
        for (content_type, body) in forms {
            let (status, _, page) = request(&t, "POST", &path, &cookie, content_type, body).await;
            assert!(
                status == 403 || status == 400,
                "{path} ({content_type}) took a forged token: {status} {page}"
            );
            if status == 403 {
                assert!(page.contains("nothing was done"), "{path}: {page}");
                refused_for_the_token = true;
            }
        }
        assert!(refused_for_the_token, "{path} never checked the token");
    }
    let audit_after: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_log")
        .fetch_one(&t.db)
        .await
        .expect("audit count");
    assert_eq!(
        audit_before, audit_after,
        "nothing was done, nothing audited"
    );
}

/// Administration through the browser is audited as the browser door: the coordinator's M-ID,
/// door `web`, the client's address and the request's id (its `X-Request-Id`).
#[tokio::test]
async fn administration_through_the_browser_is_audited_as_web_with_its_request() {
    let t = TestApp::start().await;
    // Three wrong passwords lock the user; its coordinator unlocks it from the page.
    for _ in 0..3 {
        assert_as_wrong_password(
            &t.send((SITE_USER.0, "Wrong-Pass-1"), MAPLE, None, b"x")
                .await,
        );
    }
    let cookie = session_cookie(&t, COORDINATOR).await;
    let (_, _, page) = request(&t, "GET", "/coordinator", &cookie, "", Vec::new()).await;
    let token = csrf_of(&page);
    let (status, _, _) = request(
        &t,
        "POST",
        "/coordinator/unlock",
        &cookie,
        "application/x-www-form-urlencoded",
        format!("csrf={token}&mid={}", SITE_USER.0).into_bytes(),
    )
    .await;
    assert_eq!(status, 303, "unlocked");
    let (actor, door, client, request_id): (String, String, Option<String>, Option<String>) =
        sqlx::query_as(
            "SELECT actor, door, client_addr, request_id FROM audit_log
              WHERE action = 'SetStatus' ORDER BY seq DESC LIMIT 1",
        )
        .fetch_one(&t.db)
        .await
        .expect("the unlock's audit record");
    assert_eq!((actor.as_str(), door.as_str()), (COORDINATOR.0, "web"));
    assert_eq!(client.as_deref(), Some("127.0.0.1"));
    assert!(
        request_id.is_some_and(|id| id.contains('-')),
        "with its request id"
    );
    assert_eq!(
        account_status(t.admin.store(), SITE_USER.0).await,
        imax_gateway::directory::AccountStatus::Active
    );
    // The operator's command-line service narrows to an M-ID; a narrowed one cannot narrow on.
    let coordinator = t
        .admin
        .acting_as(COORDINATOR.0)
        .await
        .expect("as a coordinator");
    assert!(coordinator.acting_as("M90001").await.is_err());
}

/// Rule numbers belong in the code and docs, not on the pages people read; the User Last
/// Login Report says what its days count.
#[tokio::test]
async fn pages_carry_no_rule_numbers_and_the_report_explains_its_days() {
    let t = TestApp::start().await;
    let coordinator = session_cookie(&t, COORDINATOR).await;
    let user = session_cookie(&t, SITE_USER).await;
    let pages = [
        ("", "/signin"),
        ("", "/help/forgot-password"),
        ("", "/help/need-id"),
        (coordinator.as_str(), "/home"),
        (coordinator.as_str(), "/coordinator"),
        (coordinator.as_str(), "/coordinator/users/M10002"),
        (coordinator.as_str(), "/password"),
        (user.as_str(), "/rules"),
        (user.as_str(), "/mailbox"),
    ];
    for (cookie, path) in pages {
        let (status, _, page) = request(&t, "GET", path, cookie, "", Vec::new()).await;
        assert!(status < 400, "{path}: {status}");
        let numbered = page
            .match_indices("(R")
            .any(|(i, _)| page[i + 2..].starts_with(|c: char| c.is_ascii_digit()));
        assert!(!numbered, "{path} shows a rule number: {page}");
    }
    let (_, _, report) = request(&t, "GET", "/coordinator", &coordinator, "", Vec::new()).await;
    assert!(
        report.contains("count down 90 days from the user's last use"),
        "{report}"
    );
}

/// The person page's forms, each read into its typed form and acted on: flag a right, remove
/// and give the iMAX role back, change the property assignments (check boxes), set a temporary
/// password, lock and unlock; a value outside a form's choices is refused, nothing done.
#[tokio::test]
async fn the_person_pages_typed_forms_do_what_they_say() {
    use imax_gateway::directory::{AccountStatus, LockReason, MId};
    let t = TestApp::start().await;
    let cookie = session_cookie(&t, COORDINATOR).await;
    let base = format!("/coordinator/users/{}", SITE_USER.0);
    let (_, _, page) = request(&t, "GET", &base, &cookie, "", Vec::new()).await;
    let token = csrf_of(&page);
    let app = &t;
    let post = |path: &str, form: String| {
        let (path, cookie) = (format!("{base}{path}"), cookie.clone());
        let body = format!("csrf={token}&{form}").into_bytes();
        async move {
            let form = "application/x-www-form-urlencoded";
            request(app, "POST", &path, &cookie, form, body).await.0
        }
    };
    let account = || async {
        let mid = MId::parse(SITE_USER.0).expect("mid");
        t.admin
            .store()
            .accounts()
            .load(&mid)
            .await
            .expect("load")
            .expect("exists")
    };
    assert_eq!(post("/flag", "right=imax&flag=yes".into()).await, 303);
    assert!(!account().await.flagged.is_empty(), "flagged");
    assert_eq!(post("/flag", "right=imax&flag=no".into()).await, 303);
    assert!(account().await.flagged.is_empty(), "kept");
    assert_eq!(post("/right", "right=imax&change=revoke".into()).await, 303);
    assert!(!account().await.rights.imax, "removed");
    assert_eq!(post("/right", "right=imax&change=grant".into()).await, 303);
    assert!(account().await.rights.imax, "given back");
    // Both of the coordinator's properties ticked (a repeated field), then only one.
    let both = "property=800100001&property=800100003".to_string();
    assert_eq!(post("/properties", both).await, 303);
    let (_, _, page) = request(&t, "GET", &base, &cookie, "", Vec::new()).await;
    assert_eq!(page.matches(" checked>").count(), 2, "both assigned");
    assert_eq!(post("/properties", "property=800100001".into()).await, 303);
    let (_, _, page) = request(&t, "GET", &base, &cookie, "", Vec::new()).await;
    assert_eq!(page.matches(" checked>").count(), 1, "one left");
    let before = account().await.password_hash;
    assert_eq!(
        post("/password", "password=Temporary-Pass-42".into()).await,
        303
    );
    assert_ne!(
        account().await.password_hash,
        before,
        "a new temporary password"
    );
    assert_eq!(post("/status", "to=locked".into()).await, 303);
    assert_eq!(
        account().await.status,
        AccountStatus::Locked(LockReason::Administrative)
    );
    assert_eq!(post("/status", "to=active".into()).await, 303);
    assert_eq!(account().await.status, AccountStatus::Active);
    // Not one of the form's choices: refused as unreadable, nothing changed.
    assert_eq!(post("/status", "to=deleted".into()).await, 400);
    assert_eq!(post("/right", "right=imax&change=steal".into()).await, 400);
    assert_eq!(account().await.status, AccountStatus::Active);
    assert!(account().await.rights.imax);
}

/// Opens `mailbox` in the browser session `cookie`.
pub(crate) async fn open_mailbox(t: &TestApp, cookie: &str, mailbox: (&str, &str)) {
    let (_, _, home) = request(t, "GET", "/home", cookie, "", Vec::new()).await;
    let form = format!(
        "csrf={}&imax_id={}&mailbox_password={}",
        csrf_of(&home),
        mailbox.0,
        mailbox.1
    );
    let urlencoded = "application/x-www-form-urlencoded";
    let (status, _, page) = request(
        t,
        "POST",
        "/mailbox/open",
        cookie,
        urlencoded,
        form.into_bytes(),
    )
    .await;
    assert_eq!(status, 303, "opened: {page}");
}

/// R23's self-service: whoever has a mailbox open changes its TRACSMail password, knowing the
/// current one and keeping to the password rules; every other session on it ends (here another
/// browser's), vendor software needs the new one, this session goes on, and the password is
/// never recorded.
#[tokio::test]
async fn a_mailbox_holder_changes_its_password_and_other_sessions_end() {
    let t = TestApp::start().await;
    let (mine, other) = (
        session_cookie(&t, SITE_USER).await,
        session_cookie(&t, SITE_USER).await,
    );
    open_mailbox(&t, &mine, MAPLE).await;
    open_mailbox(&t, &other, MAPLE).await;
    let (status, _, page) = request(&t, "GET", "/mailbox/password", &mine, "", Vec::new()).await;
    assert_eq!(status, 200, "{page}");
    let token = csrf_of(&page);
    let change = |current: &str, new: &str, confirm: &str| {
        let body = format!("csrf={token}&current={current}&new_password={new}&confirm={confirm}");
        let mine = mine.clone();
        let app = &t;
        async move {
            let form = "application/x-www-form-urlencoded";
            let (status, _, page) = request(
                app,
                "POST",
                "/mailbox/password",
                &mine,
                form,
                body.into_bytes(),
            )
            .await;
            (status, page)
        }
    };
    let fresh = "Maple-Mailbox-2027-New";
    let (status, page) = change("Not-The-Password-1", fresh, fresh).await;
    assert_eq!(status, 400);
    assert!(page.contains("current-error"), "{page}");
    let (status, page) = change(MAPLE.1, "short", "short").await;
    assert_eq!(status, 400);
    assert!(page.contains("new-error"), "{page}");
    let (status, page) = change(MAPLE.1, fresh, "Something-Else-99").await;
    assert_eq!(status, 400);
    assert!(page.contains("confirm-error"), "{page}");
    let (status, _) = change(MAPLE.1, fresh, fresh).await;
    assert_eq!(status, 303);

    // This session goes on; the other browser's must open the mailbox again.
    let (status, _, _) = request(&t, "GET", "/mailbox", &mine, "", Vec::new()).await;
    assert_eq!(status, 200);
    let (status, _, page) = request(&t, "GET", "/mailbox", &other, "", Vec::new()).await;
    assert!(status >= 400, "{status}: {page}");
    assert!(page.contains("open it again"), "{page}");
    // Vendor software: the old password no longer opens it, the new one does.
    assert_fault(
        &t.send(SITE_USER, MAPLE, None, b"old").await,
        "MailboxAuthenticationFailed",
    );
    assert_ok(&t.send(SITE_USER, (MAPLE.0, fresh), None, b"new").await);
    let (records, leaks): (i64, i64) = sqlx::query_as(
        "SELECT
            (SELECT COUNT(*) FROM audit_log WHERE action = 'ChangeMailboxPassword' AND outcome = 'ok'),
            (SELECT COUNT(*) FROM audit_log WHERE detail LIKE '%' || $1 || '%')",
    )
    .bind(fresh)
    .fetch_one(&t.db)
    .await
    .expect("audit");
    assert_eq!((records, leaks), (1, 0));
}
