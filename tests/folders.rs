//! Folders, paging and periods.

use crate::helpers::*;

#[tokio::test]
async fn folders_page_with_tokens_and_filter_by_period() {
    let t = TestApp::start_with(|c| c.limits.page_size = 2).await;
    let mut ids = Vec::new();
    for i in 0..5 {
        let r = t
            .send(SITE_USER, MAPLE, None, format!("file {i}").as_bytes())
            .await;
        ids.push(r.get("messageId").expect("id").to_string());
        t.clock.advance(time::Duration::hours(1));
    }
    let mut c = t.client(CA_USER).await;
    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut fields = vec![
            ("mailbox", PBCA.0),
            ("mailboxPassword", PBCA.1),
            ("folder", "receivedFromOthers"),
        ];
        if let Some(tk) = &token {
            fields.push(("pageToken", tk.as_str()));
        }
        let r = c.call("ListMessages", &fields).await.expect("reply");
        assert_ok(&r);
        assert!(r.all("messageId").len() <= 2);
        seen.extend(r.all("messageId").into_iter().map(String::from));
        match r.get("nextPageToken") {
            Some(tk) => token = Some(tk.to_string()),
            None => break,
        }
    }
    assert_eq!(seen, ids, "every message once, oldest first");

    // A period: the 2nd and 3rd files only.
    let start = t.clock.now_after(-5 * 3600 + 3600);
    let end = t.clock.now_after(-5 * 3600 + 3 * 3600);
    let r = c
        .call(
            "ListMessages",
            &[
                ("mailbox", PBCA.0),
                ("mailboxPassword", PBCA.1),
                ("folder", "receivedFromOthers"),
                ("since", &start),
                ("until", &end),
            ],
        )
        .await
        .expect("reply");
    assert_eq!(r.all("messageId"), vec![ids[1].as_str(), ids[2].as_str()]);
    let bad = c
        .call(
            "ListMessages",
            &[
                ("mailbox", PBCA.0),
                ("mailboxPassword", PBCA.1),
                ("folder", "receivedFromOthers"),
                ("pageToken", "zzz"),
            ],
        )
        .await
        .expect("reply");
    assert_fault(&bad, "MalformedRequest");
}

#[tokio::test]
async fn empty_folders_answer_the_imax_status_codes() {
    let t = TestApp::start().await;
    let mut c = t.client(SITE_USER).await;
    for (folder, status) in [
        ("sentToOthers", 600),
        ("receivedFromOthers", 601),
        ("receivedFromTracs", 603),
        ("broadcasts", 604),
        ("sentToTracs", 200),
    ] {
        let r = c
            .call(
                "ListMessages",
                &[
                    ("mailbox", MAPLE.0),
                    ("mailboxPassword", MAPLE.1),
                    ("folder", folder),
                ],
            )
            .await
            .expect("reply");
        assert_ok(&r);
        assert_eq!(r.status, status, "{folder}");
    }
    let period = c
        .call(
            "ListMessages",
            &[
                ("mailbox", MAPLE.0),
                ("mailboxPassword", MAPLE.1),
                ("folder", "receivedFromTracs"),
                ("since", "2026-01-01T00:00:00Z"),
            ],
        )
        .await
        .expect("reply");
    assert_eq!(
        period.status, 602,
        "no results from TRACS for the period asked"
    );
    let unknown = c
        .call(
            "ListMessages",
            &[
                ("mailbox", MAPLE.0),
                ("mailboxPassword", MAPLE.1),
                ("folder", "inbox"),
            ],
        )
        .await
        .expect("reply");
    assert_fault(&unknown, "MalformedRequest");
}

#[tokio::test]
async fn broadcasts_are_listed_and_fetched() {
    let t = TestApp::start().await;
    t.admin
        .post_broadcast(
            "TRACS maintenance",
            "TRACS will be down Saturday 8-10 PM ET.",
        )
        .await
        .expect("posted");
    let r = t.list(SITE_USER, MAPLE, "broadcasts").await;
    assert_ok(&r);
    assert_eq!(r.get("fileName"), Some("TRACS maintenance"));
    let id = r.get("messageId").expect("id");
    let got = t.get(SITE_USER, MAPLE, id).await;
    assert_eq!(
        got.content().expect("content"),
        b"TRACS will be down Saturday 8-10 PM ET."
    );
}
