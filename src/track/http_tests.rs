//! Unit tests of the http tracker against local servers (plain TCP and rustls), with
//! certificates made by the openssl command for each test.

use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::*;
use crate::spec::HttpTracker;
use crate::translate::http::UrlError;
use crate::translate::{TrackerKind, tracker};

/// The probe for `spec`, parsed as the translation parses it.
fn probe(spec: &HttpTracker) -> Result<HttpProbe, HttpSpecError> {
    let t = crate::spec::Tracker {
        name: "api".into(),
        weight: 0,
        script: None,
        process: None,
        file: None,
        interface: None,
        pods: None,
        http: Some(spec.clone()),
    };
    match tracker::parse_one(&t).expect("a valid http tracker").kind {
        TrackerKind::Http(config) => HttpProbe::new(&config),
        other => panic!("not http: {other:?}"),
    }
}

fn spec(url: &str) -> HttpTracker {
    HttpTracker {
        url: url.into(),
        expected_status: vec![200],
        interval: "1s".into(),
        timeout: Some("2s".into()),
        rise: 1,
        fall: 1,
        ca_file: None,
        insecure_skip_verify: false,
        server_name: None,
        client_cert_file: None,
        client_key_file: None,
    }
}

/// A server answering every request with `status` (after `delay`), on 127.0.0.1.
async fn plain_server(status: u16, delay: Duration) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 2048];
                let _ = s.read(&mut buf).await;
                tokio::time::sleep(delay).await;
                let reply = format!("HTTP/1.1 {status} X\r\ncontent-length: 0\r\n\r\n");
                let _ = s.write_all(reply.as_bytes()).await;
            });
        }
    });
    port
}

#[test]
fn urls_parse_with_defaults_and_refuse_what_cannot_be_fetched() {
    let t = parse_url("https://127.0.0.1:6443/readyz?verbose").unwrap();
    assert_eq!(
        t,
        Target {
            tls: true,
            host: "127.0.0.1".into(),
            port: 6443,
            path: "/readyz?verbose".into(),
            authority: "127.0.0.1:6443".into(),
        }
    );
    let t = parse_url("http://[2001:db8::1]").unwrap();
    assert_eq!(
        (t.tls, t.host.as_str(), t.port, t.path.as_str()),
        (false, "2001:db8::1", 80, "/")
    );
    assert_eq!(parse_url("https://lb.example/").unwrap().port, 443);
    for bad in [
        "ftp://h/",
        "/readyz",
        "127.0.0.1:6443",
        "https://u:p@h/",
        "http://",
    ] {
        assert!(
            matches!(parse_url(bad), Err(UrlError { .. })),
            "{bad} accepted"
        );
    }
}

#[tokio::test]
async fn status_codes_decide() {
    let ok = plain_server(200, Duration::ZERO).await;
    let o = probe(&spec(&format!("http://127.0.0.1:{ok}/readyz")))
        .unwrap()
        .check()
        .await;
    assert_eq!(
        (o.reading, o.detail.as_str()),
        (Reading::Pass, "status 200")
    );

    let down = plain_server(503, Duration::ZERO).await;
    let url = format!("http://127.0.0.1:{down}/readyz");
    let o = probe(&spec(&url)).unwrap().check().await;
    assert_eq!(
        (o.reading, o.detail.as_str()),
        (Reading::Fail, "status 503")
    );

    // Another expected set: 503 counts as healthy, 200 does not.
    let mut s = spec(&url);
    s.expected_status = vec![204, 503];
    let o = probe(&s).unwrap().check().await;
    assert_eq!(o.reading, Reading::Pass);
    s.url = format!("http://127.0.0.1:{ok}/");
    let o = probe(&s).unwrap().check().await;
    assert_eq!(
        (o.reading, o.detail.as_str()),
        (Reading::Fail, "status 200")
    );
}

#[tokio::test]
async fn a_refused_connection_fails() {
    // A port that was just free: bind, note, close.
    let port = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let o = probe(&spec(&format!("http://127.0.0.1:{port}/")))
        .unwrap()
        .check()
        .await;
    assert_eq!(o.reading, Reading::Fail);
    assert!(
        o.detail.starts_with(&format!("connect 127.0.0.1:{port}: ")),
        "{o:?}"
    );
}

#[tokio::test]
async fn a_slow_server_is_a_timeout() {
    let slow = plain_server(200, Duration::from_secs(30)).await;
    let mut s = spec(&format!("http://127.0.0.1:{slow}/"));
    s.timeout = Some("200ms".into());
    let o = probe(&s).unwrap().check().await;
    assert_eq!(
        (o.reading, o.detail.as_str()),
        (Reading::Fail, "timeout after 200ms")
    );
}

#[test]
fn timeout_defaults_to_the_interval_and_sub_second_intervals_work() {
    let mut s = spec("http://127.0.0.1/");
    s.interval = "250ms".into();
    s.timeout = None;
    let p = probe(&s).unwrap();
    assert_eq!(
        (p.interval(), p.timeout),
        (Duration::from_millis(250), Duration::from_millis(250))
    );
}

/// A CA, a server certificate for 127.0.0.1 signed by it, a second unrelated CA, and a
/// client certificate signed by the first CA, made with the openssl command.
struct Pki {
    dir: PathBuf,
}

