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
}
