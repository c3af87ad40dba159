//! One client connection: request lines in, one reply per request out, in order.
//!
//! The connection task reads lines of at most [`MAX_LINE`] bytes (a longer one is skipped to its
//! newline and answered `err EINVAL`), executes each, and queues its reply for the writer task.
//! A reply whose op was journaled waits in the writer until the journal says its sequence
//! number is durable; the replies behind it wait too, so order is kept and a pipelined batch is
//! released by the one fdatasync that covers it.
//!
//! Backpressure: queued replies hold permits of a [`REPLY_BUDGET`]-byte semaphore until they are
//! written to the socket. When a client writes without reading, the budget runs out, the task
//! stops reading requests, and the kernel's socket buffers push back on the client: the daemon's
//! memory per connection stays bounded.
//!
//! On shutdown the task stops reading; replies already queued are still written.

use std::io;
use std::sync::Arc;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, BufWriter};
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::UnixStream;
use tokio::sync::{mpsc, watch, OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use anonmap_abi::err;
use anonmap_lang::Reply;

use super::{Context, Peer, Response, MAX_LINE, MIN_REPLY_COST, REPLY_BUDGET};

/// A reply queued for the writer.
struct Outgoing {
    response: Response,
    _permit: OwnedSemaphorePermit,
}

/// Serves one client until it closes or the daemon shuts down.
pub async fn run(stream: UnixStream, ctx: Context, shutdown: CancellationToken) {
    let (uid, pid) = match stream.peer_cred() {
        Ok(c) => (c.uid(), c.pid().unwrap_or(0)),
        Err(e) => {
            tracing::warn!("cannot read the peer's credentials, closing: {e}");
            return;
        }
    };
    let span = tracing::info_span!("conn", peer_pid = pid, peer_uid = uid);
    async move {
        tracing::debug!("connected");
        let (rd, wr) = stream.into_split();
        let (tx, rx) = mpsc::unbounded_channel();
        let writer = tokio::spawn(write_replies(wr, rx, ctx.durable.clone()).in_current_span());
        let result = read_requests(rd, &ctx, Peer::new(uid), tx, &shutdown).await;
        if let Err(e) = result {
            tracing::debug!("read: {e}");
        }
        match writer.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::debug!("write: {e}"),
            Err(e) => tracing::error!("reply writer failed: {e}"),
        }
        tracing::debug!("closed");
    }
    .instrument(span)
    .await
}

/// What [`LineReader::next_line`] found.
#[derive(Debug, PartialEq, Eq)]
enum Line {
    /// A line, in the caller's buffer (without its newline).
    Complete,
    /// A line longer than [`MAX_LINE`], skipped up to its newline.
    TooLong,
}

/// Lines of at most [`MAX_LINE`] bytes from a stream.
struct LineReader<R> {
    inner: BufReader<R>,
}

impl<R: tokio::io::AsyncRead + Unpin> LineReader<R> {
    fn new(inner: R) -> Self {
        LineReader {
            inner: BufReader::with_capacity(64 << 10, inner),
        }
    }

    /// The next line into `out`; `None` at the end of the stream. A last line without a
    /// newline counts as a line.
    async fn next_line(&mut self, out: &mut Vec<u8>) -> io::Result<Option<Line>> {
        out.clear();
        let mut too_long = false;
        let mut any = false;
        loop {
            let avail = self.inner.fill_buf().await?;
            if avail.is_empty() {
                return Ok(any.then_some(if too_long {
                    Line::TooLong
                } else {
                    Line::Complete
                }));
            }
            any = true;
            let (take, done) = match avail.iter().position(|&b| b == b'\n') {
                Some(i) => (i, true),
                None => (avail.len(), false),
            };
            if !too_long {
                if out.len() + take > MAX_LINE {
                    too_long = true;
                    out.clear();
                } else {
                    out.extend_from_slice(&avail[..take]);
                }
            }
            self.inner.consume(take + usize::from(done));
            if done {
                return Ok(Some(if too_long {
                    Line::TooLong
                } else {
                    Line::Complete
                }));
            }
        }
    }
}

