//! Tests that make network interfaces do it in a network namespace of
//! their own, never the host's: a thread that unshared one (a thread's
//! children inherit its namespaces), where `ip` runs. The namespace, and
//! every interface in it, dies with the thread and its processes.

use std::process::Command;

/// `f` on a thread in a new network namespace of its own.
pub fn in_private_netns<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    std::thread::scope(|s| {
        let h = s.spawn(|| {
            nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET)
                .expect("unshare a network namespace for the test");
            f()
        });
        h.join().unwrap_or_else(|p| std::panic::resume_unwind(p))
    })
}

/// `ip ARGS` in the calling thread's network namespace.
pub fn ip(args: &str) -> (bool, String) {
    let o = Command::new("ip")
        .args(args.split_whitespace())
        .output()
        .expect("run ip");
    let text =
        String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr);
    (o.status.success(), text)
}

/// A veth pair `host`/`peer` with `addr` on `host`, up.
pub fn veth(host: &str, peer: &str, addr: &str) {
    for cmd in [
        format!("link add {host} type veth peer name {peer}"),
        format!("addr add {addr} dev {host}"),
        format!("link set {host} up"),
    ] {
        let (ok, out) = ip(&cmd);
        assert!(ok, "ip {cmd}: {out}");
    }
}
