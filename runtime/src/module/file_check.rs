//! A module file checked before the dynamic loader maps it.
//!
//! The loader maps a library's segments straight from the file: a file cut
//! short (a copy still in progress, a full disk, a bad download) maps
//! pages past its end, and the first touch of one kills the whole runtime
//! with SIGBUS. So a module file is read and its ELF headers checked
//! first: a shared object for this machine, whose program headers and
//! every segment they describe lie inside the file. What is wrong is said
//! with the numbers, and the runtime keeps serving.
//!
//! The check cannot stop a file being cut *after* it was checked; replace
//! module files by renaming a complete copy into place, never by writing
//! over the file a runtime may be loading.

use std::path::Path;

use object::elf;
use object::read::elf::{FileHeader, ProgramHeader};
use object::{Endianness, FileKind};

/// The ELF machine this runtime was built for.
#[cfg(target_arch = "x86_64")]
const HOST_MACHINE: elf::Machine = elf::EM_X86_64;
#[cfg(target_arch = "aarch64")]
const HOST_MACHINE: elf::Machine = elf::EM_AARCH64;
#[cfg(target_arch = "riscv64")]
const HOST_MACHINE: elf::Machine = elf::EM_RISCV;
#[cfg(target_arch = "powerpc64")]
const HOST_MACHINE: elf::Machine = elf::EM_PPC64;

/// Larger module files are refused rather than read (a module is a few
/// megabytes; with debug information, tens).
pub const MAX_MODULE_FILE: u64 = 1 << 30;

/// Why `path` cannot be loaded as a module, if it cannot.
pub fn check_module_file(path: &Path) -> Result<(), String> {
    // Not followed by a read of a FIFO or device: either would block or never end.
    let meta = std::fs::metadata(path).map_err(|e| format!("cannot read it: {e}"))?;
    if !meta.is_file() {
        return Err("it is not a regular file".to_owned());
    }
    if meta.len() > MAX_MODULE_FILE {
        return Err(format!(
            "it is {} bytes, more than the {MAX_MODULE_FILE} a module file may have",
            meta.len()
        ));
    }
    let data = std::fs::read(path).map_err(|e| format!("cannot read it: {e}"))?;
    check_elf(&data)
}

fn check_elf(data: &[u8]) -> Result<(), String> {
    let len = data.len() as u64;
    match FileKind::parse(data) {
        Ok(FileKind::Elf64) => {}
        Ok(FileKind::Elf32) => {
            return Err("it is a 32-bit ELF file; this runtime loads 64-bit modules".to_owned());
        }
        Ok(other) => return Err(format!("it is not an ELF shared library (it looks like {other:?})")),
        Err(_) if len < 64 => return Err(format!("it is {len} bytes, too short for an ELF header")),
        Err(_) => return Err("it is not an ELF file (no ELF magic at its start)".to_owned()),
    }
    let header = elf::FileHeader64::<Endianness>::parse(data)
        .map_err(|e| format!("its ELF header is invalid: {e}"))?;
    let endian = header.endian().map_err(|e| format!("its ELF header is invalid: {e}"))?;
    if header.e_type(endian) != elf::ET_DYN {
        return Err(format!("it is not a shared library (ELF type {:?})", header.e_type(endian)));
    }
    if header.e_machine(endian) != HOST_MACHINE {
        return Err(format!(
            "it is built for another machine ({:?}; this runtime's is {HOST_MACHINE:?})",
            header.e_machine(endian)
        ));
    }
    let cut = |what: String| {
        format!(
            "it is cut short: {what}, but the file has only {len} bytes (a truncated or partly copied file?)"
        )
    };
    let phoff = header.e_phoff(endian);
    let phbytes = u64::from(header.e_phnum(endian)) * u64::from(header.e_phentsize(endian));
    let program_headers = header.program_headers(endian, data).map_err(|_| {
        cut(format!("its program headers take bytes {phoff}..{}", phoff.saturating_add(phbytes)))
    })?;
    if !program_headers.iter().any(|ph| ph.p_type(endian) == elf::PT_LOAD) {
        return Err("it has no loadable segment".to_owned());
    }
    for (i, ph) in program_headers.iter().enumerate() {
        let (offset, size) = (ph.p_offset(endian), ph.p_filesz(endian));
        let end = offset.checked_add(size).ok_or_else(|| format!("segment {i}'s size overflows"))?;
        if size > 0 && end > len {
            return Err(cut(format!("segment {i} ({:?}) takes bytes {offset}..{end}", ph.p_type(endian))));
        }
    }
    // The loader reads no section headers, but a file whose table is cut
    // is damaged all the same, and says so earlier than a segment would.
    header.sections(endian, data).map_err(|_| {
        let shoff = header.e_shoff(endian);
        cut(format!("its section headers start at byte {shoff}"))
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn own_exe() -> Vec<u8> {
        std::fs::read(std::env::current_exe().unwrap()).unwrap()
    }

    #[test]
    fn a_non_elf_file_is_named_as_such() {
        assert_eq!(check_elf(b"hello").unwrap_err(), "it is 5 bytes, too short for an ELF header");
        assert_eq!(check_elf(&[b'x'; 100]).unwrap_err(), "it is not an ELF file (no ELF magic at its start)");
    }

    #[test]
    fn a_whole_file_passes_and_every_cut_of_it_is_refused() {
        // This test binary is position independent: an ELF shared object
        // (ET_DYN) of the host's machine, as a module is.
        let exe = own_exe();
        check_elf(&exe).expect("the whole file passes");
        for cut in [64, 200, 4096, exe.len() / 3, exe.len() / 2, exe.len() - 1] {
            let err = check_elf(&exe[..cut]).expect_err(&format!("a file cut at {cut} bytes passed"));
            assert!(err.starts_with("it is cut short: "), "{cut}: {err}");
            assert!(err.contains(&format!("but the file has only {cut} bytes")), "{err}");
        }
    }
}
