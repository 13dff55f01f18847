//! The http tracker: GET a URL every `interval` on a fresh connection (as curl from a
//! vrrp_script would); a run passes when the status code is one of `expectedStatus`. Connection
//! errors, TLS failures (an untrusted or mismatching certificate) and a run that takes longer
//! than `timeout` are failures. Each check is one task with its own deadline, so a slow server
//! delays only this tracker, never the other trackers or the engine.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Empty;
use hyper_util::rt::TokioIo;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::time::MissedTickBehavior;

use super::{Observation, Reading};
use crate::duration;
use crate::translate::http::{HttpConfig, TlsConfig};
pub use crate::translate::http::{Target, parse_url};

/// Why an http tracker cannot run its checks: its TLS files or settings (reported at start,
/// as the tracker's error).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HttpSpecError {
    /// A PEM file that cannot be read or holds nothing usable.
    #[error("{path}: {why}")]
    Pem {
        /// The file.
        path: String,
        /// What is wrong.
        why: String,
    },
    /// TLS settings that cannot be combined into a client.
    #[error("TLS: {0}")]
    Tls(String),
}

/// An http check, ready to run.
#[derive(Clone)]
pub struct HttpProbe {
    target: Target,
    expected: Vec<u16>,
    interval: Duration,
    timeout: Duration,
    tls: Option<tokio_rustls::TlsConnector>,
    /// The name the certificate is checked against (default: the URL's host).
    server_name: String,
}

impl std::fmt::Debug for HttpProbe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpProbe")
            .field("target", &self.target)
            .field("expected", &self.expected)
            .field("interval", &self.interval)
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl HttpProbe {
    /// From an http tracker's configuration; reads the CA and client certificate files (so a
    /// missing file is reported once, at start, as the tracker's error).
    pub fn new(config: &HttpConfig) -> Result<HttpProbe, HttpSpecError> {
        let target = config.target.clone();
        let tls = if target.tls {
            Some(tokio_rustls::TlsConnector::from(Arc::new(client_config(
                &config.tls,
            )?)))
        } else {
            None
        };
        Ok(HttpProbe {
            expected: config.expected_status.clone(),
            interval: config.interval,
            timeout: config.timeout,
            tls,
            server_name: config.tls.server_name.clone(),
            target,
        })
    }

    /// Time between checks.
    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// Run one check, bounded by the timeout.
    pub async fn check(&self) -> Observation {
        match tokio::time::timeout(self.timeout, self.get()).await {
            Ok(Ok(code)) if self.expected.contains(&code) => {
                Observation::new(Reading::Pass, format!("status {code}"))
            }
            Ok(Ok(code)) => Observation::new(Reading::Fail, format!("status {code}")),
            Ok(Err(why)) => Observation::new(Reading::Fail, why),
            Err(_) => Observation::new(
                Reading::Fail,
                format!("timeout after {}", duration::format(self.timeout)),
            ),
        }
    }

    /// Connect, GET, return the status code (the body is not read).
    async fn get(&self) -> Result<u16, String> {
        let t = &self.target;
        let tcp = TcpStream::connect((t.host.as_str(), t.port))
            .await
            .map_err(|e| format!("connect {}: {e}", t.authority))?;
        let _ = tcp.set_nodelay(true);
        match &self.tls {
            None => request(TokioIo::new(tcp), t).await,
            Some(connector) => {
                let name = ServerName::try_from(self.server_name.clone())
                    .map_err(|e| format!("server name {:?}: {e}", self.server_name))?;
                let stream = connector
                    .connect(name, tcp)
                    .await
                    .map_err(|e| format!("TLS: {e}"))?;
                request(TokioIo::new(stream), t).await
            }
        }
    }

    /// Check now and then every `interval` (a slow check delays the next one), sending each
    /// result as `(index, observation)` until the receiver goes away.
    pub async fn run(self, index: usize, tx: mpsc::Sender<(usize, Observation)>) {
        let mut ticks = tokio::time::interval(self.interval);
        ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            let observation = self.check().await;
            if tx.send((index, observation)).await.is_err() {
                return;
            }
        }
    }
}

/// One HTTP/1.1 GET on an open connection.
async fn request<S>(io: TokioIo<S>, t: &Target) -> Result<u16, String>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(|e| format!("HTTP: {e}"))?;
    // Drives the connection; ends when the response is dropped or the peer closes.
    let driver = tokio::spawn(conn);
    let req = hyper::Request::get(t.path.as_str())
        .header(hyper::header::HOST, t.authority.as_str())
        .header(hyper::header::USER_AGENT, "kube-vrrp-http-tracker")
        .header(hyper::header::CONNECTION, "close")
        .body(Empty::<Bytes>::new())
        .map_err(|e| format!("request: {e}"))?;
    let result = sender.send_request(req).await;
    driver.abort();
    result
        .map(|r| r.status().as_u16())
        .map_err(|e| format!("HTTP: {e}"))
}

/// The rustls client for a spec: the CA file's roots (or the system's), or no verification
/// when asked explicitly; a client certificate when given.
fn client_config(spec: &TlsConfig) -> Result<rustls::ClientConfig, HttpSpecError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| HttpSpecError::Tls(e.to_string()))?;
    let builder = if spec.insecure_skip_verify {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAny(provider)))
    } else {
        let mut roots = rustls::RootCertStore::empty();
        match &spec.ca_file {
            Some(path) => {
                for cert in read_certs(path)? {
                    roots.add(cert).map_err(|e| HttpSpecError::Pem {
                        path: path.display().to_string(),
                        why: e.to_string(),
                    })?;
                }
            }
            None => {
                let found = rustls_native_certs_fallback();
                roots.add_parsable_certificates(found);
            }
        }
        builder.with_root_certificates(roots)
    };
    match &spec.client_cert {
        Some((cert, key)) => {
            let chain = read_certs(cert)?;
            let key = PrivateKeyDer::from_pem_file(key).map_err(|e| HttpSpecError::Pem {
                path: key.display().to_string(),
                why: e.to_string(),
            })?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| HttpSpecError::Tls(e.to_string()))
        }
        None => Ok(builder.with_no_client_auth()),
    }
}

/// Every certificate of a PEM file (at least one).
fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, HttpSpecError> {
    let pem = |why: String| HttpSpecError::Pem {
        path: path.display().to_string(),
        why,
    };
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| pem(e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pem(e.to_string()))?;
    if certs.is_empty() {
        return Err(pem("no certificate in the file".into()));
    }
    Ok(certs)
}

/// The system's CA bundle (Debian's path), for https URLs without caFile; none when absent
/// (every https check then fails with an untrusted-certificate error, which says what to set).
fn rustls_native_certs_fallback() -> Vec<CertificateDer<'static>> {
    const BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";
    CertificateDer::pem_file_iter(BUNDLE)
        .map(|certs| certs.filter_map(Result::ok).collect())
        .unwrap_or_default()
}

/// insecureSkipVerify: any certificate is accepted; the handshake signatures are still
/// checked (so the connection is encrypted, just not authenticated).
#[derive(Debug)]
struct AcceptAny(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AcceptAny {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
#[path = "http_tests.rs"]
mod tests;
