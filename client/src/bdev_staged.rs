//! Bdev I/O from and into ordinary memory (a `Vec`, a NumPy array behind
//! the Python package, a C array): the bytes pass through a few staging
//! buffers in `client_data`, and the client copies one piece while the
//! device moves the one before, so the copy costs little beside the I/O.
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

use super::{BdevClient, BulkBuf, Client, ClientError, TypedPending};

/// Bytes per piece: small enough that a 1 MiB transfer is many pieces (so
/// the copies overlap the device's) and that a piece stays in cache between
/// the client's copy and the device's, large enough that a task's cost is
/// small beside it. 64 KiB measured best of 64 KiB, 256 KiB and 1 MiB
/// (`chimaera_bench --mode clients`, `docs/benchmarks.md`).
const PIECE: usize = 64 << 10;
/// Pieces in flight at once.
const DEPTH: usize = 4;

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
