//! TLS to the executors (`[upstream] tls = true`): the name sent and
//! verified, the CA certificates trusted, and verification (on unless
//! `verify = false`), applied to every peer and to the health probe.

use crate::config::settings::UpstreamTls;
use pingora_core::upstreams::peer::HttpPeer;
use pingora_core::utils::tls::{WrappedX509, parse_x509};
use pingora_load_balancing::Backend;
use std::net::SocketAddr;
use std::sync::Arc;

/// How peers speak TLS.
pub struct PeerTls {
    /// The configured name; `None`: each executor's IP address.
    sni: Option<String>,
    /// The name the probe sends (the configured one, or the only executor's IP).
    probe_sni: String,
    ca: Option<Arc<[WrappedX509]>>,
    verify: bool,
}

impl PeerTls {
    /// From the checked settings; `first` is the first executor's address.
    pub fn new(settings: &UpstreamTls, first: SocketAddr) -> Self {
        let ca = settings.ca.as_ref().map(|certs| {
            certs
                .iter()
                // Parsed once already when the config was checked.
                .map(|der| WrappedX509::new(der.clone(), parse_x509))
                .collect::<Vec<_>>()
                .into()
        });
        Self {
            sni: settings.sni.clone(),
            probe_sni: settings
                .sni
                .clone()
                .unwrap_or_else(|| first.ip().to_string()),
            ca,
            verify: settings.verify,
        }
    }

    /// A TLS peer for `backend`.
    pub fn peer(&self, backend: Backend) -> HttpPeer {
        let sni = self.sni.clone().unwrap_or_else(|| {
            backend
                .addr
                .as_inet()
                .map_or_else(String::new, |a| a.ip().to_string())
        });
        let mut peer = HttpPeer::new(backend, true, sni);
        self.options(&mut peer);
        peer
    }

    /// Makes `template` (the health probe's peer) speak TLS.
    pub fn apply(&self, template: &mut HttpPeer) {
        template.scheme = pingora_core::upstreams::peer::Scheme::HTTPS;
        template.sni = self.probe_sni.clone();
        self.options(template);
    }

    fn options(&self, peer: &mut HttpPeer) {
        peer.options.ca = self.ca.clone();
        peer.options.verify_cert = self.verify;
        peer.options.verify_hostname = self.verify;
    }
}
