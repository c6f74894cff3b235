//! bpf(2) calls to load a cgroup device program and attach it to a cgroup
//! directory. Only the few attribute layouts needed, from linux/bpf.h.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use anyhow::{Result, anyhow};

use super::program::Insn;

const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_PROG_ATTACH: libc::c_long = 8;
const BPF_PROG_DETACH: libc::c_long = 9;
const BPF_PROG_GET_FD_BY_ID: libc::c_long = 13;
const BPF_OBJ_GET_INFO_BY_FD: libc::c_long = 15;
const BPF_PROG_QUERY: libc::c_long = 16;

pub const BPF_PROG_TYPE_CGROUP_DEVICE: u32 = 15;
const BPF_CGROUP_DEVICE: u32 = 6;
/// Keeps programs attached by others (a nested runtime, systemd) in force:
/// with MULTI every attached program must allow.
const BPF_F_ALLOW_MULTI: u32 = 2;

#[repr(C)]
#[derive(Default)]
struct ProgLoadAttr {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
    prog_name: [u8; 16],
    prog_ifindex: u32,
    expected_attach_type: u32,
}

#[repr(C)]
#[derive(Default)]
struct AttachAttr {
    target_fd: u32,
    attach_bpf_fd: u32,
    attach_type: u32,
    attach_flags: u32,
    replace_bpf_fd: u32,
}

#[repr(C)]
#[derive(Default)]
struct QueryAttr {
    target_fd: u32,
    attach_type: u32,
    query_flags: u32,
    attach_flags: u32,
    prog_ids: u64,
    prog_cnt: u32,
    _pad: u32,
}

#[repr(C)]
#[derive(Default)]
struct GetFdAttr {
    prog_id: u32,
    next_id: u32,
    open_flags: u32,
}

#[repr(C)]
#[derive(Default)]
struct InfoAttr {
    bpf_fd: u32,
    info_len: u32,
    info: u64,
}

/// The head of the kernel's struct bpf_prog_info, up to the pointer to
/// the translated instructions: the kernel fills at most `info_len` bytes
/// of it and checks that the fields we do not pass would be zero.
#[repr(C)]
#[derive(Default)]
struct ProgInfo {
    prog_type: u32,
    id: u32,
    tag: [u8; 8],
    jited_prog_len: u32,
    xlated_prog_len: u32,
    jited_prog_insns: u64,
    xlated_prog_insns: u64,
}

/// bpf(cmd, attr, sizeof attr). Sound because every attr type is a
/// #[repr(C)] prefix of the kernel's union bpf_attr, `attr` lives for the
/// call, and the pointers inside it point to buffers the caller keeps alive.
fn bpf<T>(cmd: libc::c_long, attr: &mut T) -> io::Result<libc::c_long> {
    // SAFETY: see above; the kernel reads (and for QUERY writes) at most
    // size_of::<T>() bytes of `attr`.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd,
            attr as *mut T,
            std::mem::size_of::<T>() as u32,
        )
    };
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(rc)
    }
}

fn take_fd(rc: libc::c_long) -> OwnedFd {
    // SAFETY: a successful PROG_LOAD / GET_FD_BY_ID returns a new fd that
    // nothing else owns.
    unsafe { OwnedFd::from_raw_fd(rc as i32) }
}

fn load_attr(prog: &[Insn], license: &std::ffi::CStr) -> ProgLoadAttr {
    let mut attr = ProgLoadAttr {
        prog_type: BPF_PROG_TYPE_CGROUP_DEVICE,
        insn_cnt: prog.len() as u32,
        insns: prog.as_ptr() as u64,
        license: license.as_ptr() as u64,
        ..Default::default()
    };
    attr.prog_name[..12].copy_from_slice(b"outlet_devcg");
    attr
}

pub fn load(prog: &[Insn]) -> Result<OwnedFd> {
    match bpf(BPF_PROG_LOAD, &mut load_attr(prog, c"Apache")) {
        Ok(fd) => Ok(take_fd(fd)),
        Err(e) => {
            // Load again with the verifier's log, only to explain the failure.
            let (_, text) = load_logged(prog, 1);
            Err(anyhow!(
                "cgroup: load the eBPF device program ({} instructions): {e}{}{}",
                prog.len(),
                if text.is_empty() { "" } else { "; verifier: " },
                text.trim()
            ))
        }
    }
}

