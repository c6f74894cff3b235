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
    libseccomp_search_path();
}

/// Puts the target architecture's libseccomp.a (Debian's multiarch
/// directory, or `LIBSECCOMP_LIB_PATH` when set) alone in a directory of
/// OUT_DIR and adds that to the link search path. Searching the multiarch
/// directory itself would also find glibc's libc.a there before musl's.
fn libseccomp_search_path() {
    println!("cargo:rerun-if-env-changed=LIBSECCOMP_LIB_PATH");
    let dir = std::env::var("LIBSECCOMP_LIB_PATH").unwrap_or_else(|_| {
        let arch = std::env::var("CARGO_CFG_TARGET_ARCH").expect("cargo sets the target arch");
        let multiarch = match arch.as_str() {
            "x86" => "i386-linux-gnu".to_string(),
            "arm" => "arm-linux-gnueabihf".to_string(),
            "powerpc64" => "powerpc64le-linux-gnu".to_string(),
            other => format!("{other}-linux-gnu"),
        };
        format!("/usr/lib/{multiarch}")
    });
    let archive = std::path::Path::new(&dir).join("libseccomp.a");
    println!("cargo:rerun-if-changed={}", archive.display());
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"))
        .join("libseccomp");
    std::fs::create_dir_all(&out).expect("create OUT_DIR/libseccomp");
    let link = out.join("libseccomp.a");
    let _ = std::fs::remove_file(&link);
    if let Err(e) = std::os::unix::fs::symlink(&archive, &link) {
        panic!("link {} into {}: {e}", archive.display(), out.display());
    }
    if !archive.exists() {
        println!(
            "cargo:warning={} is missing: install libseccomp-dev (scripts/install-deps.sh)",
            archive.display()
        );
    }
    println!("cargo:rustc-link-search=native={}", out.display());
    // Named here too, so the archive comes before libc on the link line:
    // libseccomp-sys's own request lands after it, leaving the archive's
    // calls into libc unresolved in a static link.
    println!("cargo:rustc-link-lib=static:-bundle=seccomp");
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
