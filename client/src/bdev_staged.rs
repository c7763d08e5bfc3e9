//! Bdev I/O from and into ordinary memory (a `Vec`, a NumPy array behind
//! the Python package, a C array): the bytes pass through a few staging
//! buffers in `client_data`, and the client copies one piece while the
//! device moves the one before, so the copy costs little beside the I/O.
//! A remote client sends the pieces straight from the caller's memory in
//! its requests, and reads land straight in it.
//!
//! ```no_run
//! # use chimaera_client::{BdevClient, Client};
//! # let client: Client = todo!();
//! let dev = BdevClient::new(&client, chimod_sdk::PoolId::new(300, 0));
//! let data = vec![7u8; 8 << 20];
//! dev.write_from(0, &data)?;
//! let mut back = vec![0u8; data.len()];
//! dev.read_into(0, &mut back)?;
//! assert_eq!(back, data);
//! # Ok::<(), chimaera_client::ClientError>(())
//! ```

use chimod_sdk::bulk::Bulk;

use std::collections::VecDeque;

use super::{BdevClient, BulkBuf, Client, ClientError, Landing, TypedPending};

/// Bytes per piece: small enough that a 1 MiB transfer is many pieces (so
/// the copies overlap the device's) and that a piece stays in cache between
/// the client's copy and the device's, large enough that a task's cost is
/// small beside it. 64 KiB measured best of 64 KiB, 256 KiB and 1 MiB
/// (`chimaera_bench --mode clients`, `docs/benchmarks.md`).
const PIECE: usize = 64 << 10;
/// Pieces in flight at once.
const DEPTH: usize = 4;
/// Bytes per piece of a remote client: each is a request of its own, and
/// TCP moves large ones best; well inside a message's limit.
const REMOTE_PIECE: usize = 4 << 20;

/// The staging buffers and the task in flight on each.
struct Ring<'c> {
    slots: Vec<(BulkBuf<'c>, Option<TypedPending<'c, u64>>)>,
}

impl<'c> Ring<'c> {
    fn new(client: &'c Client, total: usize) -> Result<Ring<'c>, ClientError> {
        let pieces = total.div_ceil(PIECE).clamp(1, DEPTH);
        let len = total.clamp(1, PIECE) as u64;
        // Each piece is written in full before the device or the caller
        // reads it, so the buffers need not be zeroed.
        let slots = (0..pieces)
            .map(|_| Ok((client.bulk_alloc_stale(len)?, None)))
            .collect::<Result<_, ClientError>>()?;
        Ok(Ring { slots })
    }

    /// Waits for the task on slot `i`, if any: its buffer is free after.
    fn settle(&mut self, i: usize) -> Result<(), ClientError> {
        self.slots[i].1.take().map_or(Ok(()), |task| task.wait(None).map(drop))
    }
}

impl Drop for Ring<'_> {
    fn drop(&mut self) {
        // A buffer may be freed only once the device is done with it: after
        // a failure, the tasks still in flight are waited for (their
        // outcome no longer matters), never abandoned.
        for (_, task) in &mut self.slots {
            if let Some(task) = task.take() {
                let _ = task.wait(None);
            }
        }
    }
}

impl<'c> BdevClient<'c> {
    /// Writes all of `data` at byte `offset` of the device, staged through
    /// `client_data`. Returns the bytes written.
    pub fn write_from(&self, offset: u64, data: &[u8]) -> Result<u64, ClientError> {
        if self.client.is_remote() {
            let pieces = data.chunks(REMOTE_PIECE).enumerate();
            return pipelined(
                pieces.map(|(n, piece)| self.write_at_inline(offset + (n * REMOTE_PIECE) as u64, piece)),
            )
            .map(|()| data.len() as u64);
        }
        let mut ring = Ring::new(self.client, data.len())?;
        let depth = ring.slots.len();
        for (n, piece) in data.chunks(PIECE).enumerate() {
            let i = n % depth;
            ring.settle(i)?;
            let (buf, task) = &mut ring.slots[i];
            buf[..piece.len()].copy_from_slice(piece);
            let at = offset + (n * PIECE) as u64;
            *task = Some(self.write_at_async(at, Bulk { len: piece.len() as u64, ..buf.bulk() })?);
        }
        for i in 0..depth {
            ring.settle(i)?;
        }
        Ok(data.len() as u64)
    }

    /// Fills `out` from byte `offset` of the device, staged through
    /// `client_data`. Returns the bytes read.
    pub fn read_into(&self, offset: u64, out: &mut [u8]) -> Result<u64, ClientError> {
        if self.client.is_remote() {
            let total = out.len();
            let all = Landing::new(out.as_mut_ptr(), total);
            let pieces = (0..total.div_ceil(REMOTE_PIECE)).map(|n| {
                let at = n * REMOTE_PIECE;
                self.read_at_inline(offset + at as u64, all.part(at, (total - at).min(REMOTE_PIECE)))
            });
            // `out` stays borrowed until every piece is waited for.
            return pipelined(pieces).map(|()| total as u64);
        }
        let mut ring = Ring::new(self.client, out.len())?;
        let depth = ring.slots.len();
        let total = out.len();
        let piece_len = |n: usize| (total - n * PIECE).min(PIECE);
        let pieces = total.div_ceil(PIECE);
        let submit = |ring: &mut Ring<'c>, n: usize| -> Result<(), ClientError> {
            let (buf, task) = &mut ring.slots[n % depth];
            let into = Bulk { len: piece_len(n) as u64, ..buf.bulk() };
            *task = Some(self.read_at_async(offset + (n * PIECE) as u64, into)?);
            Ok(())
        };
        for n in 0..pieces.min(depth) {
            submit(&mut ring, n)?;
        }
        for (n, piece) in out.chunks_mut(PIECE).enumerate() {
            ring.settle(n % depth)?;
            piece.copy_from_slice(&ring.slots[n % depth].0[..piece.len()]);
            if n + depth < pieces {
                submit(&mut ring, n + depth)?;
            }
        }
        Ok(total as u64)
    }
}

/// Runs the tasks `starts` makes, [`DEPTH`] in flight at once, and waits
/// for all of them (also after a failure: their buffers are lent to them).
fn pipelined<'c>(
    starts: impl Iterator<Item = Result<TypedPending<'c, u64>, ClientError>>,
) -> Result<(), ClientError> {
    let mut in_flight = VecDeque::with_capacity(DEPTH);
    let mut first_error = None;
    for start in starts {
        if in_flight.len() == DEPTH
            && let Some(Err(e)) = in_flight.pop_front().map(|t: TypedPending<'c, u64>| t.wait(None))
        {
            first_error.get_or_insert(e);
        }
        if first_error.is_some() {
            break;
        }
        match start {
            Ok(task) => in_flight.push_back(task),
            Err(e) => {
                first_error = Some(e);
                break;
            }
        }
    }
    for task in in_flight {
        if let Err(e) = task.wait(None) {
            first_error.get_or_insert(e);
        }
    }
    first_error.map_or(Ok(()), Err)
}
