//! A stock SOAP client, Python's zeep, loads the served WSDL and works unchanged.
//! The README's test command installs zeep; a missing zeep fails this test.

use crate::helpers::*;

#[tokio::test]
async fn zeep_drives_the_endpoint_from_the_served_wsdl() {
    let t = TestApp::start().await;
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/zeep/s2s_zeep.py");
    let (url, ca) = (t.url.clone(), t.ca.clone());
    let valid = t.dir.path().join("VALID.DAT");
    let invalid = t.dir.path().join("INVALID.DAT");
    std::fs::write(&valid, tenant_file(3)).expect("write");
    let short = t.dir.path().join("SHORT.DAT");
    let mut broken = tenant_file(3);
    broken[320] = 0x07; // a control character in the first certification record
    std::fs::write(&invalid, broken).expect("write");
    let mut file = tenant_file(3);
    file.drain(400..410); // a record ten characters short: a provisional problem
    std::fs::write(&short, file).expect("write");
    let python = std::env::var("IMAX_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    // Run off the async runtime's worker: the gateway serves zeep on the same runtime.
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(python)
            .arg(script)
            .arg(url)
            .arg(ca)
            .arg(valid)
            .arg(invalid)
            .arg(short)
            .output()
    })
    .await
    .expect("join")
    .expect("python3 runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "zeep failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("zeep: all checks passed"), "{stdout}");
}
