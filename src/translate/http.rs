//! The http tracker's spec, parsed: the URL split into what a check needs, the durations, the
//! status codes and the TLS files. Every problem names its field.

use std::path::PathBuf;
use std::time::Duration;

use hyper::Uri;

use super::fields::{Fields, check_interval, check_rise_fall};
use crate::spec::HttpTracker;

/// An http tracker URL that cannot be fetched.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{url:?} is not an http:// or https:// URL with a host: {why}")]
pub struct UrlError {
    /// The URL as written.
    pub url: String,
    /// What is wrong.
    pub why: String,
}

/// The parts of the URL a check needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// https?
    pub tls: bool,
    /// Host as written (an IPv6 literal without brackets).
    pub host: String,
    /// Port (default 80 / 443).
    pub port: u16,
    /// Path and query ("/" when empty).
    pub path: String,
    /// The Host header.
    pub authority: String,
}

/// Parse an http tracker URL.
pub fn parse_url(url: &str) -> Result<Target, UrlError> {
    let bad = |why: &str| UrlError {
        url: url.to_string(),
        why: why.to_string(),
    };
    let uri: Uri = url
        .parse()
        .map_err(|e: hyper::http::uri::InvalidUri| bad(&e.to_string()))?;
    let tls = match uri.scheme_str() {
        Some("https") => true,
        Some("http") => false,
        Some(_) => return Err(bad("the scheme must be http or https")),
        None => return Err(bad("missing http:// or https://")),
    };
    let authority = uri.authority().ok_or_else(|| bad("missing host"))?;
    if authority.as_str().contains('@') {
        return Err(bad("user information in the URL is not supported"));
    }
    let host = authority
        .host()
        .trim_start_matches('[')
        .trim_end_matches(']');
    if host.is_empty() {
        return Err(bad("missing host"));
    }
    let port = authority.port_u16().unwrap_or(if tls { 443 } else { 80 });
    let path = uri
        .path_and_query()
        .map_or("/".to_string(), |p| p.as_str().to_string());
    Ok(Target {
        tls,
        host: host.to_string(),
        port,
        path: if path.is_empty() { "/".into() } else { path },
        authority: authority.as_str().to_string(),
    })
}

/// An http tracker, ready to run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpConfig {
    /// What to GET.
    pub target: Target,
    /// Status codes that count as healthy.
    pub expected_status: Vec<u16>,
    /// Time between checks.
    pub interval: Duration,
    /// A check not answered within this long fails.
    pub timeout: Duration,
    /// Successes needed to go up.
    pub rise: u32,
    /// Failures needed to go down.
    pub fall: u32,
    /// https settings (ignored for http:// URLs, which may set none).
    pub tls: TlsConfig,
}

/// How an https check verifies the server and presents itself.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TlsConfig {
    /// PEM file of the CA certificates to trust; `None`: the system's roots.
    pub ca_file: Option<PathBuf>,
    /// Accept any server certificate.
    pub insecure_skip_verify: bool,
    /// The name the certificate must carry (default: the URL's host).
    pub server_name: String,
    /// PEM client certificate and its private key.
    pub client_cert: Option<(PathBuf, PathBuf)>,
}

/// Parse an http tracker; `None` when something is wrong (reported to `f`).
pub(super) fn parse(h: &HttpTracker, f: &mut Fields<'_>) -> Option<HttpConfig> {
    let before = f.count();
    let target = match parse_url(&h.url) {
        Ok(target) => Some(target),
        Err(e) => {
            f.report("url", e.to_string());
            None
        }
    };
    let tls = target.as_ref().map(|t| t.tls);
    if h.expected_status.is_empty() {
        f.report("expectedStatus", "must list at least one status code");
    }
    if let Some(code) = h.expected_status.iter().find(|c| !(100..=599).contains(*c)) {
        f.report(
            "expectedStatus",
            format!("{code} is not an HTTP status code (100-599)"),
        );
    }
    let interval = check_interval(f, "interval", &h.interval);
    let timeout = match &h.timeout {
        Some(t) => check_interval(f, "timeout", t),
        None => interval,
    };
    check_rise_fall(f, h.rise, h.fall);
    if let Some(name) = &h.server_name {
        if rustls::pki_types::ServerName::try_from(name.as_str()).is_err() {
            f.report(
                "serverName",
                format!("{name:?} is not a DNS name or IP address"),
            );
        }
        if tls == Some(false) {
            f.report("serverName", "applies to https:// URLs only");
        }
    }
    for (field, path) in [
        ("caFile", &h.ca_file),
        ("clientCertFile", &h.client_cert_file),
        ("clientKeyFile", &h.client_key_file),
    ] {
        if let Some(p) = path {
            if !p.starts_with('/') {
                f.report(field, format!("{p:?} must be an absolute path"));
            }
            if tls == Some(false) {
                f.report(field, "applies to https:// URLs only");
            }
        }
    }
    if h.insecure_skip_verify && tls == Some(false) {
        f.report("insecureSkipVerify", "applies to https:// URLs only");
    }
    if h.insecure_skip_verify && h.ca_file.is_some() {
        f.report(
            "insecureSkipVerify",
            "set either caFile (verify against it) or insecureSkipVerify (verify nothing), not both",
        );
    }
    if h.client_cert_file.is_some() != h.client_key_file.is_some() {
        f.report(
            "clientCertFile",
            "clientCertFile and clientKeyFile go together",
        );
    }
    let (target, interval, timeout) = (target?, interval?, timeout?);
    if f.count() != before {
        return None;
    }
    let tls = TlsConfig {
        ca_file: h.ca_file.as_ref().map(PathBuf::from),
        insecure_skip_verify: h.insecure_skip_verify,
        server_name: h.server_name.clone().unwrap_or(target.host.clone()),
        client_cert: h
            .client_cert_file
            .as_ref()
            .zip(h.client_key_file.as_ref())
            .map(|(c, k)| (PathBuf::from(c), PathBuf::from(k))),
    };
    Some(HttpConfig {
        target,
        expected_status: h.expected_status.clone(),
        interval,
        timeout,
        rise: h.rise,
        fall: h.fall,
        tls,
    })
}
