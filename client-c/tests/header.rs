//! `include/chimaera.h` is what cbindgen makes of this crate's source: the
//! header C programs include cannot drift from the library they link.
//! Run with `CHI_BLESS_HEADER=1` to rewrite the header after a change.

use std::path::PathBuf;

#[test]
fn the_checked_in_header_matches_the_source() {
    let crate_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml")).expect("cbindgen.toml");
    let mut generated = Vec::new();
    cbindgen::Builder::new()
        .with_crate(&crate_dir)
        .with_config(config)
        .generate()
        .expect("cbindgen generates the header")
        .write(&mut generated);
    let generated = String::from_utf8(generated).expect("UTF-8 header");
    let path = crate_dir.join("include/chimaera.h");
    if std::env::var_os("CHI_BLESS_HEADER").is_some() {
        std::fs::write(&path, &generated).expect("write the header");
    }
    let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        checked_in == generated,
        "{} differs from what cbindgen generates from client-c/src; run \
         `CHI_BLESS_HEADER=1 cargo test -p chimaera-client-c --test header` and commit it",
        path.display()
    );
    for name in [
        "chi_attach",
        "chi_ping",
        "chi_call",
        "chi_submit",
        "chi_task_wait",
        "chi_bulk_alloc",
        "chi_last_error",
    ] {
        assert!(generated.contains(&format!(" {name}(")), "the header declares {name}");
    }
}
