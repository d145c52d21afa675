//! TLS to PostgreSQL, with rustls (the daemon's own TLS library: no second one to build).
//!
//! The URL says it the way libpq does: `sslmode=require`, `verify-ca` or `verify-full` turns
//! TLS on, and `sslrootcert=PATH` names the certificate (PEM) of the CA that signed the
//! server's. Gatepass always checks the server's certificate and name against that CA, in
//! every one of those modes: a store's connection that anyone on the path could answer is not
//! worth encrypting. TLS without `sslrootcert` is refused at start, saying so. `disable`,
//! `allow`, `prefer` or no `sslmode` connect in plain text (a Unix socket, or a private
//! network). As with libpq, TLS does not apply to a Unix socket: a URL whose hosts are all
//! sockets connects in plain text whatever its `sslmode`, and the log says so once. A parameter
//! of these given twice is refused (the last must not silently win).

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use rustls::RootCertStore;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_postgres::tls::{ChannelBinding, MakeTlsConnect, TlsConnect, TlsStream};

use crate::error::StoreError;

/// The URL without the parameters only Gatepass reads, and the TLS they ask for.
pub(super) struct Parsed {
    pub url: String,
    pub tls: Option<RustlsConnect>,
    /// The `sslmode` given, if any.
    pub mode: Option<String>,
}

/// Reads `sslmode` and `sslrootcert` from `url` (a `postgres://…?…` URL or `key=value` words).
pub(super) fn parse(url: &str) -> Result<Parsed, StoreError> {
    let mut mode = None;
    let mut root = None;
    // Given twice, neither is taken: the last winning would let an appended `sslmode=disable`
    // undo a `verify-full` without a word.
    let once = |slot: &mut Option<String>, key: &str, v: String| {
        if slot.is_some() {
            return Err(StoreError::Invalid(format!(
                "[store] url: {key} is given twice: give it once"
            )));
        }
        *slot = Some(v);
        Ok(())
    };
    let rebuilt = if let Some((base, query)) = url.split_once('?') {
        let mut kept = Vec::new();
        for pair in query.split('&') {
            // Keys are read as the client reads them: `ssl%6Dode` is `sslmode`.
            let key = pair.split_once('=').map(|(k, v)| (percent_decode(k), v));
            match key {
                Some((Ok(k), v)) if k == "sslmode" => once(&mut mode, "sslmode", v.to_owned())?,
                Some((Ok(k), v)) if k == "sslrootcert" => {
                    once(&mut root, "sslrootcert", percent_decode(v)?)?
                }
                _ => kept.push(pair),
            }
        }
        if kept.is_empty() {
            base.to_owned()
        } else {
            format!("{base}?{}", kept.join("&"))
        }
    } else if url.contains("://") {
        url.to_owned()
    } else {
        let mut kept = Vec::new();
        for word in url.split_whitespace() {
            match word.split_once('=') {
                Some(("sslmode", v)) => once(&mut mode, "sslmode", v.to_owned())?,
                Some(("sslrootcert", v)) => once(&mut root, "sslrootcert", v.to_owned())?,
                _ => kept.push(word),
            }
        }
        kept.join(" ")
    };
    let tls = match mode.as_deref() {
        None | Some("disable" | "allow" | "prefer") => None,
        Some(m @ ("require" | "verify-ca" | "verify-full")) => {
            let Some(root) = root else {
                return Err(StoreError::Invalid(format!(
                    "[store] url: sslmode={m} needs sslrootcert=PATH, the certificate (PEM) of \
                     the CA that signed the database server's: Gatepass always checks it"
                )));
            };
            Some(RustlsConnect::new(&root)?)
        }
        Some(other) => {
            return Err(StoreError::Invalid(format!(
                "[store] url: sslmode={other} is not one of disable, allow, prefer, require, \
                 verify-ca, verify-full"
            )));
        }
    };
    Ok(Parsed {
        url: rebuilt,
        tls,
        mode,
    })
}

/// `%XX` escapes in a URL's value.
fn percent_decode(v: &str) -> Result<String, StoreError> {
    let bad = || StoreError::Invalid(format!("[store] url: sslrootcert={v} is not a valid path"));
    let b = v.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = v.get(i + 1..i + 3).ok_or_else(bad)?;
            out.push(u8::from_str_radix(hex, 16).map_err(|_| bad())?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| bad())
}

/// Makes TLS connections that trust one CA (tokio-postgres' `MakeTlsConnect`).
#[derive(Clone)]
pub(crate) struct RustlsConnect {
    config: Arc<rustls::ClientConfig>,
}

