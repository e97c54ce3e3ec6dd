//! The browser tests drive a headless Chromium (Debian's, installed by the test command)
//! through `chromedriver` with the `fantoccini` WebDriver client; this module starts
//! chromedriver and wraps the client in the few steps the tests take.
//!
//! Chromium trusts the gateway's development certificate by its public key
//! (`--ignore-certificate-errors-spki-list` with the SHA-256 of the server key's
//! SubjectPublicKeyInfo): any other certificate problem still fails, and nothing is accepted
//! blindly.

use crate::helpers::free_port;
use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use fantoccini::elements::Element;
use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub struct Browser {
    driver: Child,
    port: u16,
    client: Client,
    session: String,
    pub downloads: PathBuf,
    _profile: tempfile::TempDir,
}

#[derive(Clone, Debug)]
pub struct El(Element);

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

/// Base64 of the SHA-256 of the SubjectPublicKeyInfo of the PEM private key at `key`.
pub fn spki_pin(key: &Path) -> String {
    use base64::Engine;
    use sha2::Digest;
    let pem = std::fs::read_to_string(key).expect("server key");
    let kp = rcgen::KeyPair::from_pem(&pem).expect("key pair");
    let spki = kp.public_key_der();
    base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(spki))
}

/// A command fantoccini does not offer as we need it (the virtual authenticator of Web
/// Authentication Level 2, section 11; a cookie without a domain): `path` is relative to the
/// session.
#[derive(Debug)]
struct SessionCommand {
    method: http::Method,
    path: String,
    body: Option<Value>,
}

impl WebDriverCompatibleCommand for SessionCommand {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        let session = session_id.unwrap_or_default();
        base_url.join(&format!("session/{session}/{}", self.path))
    }

    fn method_and_body(&self, _url: &url::Url) -> (http::Method, Option<String>) {
        (
            self.method.clone(),
            self.body.as_ref().map(Value::to_string),
        )
    }
}

/// The capabilities of the session: Chromium headless, in a profile of its own, downloading
/// into `downloads` without asking, trusting only the server key pinned by `spki`.
fn capabilities(
    opts: &Options,
    profile: &Path,
    downloads: &Path,
    spki: &str,
) -> serde_json::Map<String, Value> {
    let binary = std::env::var("IMAX_TEST_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
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
                format!("--user-data-dir={}", profile.join("chrome").display()),
                format!("--ignore-certificate-errors-spki-list={spki}"),
            ],
            "prefs": prefs,
        }
    });
    match caps {
        Value::Object(m) => m,
        _ => unreachable!("capabilities are an object"),
    }
}

