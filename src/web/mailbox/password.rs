//! A mailbox holder changes its TRACSMail password (R23's self-service).

use super::*;

#[derive(Template)]
#[template(path = "mailbox_password.html")]
pub(super) struct MailboxPasswordPage {
    chrome: Chrome,
    imax_id: String,
    rules: String,
    errors: FieldErrors,
}

#[derive(Deserialize)]
pub(super) struct ChangedQuery {
    changed: Option<String>,
}

/// The mailbox password page; with field errors it is the form sent back (status 400).
pub(super) async fn mailbox_password_page(
    web: &Web,
    s: &Session,
    errors: FieldErrors,
    notice: Option<String>,
) -> Page {
    let m = web.mailbox(s, Operation::OpenImax).await?;
    let mut chrome = web
        .mailbox_chrome(s, &m, "Change the mailbox's password")
        .await;
    chrome.notice = notice;
    let rules = crate::directory::password::PasswordRules::for_mailboxes(&web.gw.config().accounts);
    let refused = !errors.0.is_empty();
    let mut page = render(&MailboxPasswordPage {
        chrome,
        imax_id: m.mailbox().imax_id.to_string(),
        rules: rules.describe(),
        errors,
    });
    if refused {
        *page.status_mut() = StatusCode::BAD_REQUEST;
        return Err(page);
    }
    Ok(page)
}

pub(super) async fn mailbox_password_form(
    State(web): State<Web>,
    Signed(s): Signed,
    Query(q): Query<ChangedQuery>,
) -> Page {
    let notice = q.changed.map(|_| {
        "The mailbox's password was changed; every other session on it has ended.".to_string()
    });
    mailbox_password_page(&web, &s, FieldErrors::default(), notice).await
}

#[derive(Deserialize)]
pub(super) struct MailboxPasswordForm {
    current: Secret,
    new_password: Secret,
    confirm: Secret,
}

/// R23's self-service: whoever has the mailbox open changes its TRACSMail password, knowing the
/// current one; this session goes on with the new one, every other ends.
pub(super) async fn change_mailbox_password(
    State(web): State<Web>,
    Checked(s, f): Checked<MailboxPasswordForm>,
) -> Page {
    let m = web.mailbox(&s, Operation::OpenImax).await?;
    if f.new_password != f.confirm {
        let differ = FieldErrors::one("confirm", "The two new passwords differ.");
        return mailbox_password_page(&web, &s, differ, None).await;
    }
    let auth = web.authorize(&s, Operation::OpenImax).await?;
    let imax_id = m.mailbox().imax_id.clone();
    let changed = web
        .gw
        .change_mailbox_password(auth, &imax_id, &f.current, f.new_password)
        .await;
    let epoch = match changed {
        Ok(epoch) => epoch,
        Err(r) if r.code == Code::MailboxAuthenticationFailed => {
            let wrong = FieldErrors::one("current", r.message());
            return mailbox_password_page(&web, &s, wrong, None).await;
        }
        Err(r) if r.code == Code::PasswordRejected => {
            let weak = FieldErrors::one("new_password", r.message());
            return mailbox_password_page(&web, &s, weak, None).await;
        }
        Err(r) => return Err(web.resolve(&s, &r).await),
    };
    web.gw
        .store()
        .sessions()
        .set_mailbox(&s.row.id_hash, Some((m.mailbox().id, epoch)))
        .await
        .or_page(&web, &s)?;
    Ok(see_other("/mailbox/password?changed"))
}
