//! The CA pin and client certificates: what a host checks and what it gets.

use std::sync::Arc;

use gatepass_protocol::client::{ClientError, HttpsTarget, TrustMode, pin_of_pem};
use rustls::pki_types::{CertificateDer, UnixTime, pem::PemObject};
use rustls::server::WebPkiClientVerifier;

use crate::support::{Daemon, assert_error};

pub fn csr_for(key: &rcgen::KeyPair, host: &str) -> String {
    rcgen::CertificateParams::new(vec![host.to_owned()])
        .unwrap()
        .serialize_request(key)
        .unwrap()
        .pem()
        .unwrap()
}

#[tokio::test]
async fn the_printed_pin_is_the_ca_the_server_presents() {
    let d = Daemon::start();
    let ca = std::fs::read_to_string(d.data_dir().join("ca.pem")).unwrap();
    assert_eq!(pin_of_pem(&ca).unwrap(), d.pin);
    // The pinned connection works (the whoami pin agrees too).
    let (secret, _) = d.mint(&["--name", "t"]);
    assert_eq!(d.redeem(&secret, r#"{"hostname":"h"}"#).await.status, 201);
    assert_eq!(d.client().whoami().await.unwrap().ca_pin, d.pin);
    // Trusting the CA file works as well.
    let by_file = HttpsTarget::parse(&d.redeem_url, TrustMode::CaPem(ca)).unwrap();
    assert_eq!(
        by_file
            .request("GET", "/healthz", &[], vec![])
            .await
            .unwrap()
            .status,
        200
    );
}

#[tokio::test]
async fn a_wrong_pin_refuses_before_the_token_is_sent() {
    let d = Daemon::start();
    let (secret, id) = d.mint(&["--name", "t"]);
    let wrong = format!("sha256:{}", "ab".repeat(32));
    let target = HttpsTarget::parse(&d.redeem_url, TrustMode::Pin(wrong)).unwrap();
    let auth = format!("Bearer {secret}");
    let err = target
        .request(
            "POST",
            "/v1/redeem",
            &[
                ("authorization", &auth),
                ("content-type", "application/json"),
            ],
            b"{\"hostname\":\"h\"}".to_vec(),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, ClientError::Tls(ref m) if m.contains("pin")),
        "{err:?}"
    );
    // The daemon saw no attempt at all.
    let audit: serde_json::Value = serde_json::from_str(&d.cli_ok(&["audit", "--json"])).unwrap();
    let actions: Vec<&str> = audit
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["created"]);
    assert_eq!(d.token_json(&id)["uses"], 0);
}

#[tokio::test]
async fn a_csr_gets_a_client_certificate_that_verifies_against_the_returned_ca() {
    let d = Daemon::start();
    let (secret, id) = d.mint(&["--name", "t"]);
    let key = rcgen::KeyPair::generate().unwrap();
    let body =
        serde_json::json!({"hostname": "web-01", "csr": csr_for(&key, "web-01")}).to_string();
    let r = d.redeem(&secret, &body).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    let ca = CertificateDer::from_pem_slice(v["ca_pem"].as_str().unwrap().as_bytes()).unwrap();
    let cert = CertificateDer::from_pem_slice(v["cert_pem"].as_str().unwrap().as_bytes()).unwrap();
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
        .build()
        .unwrap();
    verifier
        .verify_client_cert(&cert, &[], UnixTime::now())
        .expect("the client certificate verifies against the CA");

    // The certificate carries the host's own public key.
    assert_eq!(ec_public_key(&cert), key.public_key_raw());

    // A retry with the same key (a lost answer) gets the same enrollment, no use spent.
    let again = d.redeem(&secret, &body).await;
    assert_eq!(again.status, 201, "{}", again.text());
    let v2: serde_json::Value = serde_json::from_slice(&again.body).unwrap();
    assert_eq!(v2["host_id"], v["host_id"]);
    assert_eq!(d.token_json(&id)["uses"], 1);
    // A different key is a different host: the single use is gone.
    let other = rcgen::KeyPair::generate().unwrap();
    let body =
        serde_json::json!({"hostname": "web-02", "csr": csr_for(&other, "web-02")}).to_string();
    assert_error(&d.redeem(&secret, &body).await, 410, "token_exhausted");
    // Past the grace window, the same key is refused too.
    d.set_clock_offset(11 * 60);
    let body =
        serde_json::json!({"hostname": "web-01", "csr": csr_for(&key, "web-01")}).to_string();
    assert_error(&d.redeem(&secret, &body).await, 410, "token_exhausted");
}

/// The raw subject public key of a certificate (the bit string inside its SPKI), found by
/// locating the key bytes: enough to compare with the key pair's raw public key.
fn ec_public_key(cert: &CertificateDer<'_>) -> Vec<u8> {
    let der: &[u8] = cert.as_ref();
    // P-256 uncompressed points are 65 bytes starting with 0x04, preceded by BIT STRING 03 42 00.
    let pos = der
        .windows(3)
        .position(|w| w == [0x03, 0x42, 0x00])
        .expect("an EC public key");
    der[pos + 3..pos + 3 + 65].to_vec()
}

/// A TLS handshake with the redeem listener, trusting only the daemon's CA and checking the
/// certificate for `name` (the connection itself goes to the listener on 127.0.0.1).
async fn handshake_as(d: &Daemon, name: &str) -> Result<(), String> {
    let ca = std::fs::read(d.data_dir().join("ca.pem")).unwrap();
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(&ca).unwrap())
        .unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(d.redeem_url.trim_start_matches("https://"))
        .await
        .unwrap();
    let server_name = rustls::pki_types::ServerName::try_from(name.to_owned()).unwrap();
    connector
        .connect(server_name, tcp)
        .await
        .map(drop)
        .map_err(|e| e.to_string())
}

/// `tls.server_names` adds names and addresses to the server certificate (a host may reach the
/// daemon by a name of its own and verify it), and `redeem.cert_days` sets the lifetime of the
/// client certificates it signs.
#[tokio::test]
async fn server_names_and_cert_days_come_from_the_config() {
    let d = Daemon::start_with_config(
        "[tls]\nserver_names = [\"gate.example.test\", \"192.0.2.10\"]\n\n\
         [redeem]\ncert_days = 7\n",
    );
    for name in ["gate.example.test", "192.0.2.10", "localhost", "127.0.0.1"] {
        assert_eq!(handshake_as(&d, name).await, Ok(()), "{name}");
    }
    let other = handshake_as(&d, "other.example.test").await;
    assert!(
        other.is_err(),
        "a name not configured is not in the certificate"
    );

    let (secret, _) = d.mint(&["--name", "t"]);
    let key = rcgen::KeyPair::generate().unwrap();
    let body = serde_json::json!({"hostname": "h", "csr": csr_for(&key, "h")}).to_string();
    let r = d.redeem(&secret, &body).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    let cert = CertificateDer::from_pem_slice(v["cert_pem"].as_str().unwrap().as_bytes()).unwrap();
    // Checked as a peer would: the CA accepts it six days from now, and no longer eight.
    let ca = std::fs::read(d.data_dir().join("ca.pem")).unwrap();
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(&ca).unwrap())
        .unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
        .build()
        .unwrap();
    let in_days = |days: u64| {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap();
        UnixTime::since_unix_epoch(now + std::time::Duration::from_secs(days * 86_400))
    };
    verifier
        .verify_client_cert(&cert, &[], in_days(6))
        .expect("valid six days from now");
    let late = verifier.verify_client_cert(&cert, &[], in_days(8));
    assert!(
        late.is_err(),
        "still valid eight days from now: cert_days ignored"
    );
}
