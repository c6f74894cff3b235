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
    // The link order .cargo/rustc-static-bin hands the linker: a new list
    // relinks the binary.
    println!("cargo:rerun-if-changed=.cargo/hot-symbols.txt");
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
    if std::env::var("CARGO_CFG_TARGET_ENV").as_deref() == Ok("musl") {
        glibc_symbols_for_musl(&out);
        // libseccomp-sys's request for the archive lands after libc on the
        // link line; in a static link, the archive's own calls into libc
        // are then resolved only by naming libc once more at the end.
        println!("cargo:rustc-link-arg=-lc");
    }
}

/// Debian's libseccomp.a is compiled against glibc with _FORTIFY_SOURCE,
/// and calls one function musl does not have: `__fprintf_chk` (from its
/// text export of a filter, which outlet never uses). Everything else it
/// needs musl provides with the same ABI (the stack protector's canary
/// sits at %fs:0x28 in both). The definition is C because Rust cannot
/// define a variadic function on stable; it is an object on the link line
/// (so every binary linking the archive gets it, not only those linking
/// outlet's library), compiled with the C compiler that links anyway.
fn glibc_symbols_for_musl(out: &std::path::Path) {
    const SOURCE: &str = r#"
typedef struct _IO_FILE FILE;
int vfprintf(FILE *, const char *, __builtin_va_list);
/* glibc's checked fprintf: the check is on %n in writable formats, which
   libseccomp's constant formats never have. */
int __fprintf_chk(FILE *f, int flag, const char *fmt, ...)
{
    __builtin_va_list ap;
    int r;
    (void)flag;
    __builtin_va_start(ap, fmt);
    r = vfprintf(f, fmt, ap);
    __builtin_va_end(ap);
    return r;
}
"#;
    let src = out.join("glibc_symbols.c");
    let obj = out.join("glibc_symbols.o");
    std::fs::write(&src, SOURCE).expect("write glibc_symbols.c");
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let status = std::process::Command::new(&cc)
        .args([
            "-c",
            "-O2",
            "-fPIC",
            "-fno-stack-protector",
            "-nostdinc",
            "-o",
        ])
        .arg(&obj)
        .arg(&src)
        .status()
        .unwrap_or_else(|e| panic!("run {cc} (build-essential): {e}"));
    assert!(status.success(), "{cc} failed on {}", src.display());
    println!("cargo:rustc-link-arg={}", obj.display());
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
