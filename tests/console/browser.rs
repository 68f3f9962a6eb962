//! The console in a real browser: Debian's headless Chromium driven through
//! chromedriver (WebDriver) against the real gateway with a mock executor.
//! Chromium is slow to start on a loaded machine, so the whole story runs in
//! one test with one browser, each step waiting for its condition.

use crate::support::*;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a step may take before the test fails: generous, for a loaded 2-core machine.
const STEP: Duration = Duration::from_secs(30);

/// The client whose refusal, block and unblock the test follows.
const CLIENT_IP: &str = "198.51.100.7";

/// A client that only sends well-formed programs, `BUSY_REQUESTS` of them.
const BUSY_IP: &str = "198.51.100.60";
const BUSY_REQUESTS: usize = 40;

/// What the mock executor prints: it must never reach the console.
const PROGRAM_OUTPUT: &str = "program-output-7f3a9c";

/// A headless Chromium under chromedriver, driven from a private runtime.
struct Browser {
    rt: tokio::runtime::Runtime,
    client: Option<Client>,
    driver: Child,
    _profile: tempfile::TempDir,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Browser {
    fn start() -> Browser {
        let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
        let port = free_port();
        let driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver (apt install chromium-driver; scripts/deps.sh installs it)");
        let profile = tempfile::tempdir().unwrap();
        let caps = json!({
            "goog:chromeOptions": {
                "binary": chromium,
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                    "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync",
                    "--disable-dev-shm-usage", "--window-size=1280,900",
                    format!("--user-data-dir={}", profile.path().display()),
                ],
            }
        });
        let Value::Object(caps) = caps else {
            unreachable!()
        };
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut browser = Browser {
            rt,
            client: None,
            driver,
            _profile: profile,
        };
        // chromedriver refuses connections until it listens, and Chromium can
        // take long to start: retried until the deadline.
        let client = loop {
            let connector = hyper_util::client::legacy::connect::HttpConnector::new();
            let attempt = browser.rt.block_on(
                ClientBuilder::new(connector)
                    .capabilities(caps.clone())
                    .connect(&url),
            );
            match attempt {
                Ok(client) => break client,
                Err(e) if Instant::now() < deadline => {
                    let _ = e;
                    std::thread::sleep(Duration::from_millis(200));
                }
                Err(e) => panic!("no browser session: {e}"),
            }
        };
        browser.client = Some(client);
        browser
    }

    fn client(&self) -> &Client {
        self.client.as_ref().unwrap()
    }

    fn goto(&self, url: &str) {
        self.rt.block_on(self.client().goto(url)).unwrap();
    }

    /// Runs `script` (a function body) in the page.
    fn js(&self, script: &str, args: Vec<Value>) -> Value {
        self.rt
            .block_on(self.client().execute(script, args))
            .unwrap_or_else(|e| panic!("script failed: {e}\n{script}"))
    }

