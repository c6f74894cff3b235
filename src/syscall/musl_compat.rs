//! glibc-only symbols that Debian's libseccomp.a (compiled against glibc)
//! calls and musl does not define. Everything else the archive needs from a
//! libc, musl provides with the same ABI (the stack protector's canary sits
//! at %fs:0x28 in both).

use std::ffi::{c_char, c_int, c_void};

/// glibc's _FORTIFY_SOURCE `fprintf`. libseccomp calls it only from
/// `seccomp_export_pfc` (a human-readable dump of a filter), which outlet
/// never calls. It fails with ENOSYS instead of printing, so none of the
/// caller's variadic arguments is read: declaring only the fixed ones is
/// sound on the SysV and AAPCS64 ABIs, where variadic arguments travel like
/// ordinary ones.
#[unsafe(no_mangle)]
pub extern "C" fn __fprintf_chk(
    _stream: *mut c_void,
    _flag: c_int,
    _format: *const c_char,
) -> c_int {
    nix::errno::Errno::ENOSYS.set();
    -1
}