/// Load with the verifier's log at `log_level` (1: the walk, 4: only the
/// statistics, "processed N insns ..."): for error messages and for
/// measuring what the verifier spends on a program's shape.
pub fn load_logged(prog: &[Insn], log_level: u32) -> (io::Result<OwnedFd>, String) {
    let mut log = vec![0u8; 64 * 1024];
    let mut attr = load_attr(prog, c"Apache");
    attr.log_level = log_level;
    attr.log_size = log.len() as u32;
    attr.log_buf = log.as_mut_ptr() as u64;
    let fd = bpf(BPF_PROG_LOAD, &mut attr).map(take_fd);
    let end = log.iter().position(|&b| b == 0).unwrap_or(0);
    (fd, String::from_utf8_lossy(&log[..end]).into_owned())
}

pub fn attach(cgroup: BorrowedFd<'_>, prog: BorrowedFd<'_>) -> io::Result<()> {
    let mut attr = AttachAttr {
        target_fd: cgroup.as_raw_fd() as u32,
        attach_bpf_fd: prog.as_raw_fd() as u32,
        attach_type: BPF_CGROUP_DEVICE,
        attach_flags: BPF_F_ALLOW_MULTI,
        ..Default::default()
    };
    bpf(BPF_PROG_ATTACH, &mut attr).map(drop)
}

/// Ids of the device programs attached directly to `cgroup`.
pub fn query(cgroup: BorrowedFd<'_>) -> io::Result<Vec<u32>> {
    let mut ids = vec![0u32; 64];
    let mut attr = QueryAttr {
        target_fd: cgroup.as_raw_fd() as u32,
        attach_type: BPF_CGROUP_DEVICE,
        prog_ids: ids.as_mut_ptr() as u64,
        prog_cnt: ids.len() as u32,
        ..Default::default()
    };
    bpf(BPF_PROG_QUERY, &mut attr)?;
    ids.truncate(attr.prog_cnt as usize);
    Ok(ids)
}

pub fn detach(cgroup: BorrowedFd<'_>, prog_id: u32) -> io::Result<()> {
    let prog = get_fd_by_id(prog_id)?;
    let mut attr = AttachAttr {
        target_fd: cgroup.as_raw_fd() as u32,
        attach_bpf_fd: prog.as_raw_fd() as u32,
        attach_type: BPF_CGROUP_DEVICE,
        ..Default::default()
    };
    bpf(BPF_PROG_DETACH, &mut attr).map(drop)
}

/// An fd of the loaded program with kernel id `prog_id` (ENOENT once it
/// is freed; the id may since name another program).
pub fn get_fd_by_id(prog_id: u32) -> io::Result<OwnedFd> {
    let mut get = GetFdAttr {
        prog_id,
        ..Default::default()
    };
    bpf(BPF_PROG_GET_FD_BY_ID, &mut get).map(take_fd)
}

/// What the kernel holds for a loaded program: its type, its id and the
/// instructions it runs (after the verifier's rewrites, before the JIT),
/// as raw `struct bpf_insn` bytes.
pub struct Loaded {
    pub prog_type: u32,
    pub id: u32,
    pub xlated: Vec<u8>,
}

/// The program `prog`'s type, id and translated instructions; at most
/// `max_insns` + 1 of them are read: a program longer than `max_insns`
/// comes back longer, so never equal to one of `max_insns`.
pub fn info(prog: BorrowedFd<'_>, max_insns: usize) -> io::Result<Loaded> {
    let cap = (max_insns + 1) * std::mem::size_of::<Insn>();
    let mut xlated = vec![0u8; cap];
    let mut info = ProgInfo {
        xlated_prog_len: cap as u32,
        xlated_prog_insns: xlated.as_mut_ptr() as u64,
        ..Default::default()
    };
    let mut attr = InfoAttr {
        bpf_fd: prog.as_raw_fd() as u32,
        info_len: std::mem::size_of::<ProgInfo>() as u32,
        info: &mut info as *mut ProgInfo as u64,
    };
    // The kernel writes at most `cap` bytes to `xlated` and at most
    // `info_len` bytes to `info`, both alive across the call.
    bpf(BPF_OBJ_GET_INFO_BY_FD, &mut attr)?;
    // xlated_prog_len is now the program's whole size; the kernel copied
    // min(that, cap) bytes.
    xlated.truncate((info.xlated_prog_len as usize).min(cap));
    Ok(Loaded {
        prog_type: info.prog_type,
        id: info.id,
        xlated,
    })
}