impl RustlsConnect {
    fn new(root: &str) -> Result<RustlsConnect, StoreError> {
        let invalid = |e: &dyn std::fmt::Display| {
            StoreError::Invalid(format!("[store] url: sslrootcert={root}: {e}"))
        };
        let mut roots = RootCertStore::empty();
        let certs = CertificateDer::pem_file_iter(root).map_err(|e| invalid(&e))?;
        for cert in certs {
            roots
                .add(cert.map_err(|e| invalid(&e))?)
                .map_err(|e| invalid(&e))?;
        }
        if roots.is_empty() {
            return Err(invalid(&"no certificate in the file"));
        }
        let config = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(|e| invalid(&e))?
        .with_root_certificates(roots)
        .with_no_client_auth();
        Ok(RustlsConnect {
            config: Arc::new(config),
        })
    }
}

impl<S> MakeTlsConnect<S> for RustlsConnect
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = Stream<S>;
    type TlsConnect = Connect;
    type Error = io::Error;

    fn make_tls_connect(&mut self, domain: &str) -> io::Result<Connect> {
        let name = ServerName::try_from(domain.to_owned())
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        Ok(Connect {
            connector: tokio_rustls::TlsConnector::from(self.config.clone()),
            name,
        })
    }
}

/// One TLS connection about to be made to a server of this name.
pub(crate) struct Connect {
    connector: tokio_rustls::TlsConnector,
    name: ServerName<'static>,
}

impl<S> TlsConnect<S> for Connect
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = Stream<S>;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<Stream<S>>> + Send>>;

    fn connect(self, stream: S) -> Self::Future {
        Box::pin(async move {
            let tls = self.connector.connect(self.name, stream).await?;
            Ok(Stream(Box::new(tls)))
        })
    }
}

/// A TLS connection to the server.
pub(crate) struct Stream<S>(Box<tokio_rustls::client::TlsStream<S>>);

impl<S: AsyncRead + AsyncWrite + Unpin> TlsStream for Stream<S> {
    fn channel_binding(&self) -> ChannelBinding {
        ChannelBinding::none()
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for Stream<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.0).poll_read(cx, buf)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for Stream<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut *self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.0).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gatepass_reads_its_own_parameters_and_passes_on_the_others() {
        let p = parse("postgres://gp@db.example:5432/gatepass?sslmode=disable&connect_timeout=3")
            .unwrap();
        assert_eq!(
            p.url,
            "postgres://gp@db.example:5432/gatepass?connect_timeout=3"
        );
        assert!(p.tls.is_none());
        let p = parse("postgres://postgres@/gatepass?host=/tmp/pg&port=5432").unwrap();
        assert_eq!(
            p.url,
            "postgres://postgres@/gatepass?host=/tmp/pg&port=5432"
        );
        assert!(p.tls.is_none());
        let p = parse("host=/tmp/pg dbname=gatepass sslmode=prefer").unwrap();
        assert_eq!(p.url, "host=/tmp/pg dbname=gatepass");
    }

    #[test]
    fn a_parameter_given_twice_is_refused_naming_it() {
        for (url, key) in [
            (
                "postgres://gp@db/gp?sslmode=verify-full&sslrootcert=/ca.pem&sslmode=disable",
                "sslmode",
            ),
            (
                "postgres://gp@db/gp?sslmode=require&ssl%6Dode=disable",
                "sslmode",
            ),
            (
                "postgres://gp@db/gp?sslrootcert=/a.pem&sslmode=require&sslrootcert=/b.pem",
                "sslrootcert",
            ),
            ("host=db sslmode=verify-full sslmode=disable", "sslmode"),
        ] {
            let e = parse(url).err().unwrap().to_string();
            assert!(e.contains(&format!("{key} is given twice")), "{url}: {e}");
        }
        // An escaped key is still the key: its TLS is not lost.
        let e = parse("postgres://gp@db/gp?ssl%6dode=verify-full")
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("needs sslrootcert=PATH"), "{e}");
    }

    #[test]
    fn tls_without_a_ca_or_with_an_unknown_mode_is_refused_saying_why() {
        for url in [
            "postgres://gp@db.example/gatepass?sslmode=require",
            "postgres://gp@db.example/gatepass?sslmode=verify-full",
            "host=db.example sslmode=verify-ca",
        ] {
            let e = parse(url).err().unwrap().to_string();
            assert!(e.contains("needs sslrootcert=PATH"), "{url}: {e}");
        }
        let e = parse("postgres://gp@db/gp?sslmode=always")
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("sslmode=always is not one of"), "{e}");
        let e = parse("postgres://gp@db/gp?sslmode=require&sslrootcert=/nonexistent/ca.pem")
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("sslrootcert=/nonexistent/ca.pem"), "{e}");
        let e = parse("postgres://gp@db/gp?sslmode=require&sslrootcert=%zz")
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("not a valid path"), "{e}");
    }
}
