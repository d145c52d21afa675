//! The daemon's own certificate authority: made on first start, it signs the redeem listener's
//! server certificate and the client certificates of enrolled hosts. Its pin (`sha256:` + hex of
//! the CA certificate's DER) is what hosts check before they send a token.

use std::io::Write;
use std::net::IpAddr;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::Arc;

use gatepass_protocol::Timestamp;
use rcgen::{
    BasicConstraints, CertificateParams, CertificateSigningRequestParams, DistinguishedName,
    DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose, SanType, SerialNumber,
};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use time::OffsetDateTime;

use crate::error::Error;

const CA_DAYS: i64 = 3_650;
const SERVER_DAYS: i64 = 825;
const RENEW_BEFORE_DAYS: i64 = 30;

pub struct Ca {
    pub ca_pem: String,
    ca_der: CertificateDer<'static>,
    key: KeyPair,
    pub pin: String,
    pub server_config: Arc<rustls::ServerConfig>,
    cert_days: i64,
}

impl std::fmt::Debug for Ca {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ca")
            .field("pin", &self.pin)
            .finish_non_exhaustive()
    }
}

fn cert_err(e: impl std::fmt::Display) -> Error {
    Error::Certificates(e.to_string())
}

pub(crate) fn write_private(path: &Path, text: &str) -> Result<(), Error> {
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(|e| Error::io(format!("writing {}", tmp.display()), e))?;
    f.write_all(text.as_bytes())
        .and_then(|_| f.sync_all())
        .map_err(|e| Error::io("writing", e))?;
    std::fs::rename(&tmp, path).map_err(|e| Error::io(format!("writing {}", path.display()), e))
}

fn random_serial() -> Result<SerialNumber, Error> {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).map_err(|e| Error::Random(e.to_string()))?;
    b[0] &= 0x7f; // positive
    Ok(SerialNumber::from_slice(&b))
}

fn days_from_now(days: i64) -> OffsetDateTime {
    OffsetDateTime::now_utc() + time::Duration::days(days)
}

fn first_cert(pem: &str) -> Result<CertificateDer<'static>, Error> {
    CertificateDer::pem_slice_iter(pem.as_bytes())
        .next()
        .ok_or_else(|| cert_err("no certificate in PEM"))?
        .map_err(cert_err)
}

