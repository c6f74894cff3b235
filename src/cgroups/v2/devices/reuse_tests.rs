//! `reuse` against the kernel: a remembered program is found again; an
//! id that names another program, a freed one, or a garbage record is
//! not. The container-level tests (attach, enforcement, the attack with
//! its control, no leak after delete) are tests/devprog_s12.rs.

use std::os::fd::AsFd;

use super::equivalence_tests::{LISTS, random_rules, spec_rules};
use super::program::{Insn, build, insn};
use super::{bpf, reuse};
use crate::security::testutil::TempDir;

fn id_of(prog: std::os::fd::BorrowedFd<'_>) -> u32 {
    bpf::info(prog, 0).expect("info").id
}

/// Allow everything: r0 = 1, exit.
fn permissive() -> Vec<Insn> {
    vec![
        insn(super::program::ALU64_MOV_K, 0, 0, 0, 1),
        insn(super::program::JMP_EXIT, 0, 0, 0, 0),
    ]
}

/// Reuse rests on the kernel running a loaded device program's
/// instructions unrewritten: then `remember` stores it. Checked for the
/// test lists (the defaults of runc's spec among them) and random lists;
/// a program the verifier did rewrite would only never be reused.
#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root to load eBPF programs")]
fn the_kernel_runs_the_built_instructions_unchanged() {
    let mut seed = 0x5eed_0000_0000_0001;
    let mut lists: Vec<_> = LISTS.iter().map(|l| spec_rules(l)).collect();
    lists.extend((0..40).map(|n| random_rules(&mut seed, n)));
    for rules in lists {
        let insns = build(&rules);
        let prog = bpf::load(&insns).unwrap();
        let info = bpf::info(prog.as_fd(), insns.len()).unwrap();
        assert_eq!(info.prog_type, bpf::BPF_PROG_TYPE_CGROUP_DEVICE);
        assert!(info.xlated == reuse::raw(&insns), "{rules:?}: rewritten");
    }
}

#[test]
#[cfg_attr(not(outlet_root), ignore = "needs root to load eBPF programs")]
fn a_remembered_program_is_found_and_nothing_else_is() {
    let dir = TempDir::new("devprog");
    let cache = dir.0.join(".cache/devprog");
    // runc spec's list: deny all, then the defaults.
    let insns = build(&spec_rules(LISTS[1]));
    assert_ne!(insns, permissive());
    let raw = reuse::raw(&insns);
    assert!(reuse::find(&cache, &insns, &raw).is_none(), "empty cache");

    let prog = bpf::load(&insns).unwrap();
    reuse::remember(&cache, prog.as_fd(), insns.len(), &raw);
    let found = reuse::find(&cache, &insns, &raw).expect("the remembered program");
    assert_eq!(id_of(found.as_fd()), id_of(prog.as_fd()));

    // Another program's id: a cgroup device program, but not this one.
    let other = bpf::load(&permissive()).unwrap();
    reuse::write_id(&reuse::entry(&cache, &raw), id_of(other.as_fd()));
    assert!(reuse::find(&cache, &insns, &raw).is_none(), "planted id");
    // The control: the planted entry is well formed, it names `other`
    // for the permissive program's own instructions.
    let p = permissive();
    let p_raw = reuse::raw(&p);
    reuse::write_id(&reuse::entry(&cache, &p_raw), id_of(other.as_fd()));
    assert!(reuse::find(&cache, &p, &p_raw).is_some(), "control");

    // A freed program's id (the kernel frees the id with the last fd).
    let gone = id_of(prog.as_fd());
    reuse::remember(&cache, prog.as_fd(), insns.len(), &raw);
    drop((prog, found));
    assert!(bpf::get_fd_by_id(gone).is_err(), "freed");
    assert!(reuse::find(&cache, &insns, &raw).is_none(), "stale id");

    // Garbage, an empty and a torn record.
    let entry = reuse::entry(&cache, &raw);
    for bytes in [
        &b"garbage"[..],
        b"",
        b"odp1\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00",
    ] {
        std::fs::write(&entry, bytes).unwrap();
        assert!(reuse::find(&cache, &insns, &raw).is_none(), "{bytes:?}");
    }
    // A fresh load rewrites it.
    let again = bpf::load(&insns).unwrap();
    reuse::remember(&cache, again.as_fd(), insns.len(), &raw);
    let found = reuse::find(&cache, &insns, &raw).expect("rewritten");
    assert_eq!(id_of(found.as_fd()), id_of(again.as_fd()));
}
