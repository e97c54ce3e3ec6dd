//! A sent file's signed receipt, for download from the upload's results and the message's
//! page (issue 31: `imax receipt verify` checks it offline).

use super::message::content_disposition;
use super::*;

/// `GET /mailbox/message/{id}/receipt`: the receipt as a JSON file, `<file name>.receipt`,
/// for the mailbox that sent the message.
pub(super) async fn receipt(
    State(web): State<Web>,
    Signed(s): Signed,
    Path(id): Path<String>,
) -> Page {
    let m = web.mailbox(&s, Operation::GetMessage).await?;
    let signed = web
        .settled(&s, web.gw.signed_receipt(&m, &id).await)
        .await?;
    let name = format!("{}.receipt", signed.file_name);
    let mut r = Response::new(Body::from(signed.to_json()));
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Ok(v) = HeaderValue::from_str(&content_disposition(&name)) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(r)
}

/// `GET /mailbox/message/{id}/proof`: the receipt's inclusion proof, `<message id>.proof`, once
/// a checkpoint signed with the receipt key covers the message (`imax receipt verify
/// --proof`).
pub(super) async fn proof(
    State(web): State<Web>,
    Signed(s): Signed,
    Path(id): Path<String>,
) -> Page {
    let m = web.mailbox(&s, Operation::GetMessage).await?;
    let proof = web.settled(&s, web.gw.receipt_proof(&m, &id).await).await?;
    let json = serde_json::to_string_pretty(&proof).unwrap_or_default() + "\n";
    let mut r = Response::new(Body::from(json));
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    let name = format!("{id}.proof");
    if let Ok(v) = HeaderValue::from_str(&content_disposition(&name)) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(r)
}
