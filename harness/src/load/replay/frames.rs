//! `tcp` replay: `transport::tcp`'s length-prefixed frames on one connection, calls multiplexed by
//! correlation id, as the full-stack `tcp` client does.
//!
//! The frame of every request is built once with correlation id 0
//! ([`crate::transport::tcp::wire_frame`]); a call copies it into the shared write buffer and
//! writes its own id over the 8 id bytes. One writer task sends whatever has gathered in one
//! `write` (a burst of calls costs one syscall), one reader task splits replies
//! ([`crate::transport::tcp::wire_unframe`]) and hands each frame, undecoded, to its call.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use super::open_tcp;
use crate::transport::correlation::Correlator;
use crate::transport::rpc::rejected;
use crate::transport::tcp::{wire_unframe, FRAME_HEADER_BYTES, LENGTH_PREFIX_BYTES, STATUS_OK};
use crate::transport::ClientConfig;
use crate::{CallError, CallResult, Result};

const LABEL: &str = "replay (tcp)";
/// Offset of the correlation id inside a wire frame (after the length prefix).
const ID_AT: usize = LENGTH_PREFIX_BYTES;
/// Read buffer growth step: many small replies per `read` under load.
const READ_CHUNK_BYTES: usize = 64 * 1024;

/// Frames waiting for the writer, and the writer's wake-up.
#[derive(Debug, Default)]
struct Outbox {
    frames: Mutex<BytesMut>,
    ready: Notify,
    /// The socket failed or the client is gone: no more frames are accepted.
    closed: AtomicBool,
}

/// One multiplexed `tcp` connection.
#[derive(Debug)]
pub(super) struct Conn {
    endpoint: String,
    timeout: Duration,
    pending: Arc<Correlator<Bytes>>,
    outbox: Arc<Outbox>,
    tasks: [JoinHandle<()>; 2],
}

impl Conn {
    pub(super) async fn connect(endpoint: &str, config: &ClientConfig) -> Result<Self> {
        let (read, write) = open_tcp(LABEL, endpoint, config.timeout).await?.into_split();
        let pending = Arc::new(Correlator::default());
        let outbox = Arc::new(Outbox::default());
        let max_frame_bytes = config.max_body_bytes + FRAME_HEADER_BYTES;
        let writer = tokio::spawn(write_frames(write, outbox.clone(), pending.clone(), endpoint.to_owned()));
        let reader = tokio::spawn(read_frames(read, max_frame_bytes, pending.clone(), endpoint.to_owned()));
        Ok(Self { endpoint: endpoint.to_owned(), timeout: config.timeout, pending, outbox, tasks: [writer, reader] })
    }

    /// Sends `frame` (built with id 0) under a fresh correlation id and returns the reply frame,
    /// length prefix included, of a call the server answered with status ok.
    pub(super) async fn exchange(&self, frame: &Bytes) -> CallResult<Bytes> {
        let reply = self
            .pending
            .call(LABEL, &self.endpoint, self.timeout, |id| async move {
                if self.outbox.closed.load(Ordering::Acquire) {
                    return Err(closed(&self.endpoint, "the connection has failed"));
                }
                let Ok(mut frames) = self.outbox.frames.lock() else {
                    return Err(closed(&self.endpoint, "the write buffer's lock is poisoned"));
                };
                let at = frames.len();
                frames.extend_from_slice(frame);
                frames[at + ID_AT..at + ID_AT + 8].copy_from_slice(&id.to_be_bytes());
                drop(frames);
                self.outbox.ready.notify_one();
                Ok(())
            })
            .await?;
        let Some((_, status, body)) = wire_unframe(&reply) else {
            return Err(closed(&self.endpoint, "malformed reply frame"));
        };
        if status != STATUS_OK {
            return Err(rejected(LABEL, body));
        }
        Ok(reply)
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        // Closing the socket lets the server's connection end instead of waiting on it.
        for task in &self.tasks {
            task.abort();
        }
    }
}

fn closed(endpoint: &str, message: &str) -> CallError {
    CallError::Call { transport: LABEL, endpoint: endpoint.to_owned(), message: message.to_owned() }
}

/// Writes whatever frames have gathered since the last write, until the socket fails.
async fn write_frames(
    mut write: OwnedWriteHalf,
    outbox: Arc<Outbox>,
    pending: Arc<Correlator<Bytes>>,
    endpoint: String,
) {
    let mut batch = BytesMut::with_capacity(READ_CHUNK_BYTES);
    loop {
        outbox.ready.notified().await;
        if let Ok(mut frames) = outbox.frames.lock() {
            // Swap buffers: callers keep appending while this batch is written.
            std::mem::swap(&mut *frames, &mut batch);
        }
        if batch.is_empty() {
            continue;
        }
        if let Err(e) = write.write_all(&batch).await {
            outbox.closed.store(true, Ordering::Release);
            pending.fail_all(|| closed(&endpoint, &format!("write failed: {e}")));
            return;
        }
        batch.clear();
    }
}

/// Splits the reply stream into frames and completes each call; on a broken stream, fails every
/// call still waiting at once.
async fn read_frames(
    mut read: OwnedReadHalf,
    max_frame_bytes: usize,
    pending: Arc<Correlator<Bytes>>,
    endpoint: String,
) {
    let mut buf = BytesMut::with_capacity(READ_CHUNK_BYTES);
    let failure = 'read: loop {
        while buf.len() >= LENGTH_PREFIX_BYTES {
            let declared = u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize;
            if !(FRAME_HEADER_BYTES..=max_frame_bytes).contains(&declared) {
                break 'read format!("reply frame of {declared} bytes");
            }
            if buf.len() < LENGTH_PREFIX_BYTES + declared {
                break;
            }
            let frame = buf.split_to(LENGTH_PREFIX_BYTES + declared).freeze();
            match wire_unframe(&frame) {
                Some((id, _, _)) => pending.complete(id, Ok(frame)),
                None => break 'read "malformed reply frame".to_owned(),
            }
        }
        if buf.capacity() - buf.len() < READ_CHUNK_BYTES / 4 {
            buf.reserve(READ_CHUNK_BYTES);
        }
        match read.read_buf(&mut buf).await {
            Ok(0) => break "connection closed by server".to_owned(),
            Ok(_) => {}
            Err(e) => break e.to_string(),
        }
    };
    pending.fail_all(|| closed(&endpoint, &failure));
}
