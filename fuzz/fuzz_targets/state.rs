//! state.json bytes (a file a crash may have truncated, or anything else)
//! through the state loader: an error or a state, never a panic; and a
//! state it accepts is one it writes back identically, so a `save` of what
//! `load` read cannot change the container's record.
#![no_main]

use libfuzzer_sys::fuzz_target;
use outlet::state::{Status, parse_state};

fuzz_target!(|data: &[u8]| {
    let Ok(st) = parse_state(data) else {
        return;
    };
    let once = serde_json::to_vec(&st).expect("a loaded state serialises");
    let again = parse_state(&once).expect("a saved state loads");
    let twice = serde_json::to_vec(&again).expect("a reloaded state serialises");
    assert_eq!(once, twice, "state.json changes on a load/save round trip");
    for status in [Status::Created, Status::Running, Status::Stopped] {
        serde_json::to_vec(&st.oci(status)).expect("the OCI state serialises");
    }
    // The intent record is read by the same kind of loader in delete --force.
    let _ = serde_json::from_slice::<outlet::state::Intent>(data);
});