impl Pki {
    fn new(tag: &str) -> Pki {
        let dir = std::env::temp_dir().join(format!("kvhttp-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let run = |args: &[&str]| {
            let out = Command::new("openssl")
                .args(args)
                .current_dir(&dir)
                .output()
                .expect("the openssl command (hack/deps.sh installs it)");
            assert!(
                out.status.success(),
                "openssl {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        for ca in ["ca", "other-ca"] {
            run(&[
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
                "-keyout",
                &format!("{ca}.key"),
                "-out",
                &format!("{ca}.crt"),
                "-days",
                "2",
                "-subj",
                &format!("/CN={ca}"),
            ]);
        }
        for (name, ext) in [
            (
                "server",
                "subjectAltName=IP:127.0.0.1,DNS:kubernetes\nextendedKeyUsage=serverAuth\n",
            ),
            ("client", "extendedKeyUsage=clientAuth\n"),
        ] {
            std::fs::write(dir.join(format!("{name}.ext")), ext).unwrap();
            run(&[
                "req",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
                "-keyout",
                &format!("{name}.key"),
                "-out",
                &format!("{name}.csr"),
                "-subj",
                &format!("/CN={name}"),
            ]);
            run(&[
                "x509",
                "-req",
                "-in",
                &format!("{name}.csr"),
                "-CA",
                "ca.crt",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-days",
                "2",
                "-out",
                &format!("{name}.crt"),
                "-extfile",
                &format!("{name}.ext"),
            ]);
        }
        Pki { dir }
    }

    fn path(&self, name: &str) -> String {
        self.dir.join(name).to_str().unwrap().to_string()
    }
}

impl Drop for Pki {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// An https server on 127.0.0.1 answering 200, requiring a client certificate signed by the
/// CA when `client_auth`.
async fn tls_server(pki: &Pki, client_auth: bool) -> u16 {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let certs = read_certs(pki.path("server.crt").as_ref()).unwrap();
    let key = PrivateKeyDer::from_pem_file(pki.path("server.key")).unwrap();
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .unwrap();
    let builder = if client_auth {
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(read_certs(pki.path("ca.crt").as_ref()).unwrap().remove(0))
            .unwrap();
        let verifier =
            rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .unwrap();
        builder.with_client_cert_verifier(verifier)
    } else {
        builder.with_no_client_auth()
    };
    let config = builder.with_single_cert(certs, key).unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((s, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut s) = acceptor.accept(s).await else {
                    return;
                };
                let mut buf = [0u8; 2048];
                let _ = s.read(&mut buf).await;
                let _ = s
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
                    .await;
                let _ = s.shutdown().await;
            });
        }
    });
    port
}

#[tokio::test]
async fn tls_is_verified_against_the_ca_file() {
    let pki = Pki::new("ca");
    let port = tls_server(&pki, false).await;
    let url = format!("https://127.0.0.1:{port}/readyz");
    let mut s = spec(&url);
    s.ca_file = Some(pki.path("ca.crt"));
    let o = probe(&s).unwrap().check().await;
    assert_eq!(
        (o.reading, o.detail.as_str()),
        (Reading::Pass, "status 200")
    );

    // The wrong CA: a failure, and the detail says it is the certificate.
    s.ca_file = Some(pki.path("other-ca.crt"));
    let o = probe(&s).unwrap().check().await;
    assert_eq!(o.reading, Reading::Fail);
    assert!(
        o.detail.starts_with("TLS: invalid peer certificate"),
        "{o:?}"
    );

    // No CA file: the system's roots do not know the test CA either.
    s.ca_file = None;
    let o = probe(&s).unwrap().check().await;
    assert_eq!(o.reading, Reading::Fail, "{o:?}");

    // The certificate checked for another name than the URL's host (kubeadm: `kubernetes`).
    s.ca_file = Some(pki.path("ca.crt"));
    s.server_name = Some("kubernetes".into());
    let o = probe(&s).unwrap().check().await;
    assert_eq!(o.reading, Reading::Pass, "{o:?}");
    s.server_name = Some("etcd".into());
    let o = probe(&s).unwrap().check().await;
    assert!(
        o.detail.starts_with("TLS: invalid peer certificate"),
        "{o:?}"
    );
    s.server_name = None;
    s.ca_file = None;

    // Verification off, explicitly.
    s.insecure_skip_verify = true;
    let o = probe(&s).unwrap().check().await;
    assert_eq!(o.reading, Reading::Pass, "{o:?}");
}

#[tokio::test]
async fn a_server_wanting_a_client_certificate_gets_it() {
    let pki = Pki::new("client");
    let port = tls_server(&pki, true).await;
    let mut s = spec(&format!("https://127.0.0.1:{port}/"));
    s.ca_file = Some(pki.path("ca.crt"));
    let o = probe(&s).unwrap().check().await;
    assert_eq!(
        o.reading,
        Reading::Fail,
        "without a client certificate: {o:?}"
    );
    s.client_cert_file = Some(pki.path("client.crt"));
    s.client_key_file = Some(pki.path("client.key"));
    let o = probe(&s).unwrap().check().await;
    assert_eq!(
        (o.reading, o.detail.as_str()),
        (Reading::Pass, "status 200")
    );
}

#[test]
fn unusable_pem_files_are_reported_with_their_path() {
    let mut s = spec("https://127.0.0.1/");
    s.ca_file = Some("/nonexistent/kv-ca.crt".into());
    let err = probe(&s).unwrap_err();
    assert!(
        matches!(&err, HttpSpecError::Pem { path, .. } if path == "/nonexistent/kv-ca.crt"),
        "{err:?}"
    );
    let empty = std::env::temp_dir().join(format!("kvhttp-empty-{}.pem", std::process::id()));
    std::fs::write(&empty, "not a certificate\n").unwrap();
    s.ca_file = Some(empty.to_str().unwrap().into());
    let err = probe(&s).unwrap_err();
    let _ = std::fs::remove_file(&empty);
    assert!(
        matches!(&err, HttpSpecError::Pem { why, .. } if why == "no certificate in the file"),
        "{err:?}"
    );
}
