//! Serving over TLS directly (`serve --tls-cert FILE --tls-key FILE`), for agents that must
//! report over HTTPS when no TLS proxy stands in front. Requests that arrived over TLS are
//! marked (`web::headers::DirectTls`, among the request's extensions, where no client can put
//! it), so answers carry HSTS and cookies are `Secure`, and carry the client's address
//! (`ConnectInfo`), as plain HTTP's do, for sign-in throttling.
//!
//! A handshake has `[server] tls_handshake_timeout_secs` (10 s) to finish, and at most
//! `tls_max_handshakes` (256) may be unfinished at once: a connection beyond that ends the
//! oldest unfinished one rather than waiting behind it. Connections that open and never finish
//! (slowloris) then hold a slot for ten seconds at most, and to keep a real client from being
//! served an attacker must open more connections in the moment its handshake takes (a few
//! milliseconds) than the cap, not merely more than the cap over ten seconds.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{anyhow, Context, Result};
use axum::Router;
use cardwatch_server::web::headers::DirectTls;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
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

/// How handshakes are bounded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// How long a client has to finish its handshake.
    pub handshake_timeout: Duration,
    /// Unfinished handshakes at once; one more ends the oldest.
    pub max_handshakes: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            handshake_timeout: Duration::from_secs(10),
            max_handshakes: 256,
        }
    }
}

/// The unfinished handshakes, oldest first: dropping an entry's sender ends that handshake.
#[derive(Default)]
struct Pending {
    next: u64,
    queue: VecDeque<(u64, tokio::sync::oneshot::Sender<()>)>,
}

impl Pending {
    /// Registers a handshake, ending the oldest when `max` are already waiting; returns its id
    /// and what tells it to stop.
    fn admit(&mut self, max: usize) -> (u64, tokio::sync::oneshot::Receiver<()>) {
        while self.queue.len() >= max.max(1) {
            self.queue.pop_front();
        }
        let (tx, rx) = tokio::sync::oneshot::channel();
        let id = self.next;
        self.next += 1;
        self.queue.push_back((id, tx));
        (id, rx)
    }

    fn finished(&mut self, id: u64) {
        if let Some(i) = self.queue.iter().position(|(n, _)| *n == id) {
            self.queue.remove(i);
        }
    }
}

/// Serves `app` over TLS until the process ends.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    tls: Arc<ServerConfig>,
    limits: Limits,
) -> Result<()> {
    let acceptor = TlsAcceptor::from(tls);
    let pending = Arc::new(Mutex::new(Pending::default()));
    loop {
        let (tcp, peer) = match listener.accept().await {
            Ok(c) => c,
            // Out of file descriptors and the like: the listener itself is fine, so wait a
            // moment for connections to close rather than stop serving.
            Err(e) => {
                tracing::warn!(error = %e, "accepting a connection failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let (acceptor, app, pending) = (acceptor.clone(), app.clone(), pending.clone());
        let (id, stop) = lock(&pending).admit(limits.max_handshakes);
        tokio::spawn(async move {
            let handshake = tokio::time::timeout(limits.handshake_timeout, acceptor.accept(tcp));
            // A client that fails the handshake, takes too long or is pushed out by newer
            // ones is simply dropped.
            let stream = tokio::select! {
                done = handshake => done.ok().and_then(Result::ok),
                _ = stop => None,
            };
            lock(&pending).finished(id);
            let Some(stream) = stream else {
                return;
            };
            let service = hyper::service::service_fn(move |mut req: hyper::Request<_>| {
                req.extensions_mut()
                    .insert(axum::extract::ConnectInfo::<SocketAddr>(peer));
                req.extensions_mut().insert(DirectTls);
                tower_service::Service::call(&mut app.clone(), req)
            });
            let _ = Builder::new(TokioExecutor::new())
                .serve_connection_with_upgrades(TokioIo::new(stream), service)
                .await;
        });
    }
}

fn lock(p: &Mutex<Pending>) -> std::sync::MutexGuard<'_, Pending> {
    // Only ids and senders: a list a panicking holder left is still usable.
    p.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::Pending;

    #[test]
    fn one_handshake_too_many_ends_the_oldest() {
        let mut p = Pending::default();
        let (_, mut first) = p.admit(2);
        let (second_id, mut second) = p.admit(2);
        let (_, mut third) = p.admit(2);
        assert!(first
            .try_recv()
            .is_err_and(|e| e == tokio::sync::oneshot::error::TryRecvError::Closed));
        assert_eq!(
            second.try_recv(),
            Err(tokio::sync::oneshot::error::TryRecvError::Empty)
        );
        p.finished(second_id);
        let (_, _fourth) = p.admit(2);
        assert_eq!(
            third.try_recv(),
            Err(tokio::sync::oneshot::error::TryRecvError::Empty),
            "a finished one made room"
        );
    }
}
