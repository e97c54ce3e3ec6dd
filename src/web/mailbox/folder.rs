//! The mailbox's menu and its folders (Sent to TRACS, Received from TRACS, Sent to Others,
//! Received from Others), with their rows.

use super::*;
use crate::directory::MessageId;

/// A message as a row of a page.
pub(super) struct Row {
    pub(super) message_id: MessageId,
    pub(super) file_name: String,
    pub(super) from: String,
    pub(super) to: String,
    pub(super) when: String,
    pub(super) size: String,
    pub(super) sha256: String,
    pub(super) state: String,
    pub(super) unread: bool,
    /// The message it answers.
    pub(super) in_reply_to: Option<MessageId>,
    /// For a file this mailbox sent (not itself a reply): answered, awaited or overdue.
    pub(super) answer: String,
    /// Sent longer ago than `tracs.answer_expected_hours` and still unanswered.
    pub(super) overdue: bool,
}

/// A message as a row; `overdue_before` says when an unanswered sent file is overdue.
pub(super) fn row(m: &MessageInfo, me: i64, overdue_before: Option<time::OffsetDateTime>) -> Row {
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
pub(super) struct MailboxPage {
    chrome: Chrome,
    imax_id: String,
    name: String,
    unread_tracs: i64,
    unread_others: i64,
    broadcasts: Vec<Row>,
}

pub(super) async fn mailbox_home(State(web): State<Web>, Signed(s): Signed) -> Page {
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
pub(super) struct FolderPage {
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
pub(super) struct FolderQuery {
    order: Option<String>,
    after: Option<String>,
}

pub(super) fn folder_title(f: Folder) -> (&'static str, &'static str) {
    match f {
        Folder::SentToTracs => ("Sent to TRACS", "Nothing has been sent to TRACS."),
        Folder::ReceivedFromTracs => ("Received from TRACS", "Nothing has come from TRACS."),
        Folder::SentToOthers => ("Sent to Others", "Nothing has been sent to others."),
        Folder::ReceivedFromOthers => ("Received from Others", "Nothing has come from others."),
        Folder::Broadcasts => ("Broadcasts", "There are no broadcasts."),
    }
}

pub(super) async fn folder(
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
