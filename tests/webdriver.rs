//! A small W3C WebDriver client for the browser tests: it starts `chromedriver` and drives a
//! headless Chromium (both from Debian, installed by the test command).
//!
//! Chromium trusts the gateway's development certificate by its public key
//! (`--ignore-certificate-errors-spki-list` with the SHA-256 of the server key's
//! SubjectPublicKeyInfo): any other certificate problem still fails, and nothing is accepted
//! blindly.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The W3C web element identifier key.
const ELEMENT: &str = "element-6066-11e4-a5e5-4f5a4e6e6f6e";

fn element_id(v: &Value) -> Option<El> {
    if v.get("error").is_some() {
        return None;
    }
    v[ELEMENT]
        .as_str()
        .or_else(|| v.as_object()?.values().next()?.as_str())
        .map(|s| El(s.to_string()))
}

pub struct Browser {
    driver: Child,
    port: u16,
    session: String,
    pub downloads: PathBuf,
    _profile: tempfile::TempDir,
}

#[derive(Clone, Debug)]
pub struct El(String);

pub struct Options {
    pub javascript: bool,
    pub width: u32,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            javascript: true,
            width: 1440,
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// Base64 of the SHA-256 of the SubjectPublicKeyInfo of the PEM private key at `key`.
pub fn spki_pin(key: &Path) -> String {
    use base64::Engine;
    use sha2::Digest;
    let pem = std::fs::read_to_string(key).expect("server key");
    let kp = rcgen::KeyPair::from_pem(&pem).expect("key pair");
    let spki = kp.public_key_der();
    base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(spki))
}

