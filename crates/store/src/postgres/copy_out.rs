//! Reading large results with `COPY … TO STDOUT (FORMAT binary)`, through tokio-postgres on a
//! single-thread runtime of its own so that a whole stream is read inside one `block_on`. The
//! `postgres` crate enters its runtime once per message, and COPY sends a message per row: on the
//! certificate rules' million rows that bookkeeping was about a third of the client's time
//! (perf: runtime entry and exit, wakers, thread-locals, a clock read per row).

use std::future::poll_fn;
use std::pin::pin;

use cardwatch_core::records::MAX_COLUMNS;
use futures_util::Stream;
use tokio::runtime::Runtime;
use tokio::task::JoinHandle;
use tokio_postgres::Client;

use super::connect::Target;
use super::COPY_SIGNATURE;
use crate::StoreError;

/// One row's fields, `None` for NULL.
pub(super) type Fields<'a> = [Option<&'a [u8]>];

/// A connection kept for reading large results.
pub(super) struct Streamer {
    runtime: Runtime,
    /// `None` only while closing.
    client: Option<Client>,
    /// The task that drives the connection; it ends when the client is dropped.
    connection: JoinHandle<Result<(), tokio_postgres::Error>>,
}

impl Streamer {
    pub(super) fn connect(target: &Target) -> Result<Streamer, StoreError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| StoreError::Database(format!("cannot start a runtime: {e}")))?;
        let (client, connection) = runtime
            .block_on(target.driver().connect(target.tls()))
            .map_err(|e| target.failed(&e))?;
        let connection = runtime.spawn(connection);
        let mut streamer = Streamer {
            runtime,
            client: Some(client),
            connection,
        };
        // JIT compiling a plain scan costs more than it saves. A large read (a national
        // export, a table for the health checks) is one statement of seconds: like `pg_dump`,
        // it lifts a `statement_timeout` the role has for everyday queries. Set once for the
        // connection, which serves nothing but large reads.
        streamer.batch("SET jit = off; SET statement_timeout = 0")?;
        Ok(streamer)
    }

    /// Runs statements whose results are not wanted (settings).
    pub(super) fn batch(&mut self, statements: &str) -> Result<(), StoreError> {
        let Some(client) = &self.client else {
            return Err(StoreError::Database("the connection is closing".into()));
        };
        Ok(self.runtime.block_on(client.batch_execute(statements))?)
    }

    /// Whether the connection can still be used; with `ask`, a round trip (of at most
    /// `timeout`) makes sure.
    pub(super) fn usable(&mut self, ask: bool, timeout: std::time::Duration) -> bool {
        let Some(client) = &self.client else {
            return false;
        };
        if client.is_closed() || self.connection.is_finished() {
            return false;
        }
        // The timeout is made inside the runtime: its timer needs the runtime's reactor.
        !ask || self
            .runtime
            .block_on(async { tokio::time::timeout(timeout, client.simple_query("")).await })
            .is_ok_and(|r| r.is_ok())
    }

    /// Runs `COPY (select) TO STDOUT (FORMAT binary)`, handing each row's `columns` fields to
    /// `row`; returns the number of rows.
    pub(super) fn copy_rows(
        &mut self,
        select: &str,
        columns: usize,
        row: &mut dyn FnMut(&Fields<'_>) -> Result<(), StoreError>,
    ) -> Result<u64, StoreError> {
        let Some(client) = &self.client else {
            return Err(StoreError::Database("the connection is closing".into()));
        };
        self.runtime.block_on(async {
            let query = format!("COPY ({select}) TO STDOUT (FORMAT binary)");
            let mut stream = pin!(client.copy_out(&query).await?);
            let mut rows = CopyRows::new(columns);
            while let Some(chunk) = poll_fn(|cx| stream.as_mut().poll_next(cx)).await {
                rows.feed(&chunk?, row)?;
            }
            rows.finish()
        })
    }
}

