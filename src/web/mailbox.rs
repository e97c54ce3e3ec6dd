//! The mailbox pages (R10, R12): open a mailbox with its TRACSMail ID and password, the iMAX
//! menus (Broadcasts; Transmissions: Upload, Sent to TRACS, Received from TRACS, Sent to
//! Others, Received from Others), a message page, downloads and uploads.

use super::account::home_page;
use super::{
    check_csrf, render, see_other, size, when, Button, Checked, Chrome, FieldErrors, OrPage, Page,
    Session, Signed, Web,
};
use crate::access::Operation;
use crate::config::Config;
use crate::directory::password::Secret;
use crate::error::{Code, Refusal};
use crate::gateway::{Credentials, MailboxSession, SendRequest};
use crate::mailbox::{Folder, ListQuery, MessageInfo, Order, PageToken};
use askama::Template;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Multipart, Path, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use base64::Engine;
use serde::Deserialize;

pub fn routes(config: &Config) -> Router<Web> {
    // Uploads are streamed into the body store file by file, each bounded by the file limit;
    // the request as a whole is bounded by the number of files allowed.
    let upload_limit = (config.limits.max_file_bytes as usize)
        .saturating_mul(config.web.max_files_per_upload)
        .saturating_add(1 << 20);
    Router::new()
        .route("/mailbox", get(mailbox_home))
        .route("/mailbox/open", post(open))
        .route("/mailbox/close", post(close))
        .route(
            "/mailbox/password",
            get(mailbox_password_form).post(change_mailbox_password),
        )
        .route("/mailbox/profile", get(profile_form).post(save_profile))
        .route("/mailbox/folder/{folder}", get(folder))
        .route("/mailbox/message/{id}", get(message))
        .route("/mailbox/message/{id}/download", get(download))
        .route("/mailbox/message/{id}/ack", post(ack))
        .route(
            "/mailbox/upload",
            get(upload_form)
                .post(upload)
                .layer(DefaultBodyLimit::max(upload_limit)),
        )
}

impl Web {
    /// The mailbox this session opened, for `op`: the person decided on afresh, then the
    /// mailbox checked unchanged since it was opened. Without an open mailbox, back to the
    /// iMAX home page to open one.
    async fn mailbox(&self, s: &Session, op: Operation) -> Result<MailboxSession, Response> {
        let auth = self.authorize(s, op).await?;
        let Some((id, epoch)) = s.row.mailbox else {
            return Err(see_other("/home"));
        };
        match self.gw.resume_mailbox(auth, id, epoch).await {
            Ok(m) => Ok(m),
            Err(r) => {
                let _ = self
                    .gw
                    .store()
                    .sessions()
                    .set_mailbox(&s.row.id_hash, None)
                    .await;
                Err(self.refusal_page(Some(s), &r))
            }
        }
    }

    async fn mailbox_chrome(&self, s: &Session, m: &MailboxSession, title: &str) -> Chrome {
        let mut c = self.chrome(s, m.authorized(), title).await;
        c.mailbox = Some(m.mailbox().imax_id.to_string());
        c
    }
}

#[derive(Deserialize)]
struct OpenForm {
    imax_id: String,
    mailbox_password: String,
}

/// R10: the TRACSMail ID and its own password (not the M-ID's); R11: any M-ID with the iMAX
/// role may act for a mailbox whose password it knows.
async fn open(State(web): State<Web>, Checked(s, f): Checked<OpenForm>) -> Page {
    let auth = web.authorize(&s, Operation::OpenImax).await?;
    let creds = Credentials {
        principal: f.imax_id.trim().to_uppercase(),
        password: Secret::new(f.mailbox_password),
    };
    let m = match web.gw.open_mailbox(auth, &creds).await {
        Ok(m) => m,
        // The iMAX home again, the password field marked.
        Err(r) if r.code == Code::MailboxAuthenticationFailed => {
            let marked = FieldErrors::one("mailbox_password", r.message());
            return home_page(&web, &s, &creds.principal, marked).await;
        }
        Err(r) => return Err(web.resolve(&s, &r).await),
    };
    let mb = m.mailbox();
    web.gw
        .store()
        .sessions()
        .set_mailbox(&s.row.id_hash, Some((mb.id, mb.auth_epoch)))
        .await
        .or_page(&web, &s)?;
    Ok(see_other("/mailbox"))
}