impl Browser {
    /// Starts chromedriver and a headless Chromium that trusts the key at `server_key`.
    pub async fn start(server_key: &Path, opts: Options) -> Browser {
        let port = free_port();
        let driver_bin =
            std::env::var("IMAX_TEST_CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".into());
        let mut driver = Command::new(driver_bin)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver (installed by the test command from Debian's chromium-driver)");
        let profile = tempfile::tempdir().expect("profile dir");
        let downloads = profile.path().join("downloads");
        std::fs::create_dir_all(&downloads).expect("downloads");
        let caps = capabilities(&opts, profile.path(), &downloads, &spki_pin(server_key));
        let mut builder = ClientBuilder::new(HttpConnector::new());
        builder.capabilities(caps);
        let url = format!("http://127.0.0.1:{port}");
        let mut last = None;
        let mut client = None;
        // chromedriver takes a moment to listen: retried for up to 10 s.
        for _ in 0..200 {
            match builder.connect(&url).await {
                Ok(c) => {
                    client = Some(c);
                    break;
                }
                Err(e) => last = Some(e.to_string()),
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let Some(client) = client else {
            let _ = driver.kill();
            let _ = driver.wait();
            panic!("new WebDriver session: {}", last.unwrap_or_default());
        };
        let session = client
            .session_id()
            .await
            .ok()
            .flatten()
            .expect("session id");
        Browser {
            driver,
            port,
            client,
            session,
            downloads,
            _profile: profile,
        }
    }

    /// A [`SessionCommand`] in this session; panics with the driver's message.
    async fn extension(&self, method: http::Method, path: String, body: Option<Value>) -> Value {
        let what = format!("{method} {path}");
        self.client
            .issue_cmd(SessionCommand { method, path, body })
            .await
            .unwrap_or_else(|e| panic!("{what}: {e}"))
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
            .extension(
                http::Method::POST,
                "webauthn/authenticator".into(),
                Some(body),
            )
            .await;
        id.as_str().expect("authenticator id").to_string()
    }

    /// Removes a virtual authenticator with every credential it holds.
    pub async fn remove_authenticator(&self, id: &str) {
        let path = format!("webauthn/authenticator/{id}");
        self.extension(http::Method::DELETE, path, None).await;
    }

    pub async fn goto(&self, url: &str) {
        self.client
            .goto(url)
            .await
            .unwrap_or_else(|e| panic!("goto {url}: {e}"));
    }

    pub async fn url(&self) -> String {
        self.client
            .current_url()
            .await
            .map(|u| u.to_string())
            .unwrap_or_default()
    }

    pub async fn try_find(&self, css: &str) -> Option<El> {
        self.client.find(Locator::Css(css)).await.ok().map(El)
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
        let source = self.client.source().await.unwrap_or_default();
        panic!("no element {css} on {url} (screenshot: target/screenshots/failure.png):\n{text}\n{source}");
    }

    pub async fn find_all(&self, css: &str) -> Vec<El> {
        self.client
            .find_all(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("find all {css}: {e}"))
            .into_iter()
            .map(El)
            .collect()
    }

    pub async fn click(&self, css: &str) {
        let e = self.find(css).await;
        e.0.click()
            .await
            .unwrap_or_else(|err| panic!("click {css}: {err}"));
    }

    /// Types `text` into an element (for a file input: the paths of the files it chooses).
    async fn type_into(e: &El, text: &str) {
        e.0.send_keys(text)
            .await
            .unwrap_or_else(|err| panic!("type into {e:?}: {err}"));
    }

    /// Clears the field `css` and types `text` into it.
    pub async fn fill(&self, css: &str, text: &str) {
        let e = self.find(css).await;
        e.0.clear()
            .await
            .unwrap_or_else(|err| panic!("clear {css}: {err}"));
        Self::type_into(&e, text).await;
    }

    /// Chooses files for a file input (paths joined by newlines for `multiple`).
    pub async fn choose_files(&self, css: &str, files: &[&Path]) {
        let e = self.find(css).await;
        let text = files
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join("\n");
        Self::type_into(&e, &text).await;
    }

    /// The text of `css`, waiting for it; retried while the page is being replaced.
    pub async fn text(&self, css: &str) -> String {
        for _ in 0..200 {
            if let Some(e) = self.try_find(css).await {
                if let Ok(t) = e.0.text().await {
                    return t;
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("no text for {css} on {}", self.url().await);
    }

    /// The text of the whole page ("" while it is being replaced).
    pub async fn page_text(&self) -> String {
        match self.try_find("body").await {
            Some(b) => b.0.text().await.unwrap_or_default(),
            None => String::new(),
        }
    }

    /// Runs a script in the page and returns its value.
    pub async fn eval(&self, script: &str) -> Value {
        self.client
            .execute(script, vec![])
            .await
            .unwrap_or_else(|e| panic!("script {script}: {e}"))
    }

    /// Runs an asynchronous script (its last argument is the callback that answers), as axe-core
    /// needs; like every WebDriver script it runs outside the page's Content-Security-Policy.
    pub async fn eval_async(&self, script: &str) -> Value {
        self.client
            .execute_async(script, vec![])
            .await
            .unwrap_or_else(|e| panic!("async script: {e}"))
    }

    /// Presses keys as a person would, one after the other, on whatever has the focus (the
    /// WebDriver key actions: characters, and `\u{E004}` Tab, `\u{E007}` Enter...).
    pub async fn press(&self, keys: &str) {
        let actions = keys
            .chars()
            .fold(KeyActions::new("keyboard".into()), |a, c| {
                a.then(KeyAction::Down { value: c })
                    .then(KeyAction::Up { value: c })
            });
        self.client
            .perform_actions(actions)
            .await
            .unwrap_or_else(|e| panic!("press {keys:?}: {e}"));
    }

    /// The element that has the keyboard focus.
    pub async fn focused(&self) -> El {
        self.client
            .active_element()
            .await
            .map(El)
            .unwrap_or_else(|e| panic!("nothing has the focus: {e}"))
    }

    /// Gives a file input that has the focus its file: WebDriver's stand-in for the file
    /// chooser a person opens with Enter (a dialog outside the page that WebDriver cannot drive).
    pub async fn choose_file_focused(&self, file: &Path) {
        let e = self.focused().await;
        Self::type_into(&e, &file.display().to_string()).await;
    }

    /// Marks the current document, so that [`Browser::wait_new_page`] can tell when the next
    /// one has replaced it.
    pub async fn mark_page(&self) {
        self.eval("window.__imaxOldPage = true;").await;
    }

    /// Waits until a new document (not the marked one) has loaded completely (10 s).
    pub async fn wait_new_page(&self) {
        let script = "return !window.__imaxOldPage && document.readyState === 'complete';";
        for _ in 0..200 {
            if matches!(
                self.client.execute(script, vec![]).await,
                Ok(Value::Bool(true))
            ) {
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
        self.client
            .set_window_size(width, 1100)
            .await
            .unwrap_or_else(|e| panic!("window width {width}: {e}"));
    }

    /// Saves a PNG of the viewport into `target/screenshots/<name>.png` for reviewers.
    pub async fn screenshot(&self, name: &str) {
        let png = self.client.screenshot().await.expect("screenshot");
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

    /// Cookies as the browser holds them (all, including HttpOnly ones), in WebDriver's JSON
    /// form (`name`, `value`, `httpOnly`, `secure`, `sameSite`...).
    pub async fn cookies(&self) -> Vec<Value> {
        let cookies = self.client.get_all_cookies().await.expect("cookies");
        cookies
            .iter()
            .map(|c| {
                json!({
                    "name": c.name(),
                    "value": c.value(),
                    "path": c.path(),
                    "domain": c.domain(),
                    "httpOnly": c.http_only().unwrap_or(false),
                    "secure": c.secure().unwrap_or(false),
                    "sameSite": c.same_site().map(|s| s.to_string()),
                })
            })
            .collect()
    }

    /// Adds a cookie given in WebDriver's JSON form, as [`Browser::cookies`] returns them.
    /// Sent as it is: fantoccini's own `add_cookie` sends an empty domain, which Chromium refuses.
    pub async fn add_cookie(&self, cookie: Value) {
        let body = json!({ "cookie": cookie });
        self.extension(http::Method::POST, "cookie".into(), Some(body))
            .await;
    }
}

impl Drop for Browser {
    /// Ends the WebDriver session (which closes Chromium), then stops chromedriver; done with
    /// blocking I/O so that it also runs when a test panics (fantoccini's own clean-up is
    /// asynchronous and may not run once the test's runtime stops).
    fn drop(&mut self) {
        use std::io::{Read, Write};
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
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
