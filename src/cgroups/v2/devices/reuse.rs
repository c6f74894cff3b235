//! Load once, attach many: a device program another container loaded is
//! attached again instead of loading (and verifying, and JIT-compiling)
//! the same instructions anew, about 0.17 ms of CPU per create. Every
//! container with the same rules (the defaults of runc's, Docker's and
//! podman's specs) builds the same instructions.
//!
//! `<root>/.cache/devprog/<hash of the instructions>` holds the kernel id
//! of the last program loaded for them. The file is only a hint: an id is
//! reused by another program once the old one is freed, and anyone who
//! can write the state root can write any id there. So the program found
//! by the id is attached only after the kernel says it is a cgroup device
//! program whose translated instructions (what the kernel runs: the JIT
//! compiles exactly these) are byte for byte the ones outlet built. A
//! program whose load the verifier rewrote is never stored, as no later
//! check could show it is the same. Anything else (no file, a garbage or
//! torn record, a freed id, another program, an attach that fails) loads
//! afresh, as before, and rewrites the record.
//!
//! The record is rewritten in place by one 16-byte pwrite, not renamed
//! into place: a new inode per rewrite costs up to 0.35 ms on an ext4
//! root (more than the load it saves), and a reader that catches a torn
//! record sees its check fail and loads afresh. The kernel frees the
//! program when the last cgroup holding it goes: nothing here keeps it.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::fs::{DirBuilderExt, FileExt};
use std::path::{Path, PathBuf};

use nix::fcntl::OFlag;
use nix::sys::stat::Mode;

use super::bpf;
use super::program::Insn;

const MAGIC: &[u8; 4] = b"odp1";
const RECORD: usize = 16;

/// Where the ids are kept for the state root `root`.
pub fn cache_dir(root: &Path) -> PathBuf {
    root.join(crate::state::CACHE_DIR).join("devprog")
}

fn fnv1a(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// The instructions as the kernel's `struct bpf_insn` array (x86-64 and
/// every other little-endian host: dst_reg in the low nibble, as `regs`).
pub fn raw(insns: &[Insn]) -> Vec<u8> {
    let mut out = Vec::with_capacity(insns.len() * 8);
    for i in insns {
        out.extend_from_slice(&[i.code, i.regs]);
        out.extend_from_slice(&i.off.to_le_bytes());
        out.extend_from_slice(&i.imm.to_le_bytes());
    }
    out
}

fn record(key: u64, id: u32) -> [u8; RECORD] {
    let mut r = [0u8; RECORD];
    r[..4].copy_from_slice(MAGIC);
    r[4..8].copy_from_slice(&id.to_le_bytes());
    let check = fnv1a(&[&r[..8], &key.to_le_bytes()[..]].concat());
    r[8..].copy_from_slice(&check.to_le_bytes());
    r
}

/// The id in a well-formed record for `key`.
fn parse(bytes: &[u8], key: u64) -> Option<u32> {
    let id = u32::from_le_bytes(bytes.get(4..8)?.try_into().ok()?);
    (bytes.len() == RECORD && bytes[..] == record(key, id)[..]).then_some(id)
}

fn open(path: &Path, flags: OFlag) -> Option<OwnedFd> {
    // O_NOFOLLOW: nothing planted at the name is followed; O_NONBLOCK: a
    // fifo there does not hang create.
    let flags = flags | OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC;
    crate::syscall::fs::openat(libc::AT_FDCWD, path, flags, Mode::from_bits_truncate(0o600)).ok()
}

/// The kernel's program for `insns` that an earlier create loaded, if
/// the cache names one that is still loaded and is exactly it.
pub fn find(dir: &Path, insns: &[Insn], raw: &[u8]) -> Option<OwnedFd> {
    let key = fnv1a(raw);
    let fd = open(&entry(dir, raw), OFlag::O_RDONLY)?;
    let mut buf = [0u8; RECORD + 1];
    let n = nix::unistd::read(fd.as_raw_fd(), &mut buf).ok()?;
    let id = parse(&buf[..n], key)?;
    let prog = bpf::get_fd_by_id(id).ok()?;
    // OUTLET_DEVPROG_TRUST_CACHE=1 (debug builds): attach whatever the id
    // names, the control of the test that plants another program's id.
    if crate::fault::control("OUTLET_DEVPROG_TRUST_CACHE") {
        return Some(prog);
    }
    exactly(prog.as_fd(), insns.len(), raw).map(|_| prog)
}

/// The program's id when the kernel runs exactly `raw` in it as a cgroup
/// device program.
fn exactly(prog: BorrowedFd<'_>, len: usize, raw: &[u8]) -> Option<u32> {
    let info = bpf::info(prog, len).ok()?;
    (info.prog_type == bpf::BPF_PROG_TYPE_CGROUP_DEVICE && info.xlated == raw).then_some(info.id)
}

/// Record `prog`, just loaded from `insns`, for the next create. Best
/// effort: a cache that cannot be written costs the next create a load.
pub fn remember(dir: &Path, prog: BorrowedFd<'_>, len: usize, raw: &[u8]) {
    if let Some(id) = exactly(prog, len, raw) {
        write_id(&entry(dir, raw), id);
    }
}

/// The file that holds the id for the instructions `raw`.
pub fn entry(dir: &Path, raw: &[u8]) -> PathBuf {
    dir.join(format!("{:016x}", fnv1a(raw)))
}

/// Store `id` in the entry `path` (one `entry` names), making the cache
/// directory if need be. Tests use it to plant ids.
pub fn write_id(path: &Path, id: u32) {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let Ok(key) = u64::from_str_radix(name, 16) else {
        return;
    };
    let fd = open(path, OFlag::O_WRONLY | OFlag::O_CREAT).or_else(|| {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(path.parent()?)
            .ok()?;
        open(path, OFlag::O_WRONLY | OFlag::O_CREAT)
    });
    let Some(fd) = fd else { return };
    let regular = nix::sys::stat::fstat(fd.as_raw_fd())
        .is_ok_and(|st| st.st_mode & libc::S_IFMT == libc::S_IFREG);
    if regular {
        let _ = std::fs::File::from(fd).write_at(&record(key, id), 0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_reads_back_only_whole_and_for_its_key() {
        let r = record(7, 42);
        assert_eq!(parse(&r, 7), Some(42));
        assert_eq!(parse(&r, 8), None, "another key");
        assert_eq!(parse(&r[..15], 7), None, "short");
        assert_eq!(parse(&[&r[..], b"x"].concat(), 7), None, "long");
        let mut torn = r;
        torn[4..8].copy_from_slice(&43u32.to_le_bytes());
        assert_eq!(parse(&torn, 7), None, "id of one write, check of another");
        assert_eq!(parse(b"garbage garbage!", 7), None);
        assert_eq!(parse(b"", 7), None);
    }
}
