//! TLS on the proxy listener: the `[server.tls]` section, the certificate and
//! key loaded and checked at start (`file: reason` on any problem), the store
//! Pingora's rustls acceptor reads on every handshake, and the
//! `Strict-Transport-Security` header every answer carries while TLS is on.
//!
//! rustls offers TLS 1.2 and 1.3 only, with AEAD cipher suites only, so the
//! minimum version and the modern suites need no setting of their own.

use crate::gateway::identity::PeerNames;
use arc_swap::ArcSwap;
use execgate_core::HumanDuration;
use pingora_core::listeners::TlsAccept;
use pingora_core::listeners::tls::TlsSettings;
use pingora_core::modules::http::{HttpModule, HttpModuleBuilder, HttpModules, Module};
use pingora_core::protocols::ALPN;
use pingora_core::protocols::tls::TlsRef;
use pingora_http::ResponseHeader;
use rustls::server::danger::ClientCertVerifier;
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// `[server.tls]` as written.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawTls {
    /// PEM certificate chain, leaf first.
    pub cert: PathBuf,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
    /// `Strict-Transport-Security: max-age`; "0s" sends no header.
    #[serde(default = "default_hsts_max_age")]
    pub hsts_max_age: HumanDuration,
    /// PEM CA certificates client certificates are verified against (mTLS);
    /// a client without a certificate is still served, by its other credentials.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_ca: Option<PathBuf>,
}

fn default_hsts_max_age() -> HumanDuration {
    HumanDuration(Duration::from_secs(365 * 24 * 3600))
}

/// `[server.tls]`, with paths resolved against the config file's directory.
#[derive(Debug, Clone)]
pub struct TlsConfig {
    /// Certificate chain file.
    pub cert: PathBuf,
    /// Private key file.
    pub key: PathBuf,
    /// HSTS max-age; `None` sends no header.
    pub hsts_max_age: Option<Duration>,
    /// CA bundle for client certificates, when mTLS is on.
    pub client_ca: Option<PathBuf>,
}

impl TlsConfig {
    /// Resolves relative paths against `base`, the config file's directory.
    pub fn resolve(raw: &RawTls, base: &Path) -> Self {
        let max_age = raw.hsts_max_age.get();
        Self {
            cert: base.join(&raw.cert),
            key: base.join(&raw.key),
            hsts_max_age: (!max_age.is_zero()).then_some(max_age),
            client_ca: raw.client_ca.as_ref().map(|p| base.join(p)),
        }
    }
}

/// Reads and checks the certificate and key: both parse, they belong
/// together, and the leaf certificate is valid now. Errors say `file: reason`.
pub fn load(config: &TlsConfig) -> Result<Arc<CertifiedKey>, String> {
    let cert_path = config.cert.display();
    let key_path = config.key.display();
    let cert_pem = std::fs::read(&config.cert).map_err(|e| format!("{cert_path}: {e}"))?;
    let chain = rustls_pemfile::certs(&mut cert_pem.as_slice())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{cert_path}: not a PEM certificate chain: {e}"))?;
    let Some(leaf) = chain.first() else {
        return Err(format!("{cert_path}: no PEM certificate in the file"));
    };
    check_validity(leaf, SystemTime::now()).map_err(|e| format!("{cert_path}: {e}"))?;
    let key_pem = std::fs::read(&config.key).map_err(|e| format!("{key_path}: {e}"))?;
    let key = rustls_pemfile::private_key(&mut key_pem.as_slice())
        .map_err(|e| format!("{key_path}: not a PEM private key: {e}"))?
        .ok_or_else(|| format!("{key_path}: no PEM private key in the file"))?;
    // ring: the provider Pingora's acceptor runs on.
    let signing_key = rustls::crypto::ring::sign::any_supported_type(&key)
        .map_err(|e| format!("{key_path}: unusable private key: {e}"))?;
    let certified = CertifiedKey::new(chain, signing_key);
    certified
        .keys_match()
        .map_err(|e| format!("{cert_path}: does not belong to the key in {key_path} ({e})"))?;
    Ok(Arc::new(certified))
}

