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
const BPF_PROG_QUERY: libc::c_long = 16;

const BPF_PROG_TYPE_CGROUP_DEVICE: u32 = 15;
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
    let mut get = GetFdAttr {
        prog_id,
        ..Default::default()
    };
    let prog = take_fd(bpf(BPF_PROG_GET_FD_BY_ID, &mut get)?);
    let mut attr = AttachAttr {
        target_fd: cgroup.as_raw_fd() as u32,
        attach_bpf_fd: prog.as_raw_fd() as u32,
        attach_type: BPF_CGROUP_DEVICE,
        ..Default::default()
    };
    bpf(BPF_PROG_DETACH, &mut attr).map(drop)
}