    /// Waits until `script` returns true.
    fn wait(&self, what: &str, script: &str) {
        let deadline = Instant::now() + STEP;
        loop {
            if self.js(script, vec![]) == json!(true) {
                return;
            }
            if Instant::now() > deadline {
                let text = self.js("return document.body.innerText", vec![]);
                panic!(
                    "never happened: {what}\npage:\n{}",
                    text.as_str().unwrap_or("")
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Clicks `css`; views re-render every second, so an element replaced
    /// between finding and clicking it is found again.
    fn click(&self, css: &str) {
        let deadline = Instant::now() + STEP;
        loop {
            let clicked = self.rt.block_on(async {
                let el = self.client().find(Locator::Css(css)).await?;
                el.click().await
            });
            match clicked {
                Ok(()) => return,
                Err(e) if e.is_stale_element_reference() && Instant::now() < deadline => {}
                Err(e) => panic!("click {css}: {e}"),
            }
        }
    }

    fn type_into(&self, css: &str, text: &str) {
        self.rt
            .block_on(async {
                let el = self.client().find(Locator::Css(css)).await?;
                el.clear().await?;
                el.send_keys(text).await
            })
            .unwrap_or_else(|e| panic!("type into {css}: {e}"));
    }

    fn text(&self, css: &str) -> String {
        let v = self.js(
            "const e = document.querySelector(arguments[0]); return e ? e.textContent : null;",
            vec![json!(css)],
        );
        v.as_str().unwrap_or_default().to_string()
    }

    fn visible(&self, css: &str) -> bool {
        self.js(
            "const e = document.querySelector(arguments[0]); return !!e && e.offsetParent !== null;",
            vec![json!(css)],
        ) == json!(true)
    }

    fn screenshot(&self, name: &str) -> PathBuf {
        let png = self.rt.block_on(self.client().screenshot()).unwrap();
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"));
        let dir = target.join("console-screenshots");
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png).unwrap();
        path
    }

    fn source(&self) -> String {
        self.js("return document.documentElement.outerHTML", vec![])
            .as_str()
            .unwrap_or_default()
            .to_string()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if let Some(client) = self.client.take() {
            let _ = self.rt.block_on(client.close());
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// Runs `code` through the proxy as `ip` (the gateway trusts the test's X-Forwarded-For).
fn execute_as(gw: &TestGateway, ip: &str, code: &str) -> Reply {
    post_with(
        &gw.url("/api/v2/execute"),
        serde_json::to_vec(&piston(code)).unwrap(),
        &[
            ("x-forwarded-for", ip),
            ("content-type", "application/json"),
        ],
    )
}

/// Waits until `ip`'s request gets `status`.
fn until_status(gw: &TestGateway, ip: &str, status: u16) {
    let deadline = Instant::now() + STEP;
    loop {
        let got = execute_as(gw, ip, "print(1)").status;
        if got == status {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{ip} still gets {got}, not {status}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn an_operator_logs_in_reads_a_refusal_blocks_and_unblocks_its_client() {
    let exec = MockExecutor::with(Behaviour::Piston {
        stdout: format!("{PROGRAM_OUTPUT}\n"),
    });
    let gw = TestGateway::builder()
        .upstream(exec.addr)
        .with_admin_token()
        .with("identity", "trusted_proxies = [\"127.0.0.1/32\"]")
        .raw("[tiers.anonymous]\nwindows = [{ name = \"burst\", rate = \"1000/10s\" }]")
        .start();
    let b = Browser::start();
    let console = gw.admin_url("/console");

    // No session: the login form, nothing else.
    b.goto(&console);
    b.wait(
        "the login form shows",
        "return !document.getElementById('login').hidden",
    );
    assert!(!b.visible("#app"), "no console without a session");

    // A wrong token is refused on the form.
    b.type_into("#login-token", "wrong-token-0123456789");
    b.click("#login-submit");
    b.wait(
        "the wrong token is refused",
        "return document.getElementById('login-error').textContent.includes('invalid admin token')",
    );

    // The right one opens the console.
    b.type_into("#login-token", ADMIN_TOKEN);
    b.click("#login-submit");
    b.wait(
        "the console opens",
        "return !document.getElementById('app').hidden",
    );
    assert!(b.text("#whoami").contains("config#1"));
    let cookie_visible = b.js(
        "return document.cookie.includes('execgate_console')",
        vec![],
    );
    assert_eq!(
        cookie_visible,
        json!(false),
        "the session cookie is HttpOnly"
    );

    // Traffic: one program run (its output must stay off the page) and one refusal.
    assert_eq!(execute_as(&gw, "198.51.100.50", "print(1)").status, 200);
    let refused = execute_as(&gw, CLIENT_IP, "import subprocess\nprint(2)");
    assert_eq!(refused.status, 403);

    // The refusal appears in the security events table (how soon is printed, not judged).
    let refused_at = Instant::now();
    b.click("button[data-view=events]");
    let row = "#events-table tr[data-kind=code_rejected]";
    b.wait(
        "the refusal is listed",
        &format!(
            "return [...document.querySelectorAll('{row}')].some(r => r.textContent.includes('ip:{CLIENT_IP}'))"
        ),
    );
    eprintln!("the refusal was listed after {:?}", refused_at.elapsed());
    // Filtering by another client hides it; by this one shows it.
    b.type_into("#ev-client", "203.0.113.254");
    b.wait(
        "the filter hides it",
        &format!("return !document.querySelector('{row}')"),
    );
    b.type_into("#ev-client", CLIENT_IP);
    b.type_into("#ev-rule", "TEST-IMPORT");
    b.wait(
        "the filters keep it",
        &format!("return !!document.querySelector('{row}')"),
    );

    // Its detail: the finding (rule, line, message), the client's tier and score.
    b.click(row);
    b.wait(
        "the detail shows the finding and the client's standing",
        "const d = document.getElementById('event-detail'); \
         return !d.hidden && !!document.getElementById('detail-findings') && !!document.getElementById('detail-standing')",
    );
    let detail = b.text("#detail-findings");
    assert!(detail.contains("TEST-IMPORT-PROCESS"), "{detail}");
    assert!(
        detail.contains("module subprocess is not allowed"),
        "{detail}"
    );
    let standing = b.text("#detail-standing");
    assert!(
        standing.contains("Tier") && standing.contains("Score"),
        "{standing}"
    );

    // The client page, from the detail.
    b.click("#detail-client");
    b.wait(
        "the client page shows the client",
        &format!("return document.getElementById('client-title').textContent === 'ip:{CLIENT_IP}'"),
    );
    b.wait(
        "the client page lists its windows and events",
        "return document.querySelectorAll('#client-windows tbody tr').length > 0 \
         && document.querySelector('#client-events tbody').textContent.includes('code_rejected')",
    );
    let shot = b.screenshot("client");
    assert!(std::fs::metadata(&shot).unwrap().len() > 1000);

    // Block it from the page: the client is refused.
    b.click("#client-block");
    b.wait(
        "the client page shows the block",
        "return document.getElementById('client-blocked').textContent.startsWith('#')",
    );
    assert!(
        b.text("#client-blocked").contains("console/config#1"),
        "audited with who did it"
    );
    until_status(&gw, CLIENT_IP, 403);

    // Remove the block from the blocks view: the client is accepted again.
    b.click("button[data-view=blocks]");
    let block_row = "#blocks-table tbody tr";
    b.wait(
        "the block is listed",
        &format!(
            "return [...document.querySelectorAll('{block_row}')].some(r => r.textContent.includes('{CLIENT_IP}'))"
        ),
    );
    b.click(&format!("{block_row} .remove-block"));
    b.wait(
        "the block is gone",
        &format!("return !document.querySelector('{block_row}')"),
    );
    until_status(&gw, CLIENT_IP, 200);

    // HTML in a value is shown as text, never run.
    let html =
        "<script>window.__injected = 1</script><img src=x onerror=\"window.__injected = 2\">";
    b.type_into("#block-value", "198.51.100.99");
    b.type_into("#block-duration", "1h");
    b.type_into("#block-reason", html);
    b.click("#block-add");
    b.wait(
        "the new block is listed",
        "return [...document.querySelectorAll('#blocks-table tbody tr')].some(r => r.textContent.includes('198.51.100.99'))",
    );
    let reason_cell = b.js(
        "const r = [...document.querySelectorAll('#blocks-table tbody tr')].find(r => r.textContent.includes('198.51.100.99')); \
         return r.children[3].textContent",
        vec![],
    );
    assert_eq!(reason_cell, json!(html), "the reason is shown as typed");
    let injected = b.js(
        "return [window.__injected === undefined, document.querySelectorAll('#blocks-table script, #blocks-table img').length]",
        vec![],
    );
    assert_eq!(
        injected,
        json!([true, 0]),
        "no markup from a value ran or rendered"
    );

    // A change without the CSRF token is refused, even from the page's own origin.
    let forged = b.rt.block_on(b.client().execute_async(
        "const done = arguments[0]; \
         fetch('/console/api/v1/blocks', {method: 'POST', credentials: 'same-origin', \
           headers: {'Content-Type': 'application/json'}, \
           body: JSON.stringify({value: '198.51.100.77', reason: 'forged'})}) \
         .then(r => done(r.status))",
        vec![],
    ));
    assert_eq!(forged.unwrap(), json!(403));

    // The rules view and its reload button.
    b.click("button[data-view=rules]");
    b.wait(
        "the rules are listed with their hits",
        "const r = document.querySelector('#rules-table tr[data-rule=TEST-IMPORT-PROCESS]'); \
         return !!r && r.lastChild.textContent === '1'",
    );
    b.click("#rules-reload");
    b.wait(
        "the reload is reported",
        "return document.getElementById('rules-last-reload').textContent.includes('console: ok')",
    );

    // The reload is a row of the events table; the refused client tops the clients.
    b.click("button[data-view=events]");
    b.type_into("#ev-client", "");
    b.type_into("#ev-rule", "");
    b.wait(
        "the reload is among the events",
        "const r = document.querySelector('#events-table tr[data-kind=rules_reloaded]'); \
         return !!r && r.textContent.includes('by console')",
    );
    assert!(b.text("#top-clients").contains(&format!("ip:{CLIENT_IP}")));

    // The top clients: a busy client by its requests, the refused one by its
    // refusals and its score; each table is the gateway's ranking.
    for _ in 0..BUSY_REQUESTS {
        assert_eq!(execute_as(&gw, BUSY_IP, "print(3)").status, 200);
    }
    let row = |table: &str, ip: &str| {
        format!(
            "[...document.querySelectorAll('#{table} tbody tr')].find(r => r.dataset.client === 'ip:{ip}')"
        )
    };
    b.wait(
        "the busy client's requests are counted",
        &format!(
            "const r = {}; return !!r && r.children[1].textContent === '{BUSY_REQUESTS}'",
            row("top-requests", BUSY_IP)
        ),
    );
    b.wait(
        "the refused client ranks by refusals and by score, the busy one does not",
        &format!(
            "const f = {}, s = {}; \
             return !!f && Number(f.children[1].textContent) >= 1 && !{} \
               && !!s && Number(s.children[1].textContent) > 0",
            row("top-refusals", CLIENT_IP),
            row("top-score", CLIENT_IP),
            row("top-refusals", BUSY_IP),
        ),
    );

    // The overview charts the traffic.
    b.click("button[data-view=overview]");
    b.wait(
        "the overview has drawn its charts",
        "return document.querySelectorAll('#chart-requests polyline').length === 1 \
         && document.getElementById('ov-ready').textContent === 'ready'",
    );
    b.wait(
        "the refusals table counts the screening refusal",
        "return [...document.querySelectorAll('#ov-reasons tbody tr')].some(r => \
           r.children[0].textContent === 'screening' && Number(r.children[2].textContent) >= 1)",
    );
    let shot = b.screenshot("overview");
    assert!(std::fs::metadata(&shot).unwrap().len() > 1000);

    // Nothing secret or from the program on any view.
    for view in ["overview", "events", "client", "blocks", "rules"] {
        b.click(&format!("button[data-view={view}]"));
        let page = b.source();
        for secret in [ADMIN_TOKEN, PROGRAM_OUTPUT, "import subprocess"] {
            assert!(!page.contains(secret), "{view} shows {secret:?}");
        }
    }

    // Logout, then repeated wrong tokens are limited.
    b.click("#logout");
    b.wait(
        "back at the login form",
        "return !document.getElementById('login').hidden",
    );
    for _ in 0..=execgate_state::admin::AUTH_FAILURE_BURST {
        b.type_into("#login-token", "wrong-token-0123456789");
        b.click("#login-submit");
        b.wait(
            "the failure is shown",
            "return document.getElementById('login-error').textContent !== ''",
        );
        b.js(
            "document.getElementById('login-error').textContent = ''; return true",
            vec![],
        );
    }
    b.type_into("#login-token", ADMIN_TOKEN);
    b.click("#login-submit");
    b.wait(
        "even the right token is refused while locked out",
        "return document.getElementById('login-error').textContent.includes('Too many failed logins')",
    );
    assert!(!b.visible("#app"));
}
