//! config.json bytes through the loader `create` and `run` use: any input
//! either fails with an error or yields a spec that the later, typed-only
//! readers of the state dir's copy (`checkpoint`'s whole spec, `exec`'s
//! view) and the pure translations (device rules, mount options) accept
//! without panicking.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(spec) = outlet::spec::parse(data, Path::new("config.json")) else {
        return;
    };
    if let Err(e) = outlet::spec::from_validated(data) {
        panic!("create accepted a config that the state dir's reader refuses: {e:#}");
    }
    if let Err(e) = outlet::spec::exec_view(data) {
        panic!("create accepted a config that exec's view refuses: {e:#}");
    }
    if let Some(linux) = spec.linux() {
        let _ = outlet::cgroups::devices::rules(linux.resources().as_ref(), true);
    }
    for m in spec.mounts().iter().flatten() {
        if let Some(opts) = m.options() {
            outlet::rootfs::mounts::parse_options(opts);
        }
    }
});
