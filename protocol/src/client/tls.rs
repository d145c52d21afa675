//! TLS for the client: trust the daemon's own CA by its pin (like kubeadm's discovery hash), by
//! a CA file, or — only when told — not at all.
//!
//! The pin is `sha256:` + hex of the CA certificate's DER. With a pin, the chain must verify up
//! to the pinned CA and carry the serverAuth usage; the host name is not checked, because the
//! pin, not the name, identifies the server (hosts often reach it by an address not in its
//! certificate). Client certificates the CA signs carry only clientAuth, so they cannot pose as
//! the server.

use std::sync::Arc;

use ring::digest;
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};
use rustls_pki_types::pem::PemObject;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use super::ClientError;

/// How the client decides to trust the server.
#[derive(Debug, Clone)]
pub enum TrustMode {
    /// `sha256:<hex>` of the CA certificate's DER.
    Pin(String),
    /// A CA certificate in PEM.
    CaPem(String),
    /// Trust anything (`--insecure-skip-pin`).
    Insecure,
}

/// `sha256:` + hex of a certificate's DER.
pub fn pin_of_der(der: &[u8]) -> String {
    let d = digest::digest(&digest::SHA256, der);
    let hex: String = d.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

/// The pin of the first certificate in a PEM text.
pub fn pin_of_pem(pem: &str) -> Option<String> {
    CertificateDer::pem_slice_iter(pem.as_bytes())
        .next()?
        .ok()
        .map(|c| pin_of_der(&c))
}

fn normalise_pin(pin: &str) -> String {
    let p = pin.trim().to_ascii_lowercase();
    if p.starts_with("sha256:") {
        p
    } else {
        format!("sha256:{p}")
    }
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

#[derive(Debug)]
struct PinnedVerifier {
    pin: Option<String>,
    ca_der: Option<CertificateDer<'static>>,
    provider: Arc<CryptoProvider>,
}

impl PinnedVerifier {
    fn verify_with_root(
        &self,
        root: &CertificateDer<'_>,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let mut roots = RootCertStore::empty();
        roots.add(root.clone().into_owned())?;
        let v = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), self.provider.clone())
            .build()
            .map_err(|e| rustls::Error::General(e.to_string()))?;
        match v.verify_server_cert(end_entity, intermediates, server_name, &[], now) {
            Ok(ok) => Ok(ok),
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            Err(e) => Err(e),
        }
    }
}

impl ServerCertVerifier for PinnedVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        _ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if let Some(ca) = &self.ca_der {
            return self.verify_with_root(ca, end_entity, intermediates, server_name, now);
        }
        let Some(pin) = &self.pin else {
            return Ok(ServerCertVerified::assertion());
        };
        let ca = std::iter::once(end_entity)
            .chain(intermediates)
            .find(|c| &pin_of_der(c) == pin)
            .ok_or_else(|| {
                rustls::Error::General(
                    "the server's CA does not match the pin: refusing to send the token".into(),
                )
            })?;
        self.verify_with_root(ca, end_entity, intermediates, server_name, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

pub(super) async fn connect(
    host: &str,
    trust: &TrustMode,
    tcp: TcpStream,
) -> Result<TlsStream<TcpStream>, ClientError> {
    let provider = provider();
    let verifier = match trust {
        TrustMode::Pin(p) => PinnedVerifier {
            pin: Some(normalise_pin(p)),
            ca_der: None,
            provider: provider.clone(),
        },
        TrustMode::CaPem(pem) => {
            let der = CertificateDer::pem_slice_iter(pem.as_bytes())
                .next()
                .and_then(|c| c.ok())
                .ok_or_else(|| ClientError::Tls("the CA file holds no PEM certificate".into()))?;
            PinnedVerifier {
                pin: None,
                ca_der: Some(der),
                provider: provider.clone(),
            }
        }
        TrustMode::Insecure => PinnedVerifier {
            pin: None,
            ca_der: None,
            provider: provider.clone(),
        },
    };
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ClientError::Tls(e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    let name =
        ServerName::try_from(host.to_owned()).map_err(|_| ClientError::BadUrl(host.to_owned()))?;
    TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await
        .map_err(|e| ClientError::Tls(e.to_string()))
}