/// The leaf certificate's validity window contains `now`.
fn check_validity(leaf: &[u8], now: SystemTime) -> Result<(), String> {
    let (_, cert) = x509_parser::parse_x509_certificate(leaf)
        .map_err(|e| format!("the first certificate does not parse: {e}"))?;
    let validity = cert.validity();
    let now = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    if now > validity.not_after.timestamp() {
        return Err(format!("certificate expired on {}", validity.not_after));
    }
    if now < validity.not_before.timestamp() {
        return Err(format!(
            "certificate not valid before {}",
            validity.not_before
        ));
    }
    Ok(())
}

/// The certificate every handshake gets; swapped whole on reload, so a
/// handshake sees the old or the new pair, never a mix, and connections
/// already up keep theirs.
#[derive(Debug)]
pub struct CertStore {
    config: TlsConfig,
    current: ArcSwap<CertifiedKey>,
    /// Verifies client certificates against `client_ca`, when set.
    clients: Option<Arc<dyn ClientCertVerifier>>,
    /// Reloads by result (`ok` / `error`).
    reloads: prometheus::IntCounterVec,
}

impl CertStore {
    /// Loads the pair named by `config`, and its client CA when set; counts
    /// reloads in `execgate_tls_reloads_total{result}` on `registry`.
    pub fn open(config: TlsConfig, registry: &prometheus::Registry) -> Result<Arc<Self>, String> {
        let current = ArcSwap::new(load(&config)?);
        let clients = config
            .client_ca
            .as_deref()
            .map(client_verifier)
            .transpose()?;
        let reloads = prometheus::IntCounterVec::new(
            prometheus::Opts::new(
                "execgate_tls_reloads_total",
                "TLS certificate reloads by result",
            ),
            &["result"],
        )
        .map_err(|e| format!("metrics: {e}"))?;
        registry
            .register(Box::new(reloads.clone()))
            .map_err(|e| format!("metrics: {e}"))?;
        Ok(Arc::new(Self {
            config,
            current,
            clients,
            reloads,
        }))
    }

    /// Reads the files again; on any problem the current pair stays and the
    /// error says `file: reason`.
    pub fn reload(&self) -> Result<(), String> {
        let outcome = load(&self.config).map(|pair| self.current.store(pair));
        let result = if outcome.is_ok() { "ok" } else { "error" };
        self.reloads.with_label_values(&[result]).inc();
        outcome
    }

    /// Reloads, logging the outcome.
    fn reload_logged(&self, trigger: &str) {
        match self.reload() {
            Ok(()) => tracing::info!(trigger, "TLS certificate reloaded"),
            Err(e) => tracing::error!(trigger, "TLS certificate kept: {e}"),
        }
    }

    /// The directories holding the certificate and key (watched whole, so a
    /// file replaced by rename or a swapped symlink is seen too).
    fn watched(&self) -> Vec<PathBuf> {
        let mut dirs: Vec<PathBuf> = [&self.config.cert, &self.config.key]
            .iter()
            .filter_map(|p| p.parent())
            .map(|p| {
                if p.as_os_str().is_empty() {
                    PathBuf::from(".")
                } else {
                    p.to_path_buf()
                }
            })
            .collect();
        dirs.sort();
        dirs.dedup();
        dirs
    }
}

impl ResolvesServerCert for CertStore {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current.load_full())
    }
}

/// Verifies client certificates against the CA certificates in `path`; a
/// client may also present none (it is then identified as without mTLS).
fn client_verifier(path: &Path) -> Result<Arc<dyn ClientCertVerifier>, String> {
    let shown = path.display();
    let pem = std::fs::read(path).map_err(|e| format!("{shown}: {e}"))?;
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_pemfile::certs(&mut pem.as_slice()) {
        let cert = cert.map_err(|e| format!("{shown}: not a PEM certificate: {e}"))?;
        roots
            .add(cert)
            .map_err(|e| format!("{shown}: unusable CA certificate: {e}"))?;
    }
    if roots.is_empty() {
        return Err(format!("{shown}: no PEM certificate in the file"));
    }
    // ring, the provider Pingora's acceptor runs on; only its signature
    // algorithms are used here, so post-quantum key exchange does not matter.
    #[allow(deprecated)]
    let provider = rustls::crypto::ring::default_provider();
    WebPkiClientVerifier::builder_with_provider(Arc::new(roots), Arc::new(provider))
        .allow_unauthenticated()
        .build()
        .map_err(|e| format!("{shown}: {e}"))
}

