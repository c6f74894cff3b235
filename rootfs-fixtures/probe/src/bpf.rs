//! `probe bpf-count [CGROUP_DIR...]`: how many eBPF programs the kernel
//! holds (BPF_PROG_GET_NEXT_ID over every id), and, per cgroup directory,
//! how many device programs are attached to it directly (BPF_PROG_QUERY,
//! BPF_CGROUP_DEVICE). One line: `loaded=N DIR=M ...`, with M `err:ERRNO`
//! when the directory cannot be queried. For the VM's crash test: a killed
//! runtime must not leave a device filter on a cgroup that outlives the
//! container, nor a program the kernel keeps.
//!
//! bpftool is not in the VM, and no file under /sys or /proc lists
//! programs, hence the raw syscall.

use crate::{close, errno, open_raw};

const BPF_PROG_GET_NEXT_ID: libc::c_long = 11;
const BPF_PROG_QUERY: libc::c_long = 16;
const BPF_CGROUP_DEVICE: u32 = 6;

/// union bpf_attr is at most a few hundred bytes; the kernel checks that
/// bytes past what it knows are zero, so a zeroed buffer of any size up to
/// a page is accepted.
#[repr(C, align(8))]
struct Attr([u8; 128]);

fn put_u32(a: &mut Attr, off: usize, v: u32) {
    a.0[off..off + 4].copy_from_slice(&v.to_ne_bytes());
}

fn get_u32(a: &Attr, off: usize) -> u32 {
    u32::from_ne_bytes(a.0[off..off + 4].try_into().unwrap())
}

fn bpf(cmd: libc::c_long, a: &mut Attr) -> Result<(), i32> {
    // SAFETY: a is a live, writable buffer of the size passed; the kernel
    // reads and writes only within it.
    let r = unsafe { libc::syscall(libc::SYS_bpf, cmd, a as *mut Attr, size_of::<Attr>()) };
    if r < 0 { Err(errno()) } else { Ok(()) }
}

/// Every program id the kernel has (ENOENT ends the walk).
fn loaded() -> Result<u32, i32> {
    let (mut n, mut id) = (0, 0);
    loop {
        let mut a = Attr([0; 128]);
        put_u32(&mut a, 0, id); // start_id
        match bpf(BPF_PROG_GET_NEXT_ID, &mut a) {
            Ok(()) => {
                id = get_u32(&a, 4); // next_id
                n += 1;
            }
            Err(libc::ENOENT) => return Ok(n),
            Err(e) => return Err(e),
        }
    }
}

/// Device programs attached to DIR itself (query_flags 0: not the
/// effective ones inherited from above). prog_ids NULL asks for the count.
fn attached(dir: &str) -> Result<u32, i32> {
    let fd = open_raw(dir, libc::O_RDONLY | libc::O_DIRECTORY)?;
    let mut a = Attr([0; 128]);
    put_u32(&mut a, 0, fd as u32); // target_fd
    put_u32(&mut a, 4, BPF_CGROUP_DEVICE); // attach_type
    let r = bpf(BPF_PROG_QUERY, &mut a);
    close(fd);
    r.map(|()| get_u32(&a, 24)) // prog_cnt, after the 8-aligned prog_ids
}

pub fn count(dirs: &[&str]) -> i32 {
    let mut line = match loaded() {
        Ok(n) => format!("loaded={n}"),
        Err(e) => format!("loaded=err:{e}"),
    };
    for d in dirs {
        match attached(d) {
            Ok(n) => line += &format!(" {d}={n}"),
            Err(e) => line += &format!(" {d}=err:{e}"),
        }
    }
    println!("{line}");
    0
}
