//! Link the outlet binary as a fixed-address (non-PIE) executable: a PIE
//! has its relocated data (.data.rel.ro, the GOT) dirtied by the loader at
//! every start, which costs page faults and resident memory on each of the
//! short-lived runtime's calls. The address randomisation PIE buys matters
//! little for a process that lives for milliseconds and runs no untrusted
//! input past config parsing. Only the binaries get the flag (the test
//! harnesses and proc macros are unaffected).
//!
//! Normally the binary is also fully static (crt-static, added for the
//! outlet bin only by .cargo/rustc-static-bin); -no-pie still matters when
//! that wrapper is overridden, e.g. by RUSTC_WORKSPACE_WRAPPER in the
//! environment, and the binary then links dynamically.
fn main() {
    println!("cargo:rustc-link-arg-bins=-no-pie");
    println!("cargo:rerun-if-changed=build.rs");
    tests_as_root();
}

/// The integration tests need root (namespaces, mounts, cgroups). A test
/// harness cannot mark a test ignored at run time, so the build decides:
/// built by root, they run (and fail loudly if then run without root);
/// built by anyone else, they are compiled as ignored with the reason, and
/// `cargo test` reports them as skipped, never as passed.
fn tests_as_root() {
    println!("cargo::rustc-check-cfg=cfg(outlet_root)");
    println!("cargo:rerun-if-env-changed=USER");
    println!("cargo:rerun-if-env-changed=SUDO_USER");
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let euid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|ids| ids.split_whitespace().nth(1))
        .unwrap_or("");
    if euid == "0" {
        println!("cargo:rustc-cfg=outlet_root");
    }
}
