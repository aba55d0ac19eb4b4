//! Serving over TLS directly (`serve --tls-cert FILE --tls-key FILE`), for agents that must
//! report over HTTPS when no TLS proxy stands in front. Requests that arrived over TLS are
//! marked `X-Forwarded-Proto: https`, as a proxy would mark them, so cookies are `Secure`.

use std::path::Path;
use std::sync::Arc;

use anyhow::{anyhow, Context, Result};
use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use hyper_util::service::TowerToHyperService;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::TcpListener;
use tokio_rustls::rustls::{self, ServerConfig};
use tokio_rustls::TlsAcceptor;

/// The server's certificate chain and key from PEM files; errors name the file and the fix.
pub fn config(cert: &Path, key: &Path) -> Result<Arc<ServerConfig>> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .with_context(|| format!("cannot read the TLS certificate {}", cert.display()))?
        .collect::<Result<_, _>>()
        .map_err(|e| anyhow!("{}: {e} — give a PEM certificate chain", cert.display()))?;
    if chain.is_empty() {
        return Err(anyhow!(
            "{}: no certificate in it — give a PEM certificate chain",
            cert.display()
        ));
    }
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| {
        anyhow!(
            "{}: {e} — give the PEM private key of the certificate",
            key.display()
        )
    })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cfg = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| anyhow!("TLS: {e}"))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| anyhow!("the TLS key does not fit the certificate: {e}"))?;
    Ok(Arc::new(cfg))
}

/// Serves `app` over TLS until the process ends.
pub async fn serve(listener: TcpListener, app: Router, tls: Arc<ServerConfig>) -> Result<()> {
    let acceptor = TlsAcceptor::from(tls);
    let app = app.layer(axum::middleware::map_request(
        |mut req: axum::extract::Request| async move {
            req.headers_mut().insert(
                "x-forwarded-proto",
                axum::http::HeaderValue::from_static("https"),
            );
            req
        },
    ));
    loop {
        let (tcp, _) = listener.accept().await?;
        let (acceptor, app) = (acceptor.clone(), app.clone());
        tokio::spawn(async move {
            // A client that fails the handshake is simply dropped.
            let Ok(stream) = acceptor.accept(tcp).await else {
                return;
            };
            let _ = Builder::new(TokioExecutor::new())
                .serve_connection_with_upgrades(TokioIo::new(stream), TowerToHyperService::new(app))
                .await;
        });
    }
}
