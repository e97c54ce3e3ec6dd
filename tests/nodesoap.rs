//! A stock SOAP client that speaks MTOM, npm's `soap` (node-soap), loads the served WSDL,
//! sends a file as a binary MTOM attachment and reads GetMessage's MTOM answer (issue 13,
//! item 5). The README's test command installs Node.js and the package; without them this
//! test fails.

use crate::helpers::*;

#[tokio::test]
async fn node_soap_sends_and_fetches_a_file_as_mtom() {
    let t = TestApp::start().await;
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/nodesoap");
    let file = t.dir.path().join("LETTER.PDF");
    let mut bytes = b"%PDF-1.7\n".to_vec();
    bytes.extend((0..200_000u32).map(|i| (i % 251) as u8));
    std::fs::write(&file, &bytes).expect("write");
    let (url, ca) = (t.url.clone(), t.ca.clone());
    let node = std::env::var("IMAX_TEST_NODE").unwrap_or_else(|_| "node".into());
    // Off the async runtime's worker: the gateway serves the client on the same runtime.
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(node)
            .arg(dir.join("mtom.js"))
            .arg(url)
            .arg(file)
            .env("NODE_EXTRA_CA_CERTS", ca)
            .env("NODE_PATH", dir.join("node_modules"))
            .current_dir(&dir)
            .output()
    })
    .await
    .expect("join")
    .expect("node runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "node-soap failed:\n{stdout}\n{stderr}"
    );
    assert!(
        stdout.contains("node-soap mtom: all checks passed"),
        "{stdout}"
    );
}
