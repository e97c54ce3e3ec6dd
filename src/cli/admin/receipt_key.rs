//! `imax admin receipt-key [--rotate]`: the receipt public key as PEM on standard output
//! (`> receipt-key.pub`), after making a new one with `--rotate` (issue 31).

use imax_gateway::admin::Admin;

pub async fn receipt_key_command(admin: &Admin, rotate: bool) -> Result<(), String> {
    let key = if rotate {
        let key = admin.rotate_receipt_key().await.map_err(super::s)?;
        eprintln!(
            "rotated: receipts are now signed with key {}; the old keys stay published",
            key.public().id()
        );
        key
    } else {
        admin.receipt_keys().current().map_err(|e| e.to_string())?
    };
    print!("{}", key.public().to_pem());
    Ok(())
}