async fn read_requests(
    rd: OwnedReadHalf,
    ctx: &Context,
    mut peer: Peer,
    tx: mpsc::UnboundedSender<Outgoing>,
    shutdown: &CancellationToken,
) -> io::Result<()> {
    let budget = Arc::new(Semaphore::new(REPLY_BUDGET));
    let mut reader = LineReader::new(rd);
    let mut line = Vec::with_capacity(256);
    let multi_thread = tokio::runtime::Handle::current().runtime_flavor()
        == tokio::runtime::RuntimeFlavor::MultiThread;
    loop {
        let next = tokio::select! {
            biased;
            _ = shutdown.cancelled() => return Ok(()),
            next = reader.next_line(&mut line) => next?,
        };
        let response = match next {
            None => return Ok(()),
            Some(Line::TooLong) => Some(Response::new(&Reply::Err(err!(
                EINVAL,
                "line longer than {MAX_LINE} bytes"
            )))),
            Some(Line::Complete)
                if multi_thread && line.trim_ascii_start().starts_with(b"read") =>
            {
                // Rendering a large file takes a while: let the runtime move this worker's
                // other tasks elsewhere meanwhile.
                tokio::task::block_in_place(|| ctx.machine.execute(&mut peer, &line))
            }
            Some(Line::Complete) => ctx.machine.execute(&mut peer, &line),
        };
        let Some(response) = response else {
            continue; // a blank or comment line: no reply
        };
        let cost = response.bytes.len().clamp(MIN_REPLY_COST, REPLY_BUDGET) as u32;
        let permit = tokio::select! {
            biased;
            permit = Arc::clone(&budget).acquire_many_owned(cost) => {
                permit.expect("the budget semaphore is never closed")
            }
            // A client that stopped reading does not hold the shutdown up; the op it sent
            // was applied and journaled all the same.
            _ = shutdown.cancelled() => return Ok(()),
        };
        if tx
            .send(Outgoing {
                response,
                _permit: permit,
            })
            .is_err()
        {
            return Ok(()); // the writer stopped: the client is gone
        }
    }
}

async fn write_replies(
    wr: OwnedWriteHalf,
    mut rx: mpsc::UnboundedReceiver<Outgoing>,
    mut durable: Option<watch::Receiver<u64>>,
) -> io::Result<()> {
    let mut w = BufWriter::with_capacity(64 << 10, wr);
    let mut known_durable = 0;
    while let Some(out) = rx.recv().await {
        if let Some(seq) = out.response.seq {
            if seq > known_durable {
                w.flush().await?;
                let durable = durable
                    .as_mut()
                    .expect("a sequence number implies a journal");
                known_durable = *durable.wait_for(|d| *d >= seq).await.map_err(|_| {
                    io::Error::other("the journal stopped before the op was durable")
                })?;
            }
        }
        w.write_all(&out.response.bytes).await?;
        drop(out);
        if rx.is_empty() {
            w.flush().await?;
        }
    }
    w.flush().await?;
    w.shutdown().await
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn lines(input: &[u8]) -> Vec<(Line, Vec<u8>)> {
        let mut r = LineReader::new(input);
        let mut out = Vec::new();
        let mut got = Vec::new();
        while let Some(l) = r.next_line(&mut out).await.unwrap() {
            got.push((l, out.clone()));
        }
        got
    }

    #[tokio::test]
    async fn lines_are_bounded_and_long_ones_skipped() {
        let mut input = b"a\n\nb c\n".to_vec();
        input.extend(std::iter::repeat_n(b'x', MAX_LINE + 1));
        input.extend_from_slice(b"\nlast");
        let got = lines(&input).await;
        assert_eq!(
            got,
            vec![
                (Line::Complete, b"a".to_vec()),
                (Line::Complete, b"".to_vec()),
                (Line::Complete, b"b c".to_vec()),
                (Line::TooLong, b"".to_vec()),
                (Line::Complete, b"last".to_vec()),
            ]
        );
        let mut exact = vec![b'y'; MAX_LINE];
        exact.push(b'\n');
        assert_eq!(
            lines(&exact).await,
            vec![(Line::Complete, vec![b'y'; MAX_LINE])]
        );
    }
}