impl Browser {
    /// Starts chromedriver and a headless Chromium that trusts the key at `server_key`.
    pub async fn start(server_key: &Path, opts: Options) -> Browser {
        let port = free_port();
        let driver_bin =
            std::env::var("IMAX_TEST_CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".into());
        let driver = Command::new(driver_bin)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver (installed by the test command from Debian's chromium-driver)");
        let profile = tempfile::tempdir().expect("profile dir");
        let downloads = profile.path().join("downloads");
        std::fs::create_dir_all(&downloads).expect("downloads");
        let mut b = Browser {
            driver,
            port,
            session: String::new(),
            downloads: downloads.clone(),
            _profile: profile,
        };
        for _ in 0..200 {
            if let Ok(v) = b.raw("GET", "/status", None).await {
                if v["value"]["ready"] == json!(true) {
                    break;
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let binary =
            std::env::var("IMAX_TEST_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
        let mut prefs = json!({
            "download.default_directory": downloads.display().to_string(),
            "download.prompt_for_download": false,
            "download.directory_upgrade": true,
            "safebrowsing.enabled": false,
        });
        if !opts.javascript {
            prefs["profile.managed_default_content_settings.javascript"] = json!(2);
        }
        let caps = json!({
            "capabilities": {"alwaysMatch": {
                "browserName": "chrome",
                "acceptInsecureCerts": false,
                "goog:chromeOptions": {
                    "binary": binary,
                    "args": [
                        "--headless=new",
                        "--no-sandbox",
                        "--disable-gpu",
                        "--disable-dev-shm-usage",
                        "--no-first-run",
                        "--hide-scrollbars",
                        format!("--window-size={},1100", opts.width),
                        format!("--user-data-dir={}", b._profile.path().join("chrome").display()),
                        format!("--ignore-certificate-errors-spki-list={}", spki_pin(server_key)),
                    ],
                    "prefs": prefs,
                }
            }}
        });
        let v = b
            .raw("POST", "/session", Some(caps))
            .await
            .expect("new WebDriver session");
        b.session = v["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {v}"))
            .to_string();
        b
    }

    async fn raw(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value, String> {
        let stream = tokio::net::TcpStream::connect(("127.0.0.1", self.port))
            .await
            .map_err(|e| e.to_string())?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| e.to_string())?;
        tokio::spawn(conn);
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let req = hyper::Request::builder()
            .method(method)
            .uri(path)
            .header("host", format!("127.0.0.1:{}", self.port))
            .header("content-type", "application/json; charset=utf-8")
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| e.to_string())?;
        let resp = sender.send_request(req).await.map_err(|e| e.to_string())?;
        let bytes = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| e.to_string())?
            .to_bytes();
        serde_json::from_slice(&bytes).map_err(|e| e.to_string())
    }

    /// A WebDriver command in this session; panics with the driver's message on an error.
    pub async fn cmd(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let v = self
            .raw(method, &format!("/session/{}{path}", self.session), body)
            .await
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        if v["value"]["error"].is_string() {
            panic!("{method} {path}: {}", v["value"]);
        }
        v["value"].clone()
    }

    /// Adds a virtual WebAuthn authenticator (the WebDriver extension of Web Authentication
    /// Level 2, section 11): a CTAP2 platform authenticator with resident keys that always
    /// verifies its user. Its id, for [`Browser::remove_authenticator`].
    pub async fn add_authenticator(&self) -> String {
        let body = json!({
            "protocol": "ctap2",
            "transport": "internal",
            "hasResidentKey": true,
            "hasUserVerification": true,
            "isUserVerified": true,
        });
        let id = self
            .cmd("POST", "/webauthn/authenticator", Some(body))
            .await;
        id.as_str().expect("authenticator id").to_string()
    }

    /// Removes a virtual authenticator with every credential it holds.
    pub async fn remove_authenticator(&self, id: &str) {
        self.cmd("DELETE", &format!("/webauthn/authenticator/{id}"), None)
            .await;
    }

    pub async fn goto(&self, url: &str) {
        self.cmd("POST", "/url", Some(json!({ "url": url }))).await;
    }

    pub async fn url(&self) -> String {
        self.cmd("GET", "/url", None)
            .await
            .as_str()
            .unwrap_or("")
            .to_string()
    }

    pub async fn try_find(&self, css: &str) -> Option<El> {
        let v = self
            .raw(
                "POST",
                &format!("/session/{}/element", self.session),
                Some(json!({"using": "css selector", "value": css})),
            )
            .await
            .ok()?;
        element_id(&v["value"])
    }

    /// The element `css` names, waiting up to 10 s for it to appear.
    pub async fn find(&self, css: &str) -> El {
        for _ in 0..200 {
            if let Some(e) = self.try_find(css).await {
                return e;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let url = self.url().await;
        let text = self.page_text().await;
        self.screenshot("failure").await;
        let source = self.cmd("GET", "/source", None).await;
        panic!("no element {css} on {url} (screenshot: target/screenshots/failure.png):\n{text}\n{source}");
    }

    pub async fn find_all(&self, css: &str) -> Vec<El> {
        let v = self
            .cmd(
                "POST",
                "/elements",
                Some(json!({"using": "css selector", "value": css})),
            )
            .await;
        v.as_array()
            .map(|a| a.iter().filter_map(element_id).collect())
            .unwrap_or_default()
    }

    pub async fn click(&self, css: &str) {
        let e = self.find(css).await;
        self.cmd("POST", &format!("/element/{}/click", e.0), Some(json!({})))
            .await;
    }

    /// Clears the field `css` and types `text` into it.
    pub async fn fill(&self, css: &str, text: &str) {
        let e = self.find(css).await;
        self.cmd("POST", &format!("/element/{}/clear", e.0), Some(json!({})))
            .await;
        self.cmd(
            "POST",
            &format!("/element/{}/value", e.0),
            Some(json!({ "text": text })),
        )
        .await;
    }

    /// Chooses files for a file input (paths joined by newlines for `multiple`).
    pub async fn choose_files(&self, css: &str, files: &[&Path]) {
        let e = self.find(css).await;
        let text = files
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join("\n");
        self.cmd(
            "POST",
            &format!("/element/{}/value", e.0),
            Some(json!({ "text": text })),
        )
        .await;
    }

    /// The text of `css`, waiting for it; retried while the page is being replaced.
    pub async fn text(&self, css: &str) -> String {
        for _ in 0..200 {
            if let Some(e) = self.try_find(css).await {
                if let Some(t) = self.try_text(&e).await {
                    return t;
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("no text for {css} on {}", self.url().await);
    }

    async fn try_text(&self, e: &El) -> Option<String> {
        let v = self
            .raw(
                "GET",
                &format!("/session/{}/element/{}/text", self.session, e.0),
                None,
            )
            .await
            .ok()?;
        v["value"].as_str().map(str::to_string)
    }

    /// The text of the whole page ("" while it is being replaced).
    pub async fn page_text(&self) -> String {
        match self.try_find("body").await {
            Some(b) => self.try_text(&b).await.unwrap_or_default(),
            None => String::new(),
        }
    }

    /// Runs a script in the page and returns its value.
    pub async fn eval(&self, script: &str) -> Value {
        self.cmd(
            "POST",
            "/execute/sync",
            Some(json!({"script": script, "args": []})),
        )
        .await
    }

    /// Runs an asynchronous script (its last argument is the callback that answers), as axe-core
    /// needs; like every WebDriver script it runs outside the page's Content-Security-Policy.
    pub async fn eval_async(&self, script: &str) -> Value {
        self.cmd(
            "POST",
            "/execute/async",
            Some(json!({"script": script, "args": []})),
        )
        .await
    }

    /// Presses keys as a person would, one after the other, on whatever has the focus (the
    /// WebDriver key actions: characters, and `\u{E004}` Tab, `\u{E007}` Enter...).
    pub async fn press(&self, keys: &str) {
        let actions: Vec<Value> = keys
            .chars()
            .flat_map(|c| {
                let k = c.to_string();
                [
                    json!({"type": "keyDown", "value": k}),
                    json!({"type": "keyUp", "value": k}),
                ]
            })
            .collect();
        let body = json!({"actions": [{"type": "key", "id": "keyboard", "actions": actions}]});
        self.cmd("POST", "/actions", Some(body)).await;
    }

    /// The element that has the keyboard focus.
    pub async fn focused(&self) -> El {
        let v = self.cmd("GET", "/element/active", None).await;
        element_id(&v).unwrap_or_else(|| panic!("nothing has the focus: {v}"))
    }

    /// Gives a file input that has the focus its file: WebDriver's stand-in for the file
    /// chooser a person opens with Enter (a dialog outside the page that WebDriver cannot drive).
    pub async fn choose_file_focused(&self, file: &Path) {
        let e = self.focused().await;
        let text = file.display().to_string();
        self.cmd(
            "POST",
            &format!("/element/{}/value", e.0),
            Some(json!({ "text": text })),
        )
        .await;
    }

    /// Marks the current document, so that [`Browser::wait_new_page`] can tell when the next
    /// one has replaced it.
    pub async fn mark_page(&self) {
        self.eval("window.__imaxOldPage = true;").await;
    }

    /// Waits until a new document (not the marked one) has loaded completely (10 s).
    pub async fn wait_new_page(&self) {
        for _ in 0..200 {
            let v = self
                .raw(
                    "POST",
                    &format!("/session/{}/execute/sync", self.session),
                    Some(json!({
                        "script": "return !window.__imaxOldPage && document.readyState === 'complete';",
                        "args": []
                    })),
                )
                .await;
            if matches!(v, Ok(ref v) if v["value"] == json!(true)) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("no new page replaced {}", self.url().await);
    }

    /// Waits until the page text contains `needle` (10 s).
    pub async fn wait_text(&self, needle: &str) {
        for _ in 0..200 {
            if self.page_text().await.contains(needle) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "page {} never showed {needle:?}:\n{}",
            self.url().await,
            self.page_text().await
        );
    }

    pub async fn set_width(&self, width: u32) {
        self.cmd(
            "POST",
            "/window/rect",
            Some(json!({"width": width, "height": 1100})),
        )
        .await;
    }

    /// Saves a PNG of the viewport into `target/screenshots/<name>.png` for reviewers.
    pub async fn screenshot(&self, name: &str) {
        use base64::Engine;
        let v = self.cmd("GET", "/screenshot", None).await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(v.as_str().unwrap_or(""))
            .expect("screenshot is base64");
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
        std::fs::create_dir_all(&dir).expect("screenshots dir");
        std::fs::write(dir.join(format!("{name}.png")), png).expect("screenshot written");
    }

    /// Waits for a finished download and returns its path. Chromium writes a download to a
    /// hidden temporary file (`.org.chromium.Chromium.*`), then `NAME.crdownload`, then renames
    /// it: done means a visible file and nothing of the kind left.
    pub async fn downloaded(&self) -> PathBuf {
        let in_progress = |p: &PathBuf| {
            p.extension()
                .is_some_and(|e| e == "crdownload" || e == "tmp")
                || p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with('.'))
        };
        for _ in 0..400 {
            let files: Vec<PathBuf> = std::fs::read_dir(&self.downloads)
                .map(|d| d.flatten().map(|e| e.path()).collect())
                .unwrap_or_default();
            if !files.iter().any(in_progress) {
                if let Some(done) = files.first() {
                    return done.clone();
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("no download arrived in {}", self.downloads.display());
    }

    /// Cookies as the browser holds them (all, including HttpOnly ones).
    pub async fn cookies(&self) -> Vec<Value> {
        self.cmd("GET", "/cookie", None)
            .await
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    pub async fn add_cookie(&self, cookie: Value) {
        self.cmd("POST", "/cookie", Some(json!({ "cookie": cookie })))
            .await;
    }
}

impl Drop for Browser {
    /// Ends the WebDriver session (which closes Chromium), then stops chromedriver; done with
    /// blocking I/O so that it also runs when a test panics.
    fn drop(&mut self) {
        use std::io::{Read, Write};
        if !self.session.is_empty() {
            if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", self.port)) {
                let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
                let req = format!(
                    "DELETE /session/{} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                    self.session, self.port
                );
                if s.write_all(req.as_bytes()).is_ok() {
                    let mut sink = Vec::new();
                    let _ = s.read_to_end(&mut sink);
                }
            }
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