/// `sha256:` + lowercase hex, the form of CA pins and host-key fingerprints.
pub fn sha256_pin(bytes: &[u8]) -> String {
    let d = ring::digest::digest(&ring::digest::SHA256, bytes);
    let hex: String = d.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

impl Ca {
    /// Loads the CA and server certificate from `dir`, making whatever is missing. The server
    /// certificate is made again when its names change or it nears its end.
    pub fn load_or_create(
        dir: &Path,
        server_names: &[String],
        cert_days: u32,
    ) -> Result<Ca, Error> {
        let ca_cert_path = dir.join("ca.pem");
        let ca_key_path = dir.join("ca.key");
        let (ca_pem, key) = if ca_cert_path.exists() && ca_key_path.exists() {
            let pem = std::fs::read_to_string(&ca_cert_path).map_err(|e| Error::io("ca.pem", e))?;
            let key_pem = zeroize::Zeroizing::new(
                std::fs::read_to_string(&ca_key_path).map_err(|e| Error::io("ca.key", e))?,
            );
            (pem, KeyPair::from_pem(&key_pem).map_err(cert_err)?)
        } else {
            let key = KeyPair::generate().map_err(cert_err)?;
            let mut params = CertificateParams::default();
            let mut dn = DistinguishedName::new();
            dn.push(DnType::CommonName, "Gatepass CA");
            dn.push(DnType::OrganizationName, "Gatepass");
            params.distinguished_name = dn;
            params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
            params.key_usages = vec![
                KeyUsagePurpose::KeyCertSign,
                KeyUsagePurpose::CrlSign,
                KeyUsagePurpose::DigitalSignature,
            ];
            params.not_before = OffsetDateTime::now_utc() - time::Duration::hours(1);
            params.not_after = days_from_now(CA_DAYS);
            params.serial_number = Some(random_serial()?);
            let cert = params.self_signed(&key).map_err(cert_err)?;
            write_private(&ca_key_path, &key.serialize_pem())?;
            write_private(&ca_cert_path, &cert.pem())?;
            tracing::info!(path = %ca_cert_path.display(), "created the certificate authority");
            (cert.pem(), key)
        };
        let ca_der = first_cert(&ca_pem)?;
        let pin = sha256_pin(&ca_der);

        let server_cert_path = dir.join("server.pem");
        let server_key_path = dir.join("server.key");
        // server.meta: the names the certificate was made for, then its end as Unix seconds.
        let meta_path = dir.join("server.meta");
        let wanted_names = server_names.join("\n");
        let current = std::fs::read_to_string(&server_cert_path)
            .ok()
            .and_then(|pem| {
                let meta = std::fs::read_to_string(&meta_path).ok()?;
                let (names, end) = meta.rsplit_once("\n--\n")?;
                let end = OffsetDateTime::from_unix_timestamp(end.trim().parse().ok()?).ok()?;
                let key = std::fs::read_to_string(&server_key_path).ok()?;
                (names == wanted_names && end > days_from_now(RENEW_BEFORE_DAYS))
                    .then_some((pem, key))
            });
        let (server_pem, server_key_pem) = match current {
            Some(v) => v,
            None => {
                let issuer = Issuer::from_ca_cert_der(&ca_der, &key).map_err(cert_err)?;
                let server_key = KeyPair::generate().map_err(cert_err)?;
                let mut params = CertificateParams::default();
                let mut dn = DistinguishedName::new();
                dn.push(DnType::CommonName, "gatepassd");
                params.distinguished_name = dn;
                params.subject_alt_names = server_names
                    .iter()
                    .map(|n| match n.parse::<IpAddr>() {
                        Ok(ip) => Ok(SanType::IpAddress(ip)),
                        Err(_) => n.clone().try_into().map(SanType::DnsName).map_err(cert_err),
                    })
                    .collect::<Result<_, _>>()?;
                params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
                params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
                params.not_before = OffsetDateTime::now_utc() - time::Duration::hours(1);
                params.not_after = days_from_now(SERVER_DAYS);
                params.serial_number = Some(random_serial()?);
                let cert = params.signed_by(&server_key, &issuer).map_err(cert_err)?;
                let key_pem = server_key.serialize_pem();
                write_private(&server_key_path, &key_pem)?;
                write_private(&server_cert_path, &cert.pem())?;
                let meta = format!("{wanted_names}\n--\n{}", params.not_after.unix_timestamp());
                write_private(&meta_path, &meta)?;
                (cert.pem(), key_pem)
            }
        };
        let server_der = first_cert(&server_pem)?;
        let server_key_der =
            PrivateKeyDer::from_pem_slice(server_key_pem.as_bytes()).map_err(cert_err)?;
        let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(cert_err)?
        .with_no_client_auth()
        .with_single_cert(vec![server_der, ca_der.clone()], server_key_der)
        .map_err(cert_err)?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Ca {
            ca_pem,
            ca_der,
            key,
            pin,
            server_config: Arc::new(config),
            cert_days: i64::from(cert_days.max(1)),
        })
    }

    /// Signs a host's CSR: a client certificate (clientAuth only) naming the host and its id.
    /// Only the CSR's public key is used; whatever else it asks for is ignored.
    pub fn sign_host(
        &self,
        csr: &CertificateSigningRequestParams,
        host_id: &str,
        hostname: &str,
        now: Timestamp,
    ) -> Result<String, Error> {
        let issuer = Issuer::from_ca_cert_der(&self.ca_der, &self.key).map_err(cert_err)?;
        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, hostname);
        dn.push(DnType::OrganizationName, "Gatepass host");
        params.distinguished_name = dn;
        let mut sans = vec![SanType::URI(
            format!("urn:gatepass:host:{host_id}")
                .try_into()
                .map_err(cert_err)?,
        )];
        if let Ok(dns) = hostname.to_owned().try_into()
            && hostname
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
        {
            sans.push(SanType::DnsName(dns));
        }
        params.subject_alt_names = sans;
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.is_ca = IsCa::ExplicitNoCa;
        let start = OffsetDateTime::from_unix_timestamp(now.0).map_err(cert_err)?;
        params.not_before = start - time::Duration::minutes(5);
        params.not_after = start + time::Duration::days(self.cert_days);
        params.serial_number = Some(random_serial()?);
        let cert = params
            .signed_by(&csr.public_key, &issuer)
            .map_err(cert_err)?;
        Ok(cert.pem())
    }
}

/// A parsed and signature-checked CSR, with the fingerprint of its public key.
pub struct HostCsr {
    pub params: CertificateSigningRequestParams,
    /// `sha256:` + hex of the public key's SubjectPublicKeyInfo.
    pub key_fingerprint: String,
}

/// Parses a PEM CSR; `None` when it is not a valid, self-signed request.
pub fn parse_csr(pem: &str) -> Option<HostCsr> {
    use rcgen::PublicKeyData;
    let params = CertificateSigningRequestParams::from_pem(pem).ok()?;
    let spki = params.public_key.subject_public_key_info();
    let key_fingerprint = sha256_pin(&spki);
    Some(HostCsr {
        params,
        key_fingerprint,
    })
}