/// Pingora's listener settings: the store as certificate source, client
/// certificates verified when `client_ca` is set, ALPN `h2` then `http/1.1`.
pub fn listener_settings(store: Arc<CertStore>) -> Result<TlsSettings, String> {
    let mut settings = TlsSettings::with_callbacks(Box::new(ClientNames))
        .map_err(|e| format!("server.tls: {e}"))?;
    if let Some(verifier) = &store.clients {
        settings.set_client_cert_verifier(verifier.clone());
    }
    settings.set_cert_resolver(store);
    settings.set_alpn(ALPN::H2H1);
    Ok(settings)
}

/// Hands the verified client certificate's names to the request (through the
/// connection's TLS digest) once the handshake is done.
struct ClientNames;

#[async_trait::async_trait]
impl TlsAccept for ClientNames {
    async fn handshake_complete_callback(
        &self,
        tls: &TlsRef,
    ) -> Option<Arc<dyn std::any::Any + Send + Sync>> {
        let names = peer_names(tls.peer_certificate_der()?);
        Some(Arc::new(names))
    }
}

/// The subject's common names and the DNS subject alternative names of a
/// (verified) certificate.
fn peer_names(der: &[u8]) -> PeerNames {
    let Ok((_, cert)) = x509_parser::parse_x509_certificate(der) else {
        return PeerNames::default();
    };
    let mut names: Vec<String> = cert
        .subject()
        .iter_common_name()
        .filter_map(|cn| cn.as_str().ok().map(str::to_string))
        .collect();
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        names.extend(san.value.general_names.iter().filter_map(|n| match n {
            x509_parser::extensions::GeneralName::DNSName(dns) => Some((*dns).to_string()),
            _ => None,
        }));
    }
    PeerNames(names)
}

/// The names of the client certificate verified on `session`'s connection.
pub fn session_peer_names(session: &pingora_proxy::Session) -> Option<&PeerNames> {
    session
        .digest()?
        .ssl_digest
        .as_ref()?
        .extension
        .get::<PeerNames>()
}

/// Reloads the certificate on SIGHUP (alongside the rules' own SIGHUP reload).
pub fn reload_on_sighup(store: Arc<CertStore>) -> std::io::Result<()> {
    let mut signals = signal_hook::iterator::Signals::new([signal_hook::consts::SIGHUP])?;
    std::thread::Builder::new()
        .name("execgate-tls-reload".into())
        .spawn(move || {
            for _ in signals.forever() {
                store.reload_logged("sighup");
            }
        })?;
    Ok(())
}

/// Reloads the certificate when a file changes in the certificate's or the
/// key's directory (see [`file_watch`](crate::file_watch)). The watcher must be kept alive.
pub fn watch(store: Arc<CertStore>) -> notify::Result<notify::RecommendedWatcher> {
    let dirs = store.watched();
    crate::file_watch::watch(
        dirs,
        crate::file_watch::Depth::Shallow,
        "execgate-tls-watch",
        move || store.reload_logged("watch"),
    )
}

/// Adds `Strict-Transport-Security` to every answer, the gateway's own
/// refusals included (Pingora runs downstream modules on both).
pub struct Hsts(http::HeaderValue);

impl Hsts {
    /// The header for `max_age`.
    pub fn new(max_age: Duration) -> Self {
        let value = format!("max-age={}", max_age.as_secs());
        Self(
            http::HeaderValue::from_str(&value)
                .unwrap_or(http::HeaderValue::from_static("max-age=0")),
        )
    }

    /// Registers the header on `modules`.
    pub fn register(&self, modules: &mut HttpModules) {
        modules.add_module(Box::new(HstsBuilder(self.0.clone())));
    }
}

struct HstsBuilder(http::HeaderValue);

impl HttpModuleBuilder for HstsBuilder {
    fn init(&self) -> Module {
        Box::new(HstsModule(self.0.clone()))
    }
}

struct HstsModule(http::HeaderValue);

#[async_trait::async_trait]
impl HttpModule for HstsModule {
    async fn response_header_filter(
        &mut self,
        resp: &mut ResponseHeader,
        _end_of_stream: bool,
    ) -> pingora_core::Result<()> {
        resp.insert_header(http::header::STRICT_TRANSPORT_SECURITY, self.0.clone())
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }

    fn as_any_mut(&mut self) -> &mut dyn std::any::Any {
        self
    }
}