/// [`Streamer::copy_rows`] on a connection of the query pool, through the `postgres` crate: for
/// a small read (a few sites' records), which would otherwise wait for a streamer behind a
/// health check's large reads. Its runtime bookkeeping per message, which made large reads
/// use a streamer, costs little on a few thousand rows.
pub(super) fn copy_rows_on_client(
    client: &mut postgres::Client,
    select: &str,
    columns: usize,
    row: &mut dyn FnMut(&Fields<'_>) -> Result<(), StoreError>,
) -> Result<u64, StoreError> {
    use std::io::BufRead;
    let mut reader = client.copy_out(&format!("COPY ({select}) TO STDOUT (FORMAT binary)"))?;
    let mut rows = CopyRows::new(columns);
    loop {
        let chunk = reader
            .fill_buf()
            .map_err(|e| StoreError::Database(format!("reading a COPY stream: {e}")))?;
        if chunk.is_empty() {
            break;
        }
        let n = chunk.len();
        rows.feed(chunk, row)?;
        reader.consume(n);
    }
    rows.finish()
}

impl Drop for Streamer {
    fn drop(&mut self) {
        // Dropping the client asks the server to end the session; the connection task sends
        // that and ends. Without this the server would log an unexpected end of file.
        drop(self.client.take());
        let _ = self.runtime.block_on(&mut self.connection);
    }
}

/// A binary COPY stream's rows, parsed as its chunks arrive: a row may end in a later chunk
/// than it began.
struct CopyRows {
    columns: usize,
    header_read: bool,
    ended: bool,
    /// The unparsed end of the chunks so far (part of a row).
    carry: Vec<u8>,
    rows: u64,
}

/// The binary COPY signature, flags and header-extension length.
const HEADER_LEN: usize = 19;

fn be_i16(b: &[u8], at: usize) -> Option<i16> {
    Some(i16::from_be_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn be_i32(b: &[u8], at: usize) -> Option<i32> {
    Some(i32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

impl CopyRows {
    fn new(columns: usize) -> CopyRows {
        CopyRows {
            columns,
            header_read: false,
            ended: false,
            carry: Vec::new(),
            rows: 0,
        }
    }

    fn feed(
        &mut self,
        chunk: &[u8],
        row: &mut dyn FnMut(&Fields<'_>) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        if self.carry.is_empty() {
            let used = self.parse(chunk, row)?;
            self.carry.extend_from_slice(&chunk[used..]);
        } else {
            let mut carry = std::mem::take(&mut self.carry);
            carry.extend_from_slice(chunk);
            let used = self.parse(&carry, row)?;
            carry.drain(..used);
            self.carry = carry;
        }
        Ok(())
    }

    /// Hands on every whole row at the start of `buf`; returns the bytes they took.
    fn parse(
        &mut self,
        buf: &[u8],
        row: &mut dyn FnMut(&Fields<'_>) -> Result<(), StoreError>,
    ) -> Result<usize, StoreError> {
        let bad = |what: String| StoreError::Database(format!("reading a COPY stream: {what}"));
        let mut at = 0;
        if !self.header_read {
            let Some(extension) = be_i32(buf, HEADER_LEN - 4) else {
                return Ok(0);
            };
            if !buf.starts_with(COPY_SIGNATURE) {
                return Err(bad("it is not binary COPY".into()));
            }
            let Some(len) = usize::try_from(extension)
                .ok()
                .map(|e| HEADER_LEN + e)
                .filter(|&len| len <= buf.len())
            else {
                return Ok(0);
            };
            at = len;
            self.header_read = true;
        }
        let mut fields: [Option<&[u8]>; MAX_COLUMNS] = [None; MAX_COLUMNS];
        'rows: while at < buf.len() {
            if self.ended {
                return Err(bad("data after its end".into()));
            }
            let Some(count) = be_i16(buf, at) else {
                break;
            };
            if count == -1 {
                self.ended = true;
                at += 2;
                continue;
            }
            if usize::try_from(count).ok() != Some(self.columns) {
                return Err(bad(format!("{count} fields, expected {}", self.columns)));
            }
            let mut p = at + 2;
            for field in &mut fields[..self.columns] {
                let Some(len) = be_i32(buf, p) else {
                    break 'rows;
                };
                p += 4;
                *field = match usize::try_from(len) {
                    Err(_) => None,
                    Ok(len) if p + len <= buf.len() => {
                        p += len;
                        Some(&buf[p - len..p])
                    }
                    Ok(_) => break 'rows,
                };
            }
            row(&fields[..self.columns])?;
            self.rows += 1;
            at = p;
        }
        Ok(at)
    }

    fn finish(self) -> Result<u64, StoreError> {
        if self.ended && self.carry.is_empty() {
            Ok(self.rows)
        } else {
            Err(StoreError::Database(
                "reading a COPY stream: it ended in the middle of a row".into(),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A binary COPY stream as PostgreSQL writes it, with a header extension.
    fn stream(rows: &[Vec<Option<&[u8]>>]) -> Vec<u8> {
        let mut out = COPY_SIGNATURE.to_vec();
        out.extend_from_slice(&0i32.to_be_bytes());
        out.extend_from_slice(&3i32.to_be_bytes());
        out.extend_from_slice(b"ext");
        for r in rows {
            out.extend_from_slice(&i16::try_from(r.len()).expect("few").to_be_bytes());
            for f in r {
                match f {
                    None => out.extend_from_slice(&(-1i32).to_be_bytes()),
                    Some(b) => {
                        out.extend_from_slice(
                            &i32::try_from(b.len()).expect("short").to_be_bytes(),
                        );
                        out.extend_from_slice(b);
                    }
                }
            }
        }
        out.extend_from_slice(&(-1i16).to_be_bytes());
        out
    }

    /// Feeds `bytes` in chunks of `size`; returns the rows read.
    fn read(
        bytes: &[u8],
        columns: usize,
        size: usize,
    ) -> Result<Vec<Vec<Option<Vec<u8>>>>, String> {
        let mut rows = CopyRows::new(columns);
        let mut got = Vec::new();
        let mut keep = |f: &Fields<'_>| {
            got.push(f.iter().map(|x| x.map(<[u8]>::to_vec)).collect());
            Ok(())
        };
        for chunk in bytes.chunks(size) {
            rows.feed(chunk, &mut keep).map_err(|e| e.to_string())?;
        }
        let n = rows.finish().map_err(|e| e.to_string())?;
        assert_eq!(n as usize, got.len());
        Ok(got)
    }

    #[test]
    fn rows_are_read_whole_wherever_the_chunks_end() {
        let rows = vec![
            vec![Some(&b"CS000001"[..]), None, Some(&b""[..])],
            vec![Some(&b"x"[..]), Some(&[0u8, 0, 0, 7][..]), None],
            vec![None, None, None],
        ];
        let bytes = stream(&rows);
        let want: Vec<Vec<Option<Vec<u8>>>> = rows
            .iter()
            .map(|r| r.iter().map(|x| x.map(<[u8]>::to_vec)).collect())
            .collect();
        for size in 1..=bytes.len() {
            assert_eq!(
                read(&bytes, 3, size).expect("read"),
                want,
                "chunks of {size}"
            );
        }
    }

    #[test]
    fn a_damaged_stream_is_an_error_not_fewer_rows() {
        let bytes = stream(&[vec![Some(&b"abc"[..])], vec![Some(&b"def"[..])]]);
        for cut in 0..bytes.len() {
            let err = read(&bytes[..cut], 1, 7).expect_err("cut short");
            assert!(err.contains("ended in the middle"), "cut at {cut}: {err}");
        }
        let err = read(&bytes, 2, 64).expect_err("wrong width");
        assert!(err.contains("1 fields, expected 2"), "{err}");
        let mut text = bytes.clone();
        text[0] = b'X';
        assert!(read(&text, 1, 64)
            .expect_err("text")
            .contains("not binary COPY"));
        let mut more = bytes;
        more.extend_from_slice(&1i16.to_be_bytes());
        assert!(read(&more, 1, 64)
            .expect_err("trailing")
            .contains("after its end"));
    }
}
