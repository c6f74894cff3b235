//! A mount's `options` list through `parse_options`: the input is split at
//! commas into options (as a caller writes them), and the result is checked
//! against what each option means: bind only from bind/rbind, propagation
//! only from propagation names, data only from unknown options, and the
//! last of a ro/rw pair wins.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nix::mount::MsFlags;
use outlet::rootfs::mounts::{parse_options, propagation_flag};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let opts: Vec<String> = text.split(',').map(str::to_string).collect();
    let o = parse_options(&opts);

    let binds = opts.iter().any(|s| s == "bind" || s == "rbind");
    assert_eq!(o.bind, binds, "bind for {opts:?}");
    // Propagation changes, in the order given.
    let prop: Vec<MsFlags> = opts.iter().filter_map(|s| propagation_flag(s)).collect();
    assert_eq!(o.propagation, prop, "propagation for {opts:?}");
    // Data only ever holds options that were given and that mean nothing
    // to the mount itself (as runc: those go to the filesystem).
    for d in &o.data {
        assert!(opts.contains(d), "data {d:?} not given: {opts:?}");
        assert!(
            propagation_flag(d).is_none() && !matches!(d.as_str(), "bind" | "rbind" | "ro" | "rw"),
            "{d:?} in data for {opts:?}"
        );
    }
    let last_ro = opts.iter().rposition(|s| s == "ro");
    let last_rw = opts.iter().rposition(|s| s == "rw");
    let ro = match (last_ro, last_rw) {
        (Some(a), Some(b)) => a > b,
        (a, _) => a.is_some(),
    };
    assert_eq!(o.flags.contains(MsFlags::MS_RDONLY), ro, "ro for {opts:?}");
    // Propagation never leaks into mount(2)'s flags: it needs its own call.
    let prop_bits =
        MsFlags::MS_PRIVATE | MsFlags::MS_SHARED | MsFlags::MS_SLAVE | MsFlags::MS_UNBINDABLE;
    assert!(
        !o.flags.intersects(prop_bits),
        "propagation in flags for {opts:?}"
    );
});