async fn close(State(web): State<Web>, Checked(s, Button {}): Checked<Button>) -> Page {
    web.gw
        .store()
        .sessions()
        .set_mailbox(&s.row.id_hash, None)
        .await
        .or_page(&web, &s)?;
    Ok(see_other("/home"))
}

#[derive(Template)]
#[template(path = "mailbox_password.html")]
struct MailboxPasswordPage {
    chrome: Chrome,
    imax_id: String,
    rules: String,
    errors: FieldErrors,
}

#[derive(Deserialize)]
struct ChangedQuery {
    changed: Option<String>,
}

/// The mailbox password page; with field errors it is the form sent back (status 400).
async fn mailbox_password_page(
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

async fn mailbox_password_form(
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
struct MailboxPasswordForm {
    current: Secret,
    new_password: Secret,
    confirm: Secret,
}

/// R23's self-service: whoever has the mailbox open changes its TRACSMail password, knowing the
/// current one; this session goes on with the new one, every other ends.
async fn change_mailbox_password(
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

/// One input of the profile form.
struct ProfileField {
    name: &'static str,
    label: &'static str,
    value: String,
    required: bool,
}

#[derive(Template)]
#[template(path = "profile.html")]
struct ProfilePage {
    chrome: Chrome,
    imax_id: String,
    primary: Vec<ProfileField>,
    secondary: Vec<ProfileField>,
    has_pin: bool,
}

/// The profile as submitted (R23): every field, PINs in clear (hashed by the core).
#[derive(Deserialize, Default)]
#[serde(default)]
struct ProfileForm {
    contact_first: String,
    contact_last: String,
    description: String,
    title: String,
    organization: String,
    firm_name: String,
    street1: String,
    street2: String,
    city: String,
    state: String,
    postal_code: String,
    country: String,
    phone: String,
    fax: String,
    email: String,
    secondary_first: String,
    secondary_last: String,
    secondary_email: String,
}

/// The PINs of the form and the mailbox's password, read apart so that they never sit in the
/// form's refill.
#[derive(Deserialize, Default)]
#[serde(default)]
struct PinFields {
    pin: String,
    secondary_pin: String,
    /// Needed to change an email address or a PIN (R23; checked by the core).
    mailbox_password: String,
}

/// The profile form as posted: the fields and, apart, the PINs.
#[derive(Deserialize)]
struct ProfileSubmission {
    #[serde(flatten)]
    form: ProfileForm,
    #[serde(flatten)]
    pins: PinFields,
}

impl ProfileForm {
    fn from_profile(p: &crate::store::profiles::Profile) -> ProfileForm {
        ProfileForm {
            contact_first: p.contact_first.clone(),
            contact_last: p.contact_last.clone(),
            description: p.description.clone(),
            title: p.title.clone(),
            organization: p.organization.clone(),
            firm_name: p.firm_name.clone(),
            street1: p.street1.clone(),
            street2: p.street2.clone(),
            city: p.city.clone(),
            state: p.state.clone(),
            postal_code: p.postal_code.clone(),
            country: p.country.clone(),
            phone: p.phone.clone(),
            fax: p.fax.clone(),
            email: p.email.clone(),
            secondary_first: p.secondary_first.clone(),
            secondary_last: p.secondary_last.clone(),
            secondary_email: p.secondary_email.clone(),
        }
    }

    fn profile(&self) -> crate::store::profiles::Profile {
        let t = |s: &String| s.trim().to_string();
        crate::store::profiles::Profile {
            contact_first: t(&self.contact_first),
            contact_last: t(&self.contact_last),
            description: t(&self.description),
            title: t(&self.title),
            organization: t(&self.organization),
            firm_name: t(&self.firm_name),
            street1: t(&self.street1),
            street2: t(&self.street2),
            city: t(&self.city),
            state: t(&self.state),
            postal_code: t(&self.postal_code),
            country: t(&self.country),
            phone: t(&self.phone),
            fax: t(&self.fax),
            email: t(&self.email),
            secondary_first: t(&self.secondary_first),
            secondary_last: t(&self.secondary_last),
            secondary_email: t(&self.secondary_email),
            ..Default::default()
        }
    }

    fn fields(&self) -> (Vec<ProfileField>, Vec<ProfileField>) {
        let f = |name, label, value: &String, required| ProfileField {
            name,
            label,
            value: value.clone(),
            required,
        };
        let primary = vec![
            f("contact_first", "First name", &self.contact_first, true),
            f("contact_last", "Last name", &self.contact_last, true),
            f(
                "description",
                "Description (owner, management agent, TCA, PBCA, service bureau, …)",
                &self.description,
                false,
            ),
            f("title", "Title", &self.title, true),
            f("organization", "Organization", &self.organization, true),
            f("firm_name", "Firm name", &self.firm_name, true),
            f("street1", "Street address 1", &self.street1, true),
            f("street2", "Street address 2", &self.street2, false),
            f("city", "City", &self.city, true),
            f(
                "state",
                "U.S. state or territory (two letters)",
                &self.state,
                false,
            ),
            f(
                "postal_code",
                "U.S. ZIP code or foreign postal code",
                &self.postal_code,
                false,
            ),
            f("country", "Country", &self.country, true),
            f("phone", "Telephone number", &self.phone, false),
            f("fax", "FAX number", &self.fax, false),
            f("email", "Email address", &self.email, true),
        ];
        let secondary = vec![
            f(
                "secondary_first",
                "First name",
                &self.secondary_first,
                false,
            ),
            f("secondary_last", "Last name", &self.secondary_last, false),
            f(
                "secondary_email",
                "Email address",
                &self.secondary_email,
                false,
            ),
        ];
        (primary, secondary)
    }
}

/// The profile page; with `error` it is the form sent back as it was filled, with the
/// refusal's status (400 for what was entered).
async fn profile_page(
    web: &Web,
    s: &Session,
    m: &MailboxSession,
    form: &ProfileForm,
    has_pin: bool,
    notice: Option<String>,
    error: Option<&Refusal>,
) -> Page {
    let mut chrome = web.mailbox_chrome(s, m, "Mailbox profile").await;
    chrome.notice = notice;
    let refused = error.map(|r| super::status_of(r.code));
    chrome.error = error.map(Refusal::message);
    let (primary, secondary) = form.fields();
    let mut page = render(&ProfilePage {
        chrome,
        imax_id: m.mailbox().imax_id.to_string(),
        primary,
        secondary,
        has_pin,
    });
    if let Some(status) = refused {
        *page.status_mut() = status;
        return Err(page);
    }
    Ok(page)
}

#[derive(Deserialize)]
struct SavedQuery {
    saved: Option<String>,
}

async fn profile_form(
    State(web): State<Web>,
    Signed(s): Signed,
    Query(q): Query<SavedQuery>,
) -> Page {
    let m = web.mailbox(&s, Operation::OpenImax).await?;
    let on_file = web.settled(&s, web.gw.mailbox_profile(&m).await).await?;
    let form = match &on_file {
        Some(p) => ProfileForm::from_profile(p),
        None => ProfileForm {
            country: "US".into(),
            ..ProfileForm::default()
        },
    };
    let notice = q.saved.map(|_| "The profile was saved.".to_string());
    profile_page(&web, &s, &m, &form, on_file.is_some(), notice, None).await
}

/// R23: whoever has the mailbox open keeps its profile current; an email address or a PIN
/// only with the mailbox's password again (the core checks, counts and mails the notice).
async fn save_profile(
    State(web): State<Web>,
    Checked(s, ProfileSubmission { form, pins }): Checked<ProfileSubmission>,
) -> Page {
    let m = web.mailbox(&s, Operation::OpenImax).await?;
    let secret = |p: String| (!p.is_empty()).then(|| Secret::new(p));
    let edit = crate::gateway::profile::ProfileEdit {
        profile: form.profile(),
        pin: secret(pins.pin),
        secondary_pin: secret(pins.secondary_pin),
        mailbox_password: secret(pins.mailbox_password),
    };
    match web.gw.change_mailbox_profile(&m, edit).await {
        Ok(()) => Ok(see_other("/mailbox/profile?saved")),
        // The form again, as filled (never a PIN or the password), with the refusal above it.
        Err(r)
            if matches!(
                r.code,
                Code::InvalidInput | Code::MailboxAuthenticationFailed | Code::MailUnavailable
            ) =>
        {
            let has_pin = web.gw.mailbox_profile(&m).await.ok().flatten().is_some();
            profile_page(&web, &s, &m, &form, has_pin, None, Some(&r)).await
        }
        Err(r) => Err(web.resolve(&s, &r).await),
    }
}

/// A message as a row of a page.
struct Row {
    message_id: String,
    file_name: String,
    from: String,
    to: String,
    when: String,
    size: String,
    sha256: String,
    state: String,
    unread: bool,
    /// The message it answers.
    in_reply_to: Option<String>,
    /// For a file this mailbox sent (not itself a reply): answered, awaited or overdue.
    answer: String,
    /// Sent longer ago than `tracs.answer_expected_hours` and still unanswered.
    overdue: bool,
}

/// A message as a row; `overdue_before` says when an unanswered sent file is overdue.
fn row(m: &MessageInfo, me: i64, overdue_before: Option<time::OffsetDateTime>) -> Row {
    let inbound = m.to_mailbox_id == me && m.body_key.is_some();
    let state = match (m.body_key.is_some(), inbound, m.retrieved_at, m.acked_at) {
        (false, _, _, _) => "Broadcast".to_string(),
        (true, true, _, Some(t)) => format!("Acknowledged {}", when(t)),
        (true, true, Some(t), None) => format!("Retrieved {}", when(t)),
        (true, true, None, None) => "New".to_string(),
        (true, false, Some(t), _) => format!("Retrieved by the recipient {}", when(t)),
        (true, false, None, _) => "Not yet retrieved by the recipient".to_string(),
    };
    let sent = m.body_key.is_some() && m.to_mailbox_id != me && m.in_reply_to.is_none();
    let overdue =
        sent && m.answered_at.is_none() && overdue_before.is_some_and(|t| m.received_at < t);
    let answer = match (sent, m.answered_at) {
        (false, _) => String::new(),
        (true, Some(t)) => format!("Answered {}", when(t)),
        (true, None) if overdue => "No answer yet".to_string(),
        (true, None) => "Awaiting an answer".to_string(),
    };
    Row {
        message_id: m.message_id.clone(),
        file_name: m.file_name.clone(),
        from: m.from_mailbox.clone(),
        to: m.to_mailbox.clone(),
        when: when(m.received_at),
        size: size(m.size_bytes),
        sha256: m.sha256.clone(),
        state,
        unread: inbound && m.retrieved_at.is_none(),
        in_reply_to: m.in_reply_to.clone(),
        answer,
        overdue,
    }
}

#[derive(Template)]
#[template(path = "mailbox.html")]
struct MailboxPage {
    chrome: Chrome,
    imax_id: String,
    name: String,
    unread_tracs: i64,
    unread_others: i64,
    broadcasts: Vec<Row>,
}

async fn mailbox_home(State(web): State<Web>, Signed(s): Signed) -> Page {
    let m = web.mailbox(&s, Operation::ListMessages).await?;
    let q = ListQuery {
        folder: Folder::Broadcasts,
        since: None,
        until: None,
        include_acknowledged: true,
        after: None,
        page_size: 5,
        order: Order::NewestFirst,
    };
    let page = web.settled(&s, web.gw.list_messages(&m, &q).await).await?;
    let counts = web.settled(&s, web.gw.unread_counts(&m).await).await?;
    let mb = m.mailbox();
    let chrome = web.mailbox_chrome(&s, &m, "Mailbox").await;
    Ok(render(&MailboxPage {
        chrome,
        imax_id: mb.imax_id.to_string(),
        name: mb.name.clone(),
        unread_tracs: counts.0,
        unread_others: counts.1,
        broadcasts: page.entries.iter().map(|e| row(e, mb.id, None)).collect(),
    }))
}

#[derive(Template)]
#[template(path = "folder.html")]
struct FolderPage {
    chrome: Chrome,
    folder: String,
    order: String,
    orders: Vec<(String, String, bool)>,
    rows: Vec<Row>,
    empty_text: String,
    empty_status: u16,
    next: Option<String>,
    paged: bool,
    /// A sent folder: its rows say whether each file has been answered.
    sent: bool,
    answer_hours: i64,
}

#[derive(Deserialize)]
struct FolderQuery {
    order: Option<String>,
    after: Option<String>,
}

fn folder_title(f: Folder) -> (&'static str, &'static str) {
    match f {
        Folder::SentToTracs => ("Sent to TRACS", "Nothing has been sent to TRACS."),
        Folder::ReceivedFromTracs => ("Received from TRACS", "Nothing has come from TRACS."),
        Folder::SentToOthers => ("Sent to Others", "Nothing has been sent to others."),
        Folder::ReceivedFromOthers => ("Received from Others", "Nothing has come from others."),
        Folder::Broadcasts => ("Broadcasts", "There are no broadcasts."),
    }
}

async fn folder(
    State(web): State<Web>,
    Signed(s): Signed,
    Path(name): Path<String>,
    Query(fq): Query<FolderQuery>,
) -> Page {
    let folder = Folder::parse(&name)
        .ok_or_else(|| Refusal::because(Code::MalformedRequest, "There is no such folder"))
        .or_page(&web, &s)?;
    let m = web.mailbox(&s, Operation::ListMessages).await?;
    // Received folders show what is new first; the others the newest first.
    let default = if folder.is_inbound() && folder != Folder::Broadcasts {
        Order::UnreadFirst
    } else {
        Order::NewestFirst
    };
    let order = fq
        .order
        .as_deref()
        .and_then(Order::parse)
        .unwrap_or(default);
    let after = fq.after.as_deref().and_then(PageToken::decode);
    let q = ListQuery {
        folder,
        since: None,
        until: None,
        include_acknowledged: true,
        after,
        page_size: 25,
        order,
    };
    let page = web.settled(&s, web.gw.list_messages(&m, &q).await).await?;
    let (title, empty) = folder_title(folder);
    let mut choices = vec![
        (Order::NewestFirst, "Newest first"),
        (Order::OldestFirst, "Oldest first"),
    ];
    if folder.is_inbound() && folder != Folder::Broadcasts {
        choices.insert(0, (Order::UnreadFirst, "New first"));
    }
    let chrome = web.mailbox_chrome(&s, &m, title).await;
    let me = m.mailbox().id;
    let overdue_before = web.gw.answer_overdue_before();
    Ok(render(&FolderPage {
        chrome,
        folder: folder.as_str().into(),
        order: order.as_str().into(),
        orders: choices
            .into_iter()
            .map(|(o, label)| (o.as_str().to_string(), label.to_string(), o == order))
            .collect(),
        rows: page
            .entries
            .iter()
            .map(|e| row(e, me, overdue_before))
            .collect(),
        empty_text: empty.into(),
        empty_status: folder.empty_status(false),
        next: page.next.map(|t| t.encode()),
        paged: after.is_some(),
        sent: !folder.is_inbound(),
        answer_hours: web.gw.config().tracs.answer_expected_hours,
    }))
}

#[derive(Template)]
#[template(path = "message.html")]
struct MessagePage {
    chrome: Chrome,
    m: Row,
    broadcast_text: Option<Vec<String>>,
    can_ack: bool,
    /// Replies to this message, oldest first.
    replies: Vec<Row>,
    /// A received message (not a broadcast) may be answered from its page.
    can_reply: bool,
}

async fn message(State(web): State<Web>, Signed(s): Signed, Path(id): Path<String>) -> Page {
    let m = web.mailbox(&s, Operation::ListMessages).await?;
    let info = web.settled(&s, web.gw.message_info(&m, &id).await).await?;
    let broadcast_text = if info.body_key.is_none() {
        let messages = web.gw.store().messages();
        let text = messages
            .broadcast_body(info.row_id)
            .await
            .or_page(&web, &s)?;
        Some(
            text.map(|(_, text)| text.lines().map(str::to_string).collect())
                .unwrap_or_default(),
        )
    } else {
        None
    };
    let me = m.mailbox().id;
    let can_ack = info.body_key.is_some() && info.to_mailbox_id == me && info.acked_at.is_none();
    let replies = if info.body_key.is_some() {
        web.settled(&s, web.gw.replies(&m, &info.message_id).await)
            .await?
    } else {
        Vec::new()
    };
    let can_reply = info.body_key.is_some() && info.to_mailbox_id == me;
    let overdue_before = web.gw.answer_overdue_before();
    let chrome = web
        .mailbox_chrome(&s, &m, &format!("Message {}", info.message_id))
        .await;
    Ok(render(&MessagePage {
        chrome,
        m: row(&info, me, overdue_before),
        broadcast_text,
        can_ack,
        replies: replies.iter().map(|r| row(r, me, None)).collect(),
        can_reply,
    }))
}

/// A download: the body streamed from the store, with its SHA-256 in `Repr-Digest` (RFC 9530)
/// and `X-Content-SHA256`. The recipient's first download marks the message retrieved.
async fn download(State(web): State<Web>, Signed(s): Signed, Path(id): Path<String>) -> Page {
    let m = web.mailbox(&s, Operation::GetMessage).await?;
    let (info, body) = web.settled(&s, web.gw.get_message(&m, &id).await).await?;
    // Streamed and checked chunk by chunk; a body that does not match its row breaks off.
    let body = Body::from_stream(body);
    let mut r = Response::new(body);
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    if let Ok(v) = HeaderValue::from_str(&info.size_bytes.to_string()) {
        h.insert(header::CONTENT_LENGTH, v);
    }
    if let Ok(v) = HeaderValue::from_str(&content_disposition(&info.file_name)) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    if let Ok(raw) = hex::decode(&info.sha256) {
        let b64 = base64::engine::general_purpose::STANDARD.encode(raw);
        if let Ok(v) = HeaderValue::from_str(&format!("sha-256=:{b64}:")) {
            h.insert("repr-digest", v);
        }
    }
    if let Ok(v) = HeaderValue::from_str(&info.sha256) {
        h.insert("x-content-sha256", v);
    }
    if let Ok(v) = HeaderValue::from_str(&info.message_id) {
        h.insert("x-imax-message-id", v);
    }
    Ok(r)
}

/// `attachment` with an ASCII fallback name and the exact name in RFC 5987 form.
fn content_disposition(name: &str) -> String {
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut encoded = String::new();
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
            encoded.push(b as char);
        } else {
            encoded.push_str(&format!("%{b:02X}"));
        }
    }
    format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

async fn ack(
    State(web): State<Web>,
    Path(id): Path<String>,
    Checked(s, Button {}): Checked<Button>,
) -> Page {
    let m = web.mailbox(&s, Operation::AckMessage).await?;
    let info = web.settled(&s, web.gw.ack_message(&m, &id).await).await?;
    Ok(see_other(&format!("/mailbox/message/{}", info.message_id)))
}

#[derive(Template)]
#[template(path = "upload.html")]
struct UploadPage {
    chrome: Chrome,
    /// (value, label, selected)
    recipients: Vec<(String, String, bool)>,
    max_files: usize,
    max_size: String,
}

async fn upload_form(State(web): State<Web>, Signed(s): Signed) -> Page {
    let m = web.mailbox(&s, Operation::SendFile).await?;
    let (book, preselect) = web.settled(&s, web.gw.address_book(&m).await).await?;
    let recipients = book
        .iter()
        .map(|mb| {
            let value = if mb.kind == crate::directory::MailboxKind::Hud {
                "TRACS".to_string()
            } else {
                mb.imax_id.to_string()
            };
            let label = if mb.kind == crate::directory::MailboxKind::Hud {
                format!("TRACS (HUD, {})", mb.imax_id)
            } else {
                format!("{} — {}", mb.imax_id, mb.name)
            };
            let selected = preselect.as_ref() == Some(&mb.imax_id);
            (value, label, selected)
        })
        .collect();
    let chrome = web.mailbox_chrome(&s, &m, "Upload").await;
    let cfg = web.gw.config();
    Ok(render(&UploadPage {
        chrome,
        recipients,
        max_files: cfg.web.max_files_per_upload,
        max_size: size(cfg.limits.max_file_bytes),
    }))
}

/// One line of the upload's results.
struct Outcome {
    ok: bool,
    file_name: String,
    outcome: String,
    message_id: String,
    to: String,
    size: String,
    sha256: String,
    problems: Vec<String>,
}

impl Outcome {
    fn refused(file_name: &str, r: &Refusal) -> Outcome {
        Outcome {
            ok: false,
            file_name: file_name.into(),
            outcome: format!("Refused: {} ({})", r.message(), r.code.as_str()),
            problems: r.items.clone(),
            message_id: String::new(),
            to: String::new(),
            size: String::new(),
            sha256: String::new(),
        }
    }
}

#[derive(Template)]
#[template(path = "receipts.html")]
struct ReceiptsPage {
    chrome: Chrome,
    results: Vec<Outcome>,
}

/// Reads a small text field of a multipart form, refusing one longer than `max` bytes.
async fn small_field(
    field: &mut axum::extract::multipart::Field<'_>,
    max: usize,
) -> Result<String, Refusal> {
    let mut out = Vec::new();
    while let Some(chunk) = field
        .chunk()
        .await
        .map_err(|e| Refusal::with_detail(Code::MalformedRequest, e.body_text()))?
    {
        if out.len() + chunk.len() > max {
            return Err(Refusal::with_detail(
                Code::MalformedRequest,
                "A form field is too long.",
            ));
        }
        out.extend_from_slice(&chunk);
    }
    String::from_utf8(out)
        .map_err(|_| Refusal::with_detail(Code::MalformedRequest, "A form field is not UTF-8."))
}

/// The upload (R12): each file streamed into the body store as it arrives, then stored with
/// the same `send_file` as the system-to-system door. The form's CSRF token is its first
/// field and is checked before anything else (as `Checked` does for the other forms); the
/// recipient comes before the files (the page's field order), so nothing is stored before
/// both are checked.
async fn upload(State(web): State<Web>, Signed(s): Signed, mut form: Multipart) -> Page {
    let token = match form.next_field().await {
        Ok(Some(mut f)) if f.name() == Some("csrf") => small_field(&mut f, 256).await.ok(),
        _ => None,
    };
    check_csrf(&s, token.as_deref().unwrap_or(""))?;
    let m = web.mailbox(&s, Operation::SendFile).await?;
    let max_files = web.gw.config().web.max_files_per_upload;
    let (mut to, mut other) = (String::new(), String::new());
    let mut resend = false;
    let mut in_reply_to = String::new();
    let mut results: Vec<Outcome> = Vec::new();
    let mut files = 0usize;
    loop {
        let mut field = match form.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => {
                let r = Refusal::with_detail(Code::MalformedRequest, e.body_text());
                results.push(Outcome::refused("(the rest of the upload)", &r));
                break;
            }
        };
        let name = field.name().unwrap_or("").to_string();
        match name.as_str() {
            "to" | "other" | "resend" | "in_reply_to" => {
                let value = small_field(&mut field, 256).await.or_page(&web, &s)?;
                match name.as_str() {
                    "to" => to = value,
                    "resend" => resend = value == "yes",
                    "in_reply_to" => in_reply_to = value,
                    _ => other = value,
                }
            }
            "files" => {
                let file_name = field.file_name().unwrap_or("").to_string();
                if file_name.is_empty() {
                    continue; // the browser's empty part when no file was chosen
                }
                files += 1;
                if files > max_files {
                    let r = Refusal::with_detail(
                        Code::MalformedRequest,
                        format!("At most {max_files} files may be sent at once; this one was not."),
                    );
                    results.push(Outcome::refused(&file_name, &r));
                    continue;
                }
                let recipient = if other.trim().is_empty() {
                    to.clone()
                } else {
                    other.trim().to_uppercase()
                };
                let send = SendRequest {
                    to: (!recipient.trim().is_empty()).then_some(recipient.as_str()),
                    file_name: &file_name,
                    expected_sha256: None,
                    resend,
                    in_reply_to: (!in_reply_to.trim().is_empty()).then_some(in_reply_to.as_str()),
                };
                results.push(store_one(&web, &m, &mut field, send).await);
            }
            _ => {}
        }
    }
    if files == 0 && results.is_empty() {
        results.push(Outcome::refused("(no file)", &Code::MissingFile.into()));
    }
    let chrome = web.mailbox_chrome(&s, &m, "Upload receipt").await;
    let any_ok = results.iter().any(|r| r.ok);
    let mut resp = render(&ReceiptsPage { chrome, results });
    if !any_ok {
        *resp.status_mut() = StatusCode::BAD_REQUEST;
    }
    Ok(resp)
}

async fn store_one(
    web: &Web,
    m: &MailboxSession,
    field: &mut axum::extract::multipart::Field<'_>,
    req: SendRequest<'_>,
) -> Outcome {
    let file_name = req.file_name;
    let mut staged = match web.gw.stage_body() {
        Ok(b) => b,
        Err(r) => return Outcome::refused(file_name, &r),
    };
    loop {
        match field.chunk().await {
            Ok(Some(chunk)) => {
                if let Err(e) = staged.write(&chunk).await {
                    let r = Refusal::from(e);
                    let r = web.gw.abandon_send(m, r).await;
                    return Outcome::refused(file_name, &r);
                }
            }
            Ok(None) => break,
            Err(e) => {
                let r = Refusal::with_detail(Code::MalformedRequest, e.body_text());
                let r = web.gw.abandon_send(m, r).await;
                return Outcome::refused(file_name, &r);
            }
        }
    }
    match web.gw.send_file(m, req, staged).await {
        Ok(receipt) => Outcome {
            ok: true,
            file_name: file_name.into(),
            outcome: match receipt.routed_by {
                crate::mailbox::RoutedBy::Sender => {
                    "Stored; sent to the recipient you chose".to_string()
                }
                crate::mailbox::RoutedBy::Directory => {
                    "Stored; sent to the administrator of the property's contract".to_string()
                }
                crate::mailbox::RoutedBy::Header => {
                    "Stored; sent to the administrator of the contract of the project in the file's header".to_string()
                }
                crate::mailbox::RoutedBy::Reply => {
                    "Stored; sent back, as a reply, to the sender of the message it answers".to_string()
                }
            } + if receipt.misrouted {
                " (marked: the directory names another recipient for this project)"
            } else {
                ""
            } + &receipt
                .format_errors
                .as_ref()
                .map(|f| format!(
                    ". TRACS's format edits found {} problem{} in fields whose layout is not confirmed: the file was accepted, and their list waits in Received from TRACS ({})",
                    f.problems,
                    if f.problems == 1 { "" } else { "s" },
                    f.reply_id
                ))
                .unwrap_or_default(),
            message_id: receipt.message_id,
            to: receipt.to_mailbox,
            size: size(receipt.size_bytes),
            sha256: receipt.sha256,
            problems: Vec::new(),
        },
        Err(r) => Outcome::refused(file_name, &r),
    }
}
