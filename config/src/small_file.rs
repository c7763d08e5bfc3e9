//! Reading the files a configuration names: regular files of bounded size.
//!
//! A configuration, a hostfile and a cluster key are read whole at start.
//! Named by mistake, a FIFO blocks the reader forever and `/dev/zero` or
//! `/dev/urandom` never end; so each must be a regular file, opened
//! without blocking, and no larger than its kind allows.

use std::io::{self, Read};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;

/// The largest configuration file or hostfile read (a hostfile of 100,000
/// nodes is a few megabytes).
pub const MAX_CONFIG_FILE: u64 = 16 << 20;
/// The largest cluster key file read.
pub const MAX_KEY_FILE: u64 = 64 << 10;

/// The whole of `path`, if it is a regular file of at most `max` bytes.
/// Errors say what the file is instead ("a FIFO, not a regular file").
pub fn read_small_file(path: &Path, max: u64) -> io::Result<Vec<u8>> {
    // O_NONBLOCK: opening a FIFO with no writer would otherwise block here.
    let mut file = std::fs::OpenOptions::new().read(true).custom_flags(libc::O_NONBLOCK).open(path)?;
    let meta = file.metadata()?;
    let kind = meta.file_type();
    if !kind.is_file() {
        let what = if kind.is_dir() {
            "a directory"
        } else if kind.is_fifo() {
            "a FIFO"
        } else if kind.is_char_device() {
            "a character device"
        } else if kind.is_block_device() {
            "a block device"
        } else if kind.is_socket() {
            "a socket"
        } else {
            "a special file"
        };
        return Err(io::Error::other(format!("it is {what}, not a regular file")));
    }
    let too_large = |len: u64| io::Error::other(format!("it is {len} bytes, more than the {max} allowed"));
    if meta.len() > max {
        return Err(too_large(meta.len()));
    }
    let mut data = Vec::with_capacity(meta.len() as usize);
    // A file growing while read stops at the cap all the same.
    file.by_ref().take(max + 1).read_to_end(&mut data)?;
    if data.len() as u64 > max {
        return Err(too_large(data.len() as u64));
    }
    Ok(data)
}

/// As [`read_small_file`], as UTF-8 text.
pub fn read_small_text(path: &Path, max: u64) -> io::Result<String> {
    String::from_utf8(read_small_file(path, max)?)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("it is not UTF-8 text ({e})")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn special_files_and_large_files_are_refused_by_what_they_are() {
        let err = |p: &str| read_small_file(Path::new(p), MAX_CONFIG_FILE).unwrap_err().to_string();
        assert_eq!(err("/dev/zero"), "it is a character device, not a regular file");
        assert_eq!(err("/dev/null"), "it is a character device, not a regular file");
        assert_eq!(err("/tmp"), "it is a directory, not a regular file");
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        rustix::fs::mknodat(
            rustix::fs::CWD,
            &fifo,
            rustix::fs::FileType::Fifo,
            rustix::fs::Mode::RUSR | rustix::fs::Mode::WUSR,
            0,
        )
        .unwrap();
        // Returns at once, though nobody writes to the FIFO.
        assert_eq!(read_small_file(&fifo, 10).unwrap_err().to_string(), "it is a FIFO, not a regular file");
        let big = dir.path().join("big");
        std::fs::write(&big, [b'x'; 11]).unwrap();
        assert_eq!(
            read_small_file(&big, 10).unwrap_err().to_string(),
            "it is 11 bytes, more than the 10 allowed"
        );
        assert_eq!(read_small_file(&big, 11).unwrap().len(), 11);
    }
}
