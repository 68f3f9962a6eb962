//! A webhook URL an alert may be sent to: http or https, a host, and never a
//! link-local address (cloud metadata services live there) or an unspecified one.

use std::fmt;
use std::net::IpAddr;

/// A checked webhook URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookUrl(reqwest::Url);

impl WebhookUrl {
    /// Parses and checks `text`; the error says what is wrong.
    pub fn parse(text: &str) -> Result<Self, String> {
        let url = reqwest::Url::parse(text).map_err(|e| format!("not a URL: {e}"))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!("scheme {:?} is not http or https", url.scheme()));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err("credentials in a webhook URL end up in logs: use `secret`".into());
        }
        let ip = match url.host() {
            None => return Err("the URL has no host".into()),
            Some(url::Host::Domain(_)) => None,
            Some(url::Host::Ipv4(v4)) => Some(IpAddr::V4(v4)),
            Some(url::Host::Ipv6(v6)) => Some(IpAddr::V6(v6)),
        };
        if let Some(ip) = ip.map(|ip| ip.to_canonical()) {
            if link_local(ip) {
                return Err(format!("{ip} is a link-local address"));
            }
            if ip.is_unspecified() || ip.is_multicast() {
                return Err(format!("{ip} is not a host to send to"));
            }
        }
        Ok(Self(url))
    }

    /// The URL.
    pub fn as_url(&self) -> &reqwest::Url {
        &self.0
    }
}

fn link_local(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_link_local(),
        IpAddr::V6(v6) => (v6.segments()[0] & 0xffc0) == 0xfe80,
    }
}

impl fmt::Display for WebhookUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_http_urls_to_real_hosts_pass() {
        assert!(WebhookUrl::parse("https://hooks.slack.com/services/T/B/X").is_ok());
        assert!(WebhookUrl::parse("http://127.0.0.1:9999/hook").is_ok());
        let err = |u: &str| WebhookUrl::parse(u).unwrap_err();
        assert_eq!(
            err("ftp://example.com/x"),
            "scheme \"ftp\" is not http or https"
        );
        assert_eq!(
            err("file:///etc/passwd"),
            "scheme \"file\" is not http or https"
        );
        assert_eq!(
            err("http://169.254.169.254/latest/meta-data"),
            "169.254.169.254 is a link-local address"
        );
        assert_eq!(err("http://[fe80::1]/x"), "fe80::1 is a link-local address");
        assert_eq!(
            err("http://[::ffff:169.254.1.1]/x"),
            "169.254.1.1 is a link-local address"
        );
        assert_eq!(err("http://0.0.0.0/x"), "0.0.0.0 is not a host to send to");
        assert!(err("http://user:pw@example.com/").contains("credentials"));
        assert!(err("not a url").starts_with("not a URL"));
    }
}
