//! The console in a real browser: Debian's headless Chromium driven through
//! chromedriver (WebDriver) against a real `execgate up`: the shipped configs,
//! the gateway and the bundled runner running the programs (root, namespaces
//! and cgroups, like the runner's own tests).
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
const BUSY_REQUESTS: usize = 20;

/// The client whose runs tell the test that `execgate up` is ready.
const READY_IP: &str = "198.51.100.1";

/// What a program prints: it must never reach the console. The program
/// builds it, so that only its output, not its code, holds it.
const PROGRAM_OUTPUT: &str = "program-output-7f3a9c";
const PROGRAM: &str = "print('program-output-' + '7f3a9c')";

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

/// `execgate up` as an operator starts it: the shipped configs (their ports
/// moved to free ones, this test's admin token, the test's address trusted to
/// name clients by X-Forwarded-For, limits and the ban threshold raised so the
/// story's own traffic is never refused for its volume), the gateway and the
/// bundled runner running real programs.
struct Up {
    child: Child,
    proxy: u16,
    admin: u16,
    dir: tempfile::TempDir,
}

/// Replaces `old` in a shipped config; a config that changed shape fails loudly.
fn replaced(text: String, old: &str, new: &str) -> String {
    assert!(
        text.contains(old),
        "{old:?} is no longer in the shipped config"
    );
    text.replace(old, new)
}

impl Up {
    fn start() -> Up {
        let root = env!("CARGO_MANIFEST_DIR");
        let dir = tempfile::tempdir().unwrap();
        let (proxy, admin, runner) = (free_port(), free_port(), free_port());
        let mut gateway = std::fs::read_to_string(format!("{root}/config/execgate.toml")).unwrap();
        for (old, new) in [
            ("127.0.0.1:8080".to_string(), format!("127.0.0.1:{proxy}")),
            ("127.0.0.1:9090".into(), format!("127.0.0.1:{admin}")),
            ("127.0.0.1:2358".into(), format!("127.0.0.1:{runner}")),
            ("\"../rules/".into(), format!("\"{root}/rules/")),
            ("\"../state/".into(), "\"state/".into()),
            ("rate = \"3/10s\"".into(), "rate = \"1000/10s\"".into()),
            ("rate = \"10/1h\"".into(), "rate = \"1000/1h\"".into()),
            ("rate = \"50/1d\"".into(), "rate = \"1000/1d\"".into()),
            (
                "ban_threshold = 20.0".into(),
                "ban_threshold = 1000.0".into(),
            ),
            (
                "trusted_proxies = []".into(),
                "trusted_proxies = [\"127.0.0.1/32\"]".into(),
            ),
            (
                "tokens = []".into(),
                format!("tokens = [\"{ADMIN_TOKEN}\"]"),
            ),
        ] {
            gateway = replaced(gateway, &old, &new);
        }
        let mut runner_config =
            std::fs::read_to_string(format!("{root}/config/runner.toml")).unwrap();
        runner_config = replaced(
            runner_config,
            "127.0.0.1:2358",
            &format!("127.0.0.1:{runner}"),
        );
        // Its cgroups are named after it: unique, so runs of other tests never meet them.
        runner_config = replaced(
            runner_config,
            "name = \"execgate-runner\"",
            &format!("name = \"execgate-console-{}\"", std::process::id()),
        );
        std::fs::write(dir.path().join("execgate.toml"), gateway).unwrap();
        std::fs::write(dir.path().join("runner.toml"), runner_config).unwrap();
        let log = std::fs::File::create(dir.path().join("up.log")).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_execgate"))
            .args([
                "up",
                "--config",
                "execgate.toml",
                "--runner-config",
                "runner.toml",
            ])
            .current_dir(dir.path())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("execgate up");
        let mut up = Up {
            child,
            proxy,
            admin,
            dir,
        };
        up.wait_until_it_runs_code();
        up
    }

    /// Until a program runs end to end: the runner builds its warm sandboxes first.
    fn wait_until_it_runs_code(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(180);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("execgate up exited ({status})\n{}", self.log());
            }
            let listening = std::net::TcpStream::connect(("127.0.0.1", self.proxy)).is_ok();
            if listening && self.execute_as(READY_IP, "print(1)").status == 200 {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "execgate up never ran a program\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(300));
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.proxy)
    }

    fn admin_url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.admin)
    }

    /// Runs `code` (Python) through the proxy as the client `ip`.
    fn execute_as(&self, ip: &str, code: &str) -> Reply {
        let body = json!({"language": "python", "version": "*", "files": [{"content": code}]});
        post_with(
            &self.url("/api/v2/execute"),
            serde_json::to_vec(&body).unwrap(),
            &[("x-forwarded-for", ip)],
        )
    }

    /// Waits until `ip`'s runs get `status`.
    fn until_status(&self, ip: &str, status: u16) {
        let deadline = Instant::now() + STEP;
        loop {
            let got = self.execute_as(ip, "print(1)").status;
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

    /// The end of what the gateway and the runner said.
    fn log(&self) -> String {
        let bytes = std::fs::read(self.dir.path().join("up.log")).unwrap_or_default();
        let tail = bytes.len().saturating_sub(4000);
        String::from_utf8_lossy(&bytes[tail..]).into_owned()
    }
}

impl Drop for Up {
    /// SIGTERM, so that `up` stops its runner (and the runner its sandboxes).
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(30);
        while matches!(self.child.try_wait(), Ok(None)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("execgate up said:\n{}", self.log());
        }
    }
}

#[test]
fn an_operator_logs_in_reads_a_refusal_blocks_and_unblocks_its_client() {
    let up = Up::start();
    let b = Browser::start();
    let console = up.admin_url("/console");

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
    let ran = up.execute_as("198.51.100.50", PROGRAM);
    assert_eq!(ran.status, 200);
    assert_eq!(
        ran.json()["run"]["stdout"],
        json!(format!("{PROGRAM_OUTPUT}\n")),
        "the runner ran the program"
    );
    let refused = up.execute_as(CLIENT_IP, "import subprocess\nprint(2)");
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
    b.type_into("#ev-rule", "PY-IMPORT");
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
    assert!(detail.contains("PY-IMPORT-PROCESS"), "{detail}");
    assert!(
        detail.contains("module subprocess can run programs and is not allowed"),
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
    up.until_status(CLIENT_IP, 403);

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
    up.until_status(CLIENT_IP, 200);

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
        "const r = document.querySelector('#rules-table tr[data-rule=PY-IMPORT-PROCESS]'); \
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
        assert_eq!(up.execute_as(BUSY_IP, "print(3)").status, 200);
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
