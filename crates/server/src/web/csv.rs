//! CSV downloads, written one way: through the one CSV writer (`cardwatch_store::csv_out`,
//! which keeps a cell from running as a spreadsheet formula), the header row first, sent as an
//! attachment named for what it holds. Rows already in hand are written at once; a list that
//! may hold a million rows is read and sent a chunk at a time.

use std::io::Write as _;

use axum::body::Body;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use cardwatch_store::csv_out::CsvOut;
use cardwatch_store::Store;

use crate::AppState;

/// How much of a streamed download is sent at once.
const CHUNK: usize = 64 * 1024;

/// A CSV download of rows in hand: the header, then each row's fields.
pub(crate) fn csv_download<R, F>(
    filename: &str,
    header: &[&str],
    rows: impl Iterator<Item = R>,
) -> Response
where
    R: IntoIterator<Item = F>,
    F: AsRef<str>,
{
    let mut w = CsvOut::new(Vec::new());
    let written = w
        .row(header)
        .and_then(|()| rows.into_iter().try_for_each(|r| w.row(r)));
    match (written, w.into_inner()) {
        (Ok(()), Ok(body)) => attachment(filename, Body::from(body)),
        _ => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// A CSV download written as it is read: the header, then `rows` writes the rest on a blocking
/// thread with the store, each chunk sent as it fills, so a million rows never sit in memory.
/// An error once sending has begun cuts the download short (the status is gone), logged.
pub(crate) fn csv_streamed(
    state: &AppState,
    filename: String,
    header: Vec<&'static str>,
    rows: impl FnOnce(&dyn Store, &mut CsvOut<Chunks>) -> std::io::Result<()> + Send + 'static,
) -> Response {
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    let store = state.store.clone();
    let span = tracing::Span::current();
    let name = filename.clone();
    tokio::task::spawn_blocking(move || {
        span.in_scope(|| {
            let mut out = CsvOut::new(Chunks {
                buf: Vec::with_capacity(CHUNK),
                tx: tx.clone(),
            });
            let written = out
                .row(&header)
                .and_then(|()| rows(&*store, &mut out))
                .and_then(|()| out.into_inner()?.flush());
            if let Err(e) = written {
                tracing::warn!(error = %e, file = %name, "a CSV download stopped");
                let _ = tx.blocking_send(Err(e));
            }
        })
    });
    let body = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|chunk| (chunk, rx))
    });
    attachment(&filename, Body::from_stream(body))
}

/// The response carrying a CSV file called `filename`.
fn attachment(filename: &str, body: Body) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{filename}\""),
            ),
        ],
        body,
    )
        .into_response()
}

/// Bytes written to a channel a chunk at a time, for a streamed download.
pub(crate) struct Chunks {
    buf: Vec<u8>,
    tx: tokio::sync::mpsc::Sender<Result<Vec<u8>, std::io::Error>>,
}

impl Chunks {
    fn send(&mut self) -> std::io::Result<()> {
        let chunk = std::mem::take(&mut self.buf);
        self.tx
            .blocking_send(Ok(chunk))
            .map_err(|_| std::io::Error::other("the client went away"))
    }
}

impl std::io::Write for Chunks {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK {
            self.send()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            Ok(())
        } else {
            self.send()
        }
    }
}
