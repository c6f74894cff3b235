//! freezer controller (v1): freezer.state is FROZEN, FREEZING or THAWED.

pub const STATE: &str = "freezer.state";
pub const FROZEN: &str = "FROZEN";
pub const THAWED: &str = "THAWED";

/// Only FROZEN counts: FREEZING means some task has not stopped yet.
pub fn is_frozen(state: &str) -> bool {
    state.trim() == FROZEN
}

/// Whether the container reads "paused": FREEZING too. A freeze once
/// asked for goes on in the kernel (each task stops at its next return to
/// user space) whether or not the `pause` that asked is still there to
/// wait for it: a `pause` killed mid-way left a container that `state`
/// read "running" and that froze a moment later (tests/races_s9_kill.rs
/// `pause_killed_then_next_caller`), which `resume` must then thaw and a
/// `delete --force` thaw before its kill. Debug builds'
/// OUTLET_FREEZING_RUNNING=1 (the control) reads it as before.
pub fn reads_paused(state: &str) -> bool {
    let s = state.trim();
    s == FROZEN || (s == "FREEZING" && !crate::fault::control("OUTLET_FREEZING_RUNNING"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn states() {
        assert!(super::is_frozen("FROZEN\n"));
        assert!(!super::is_frozen("FREEZING\n"));
        assert!(!super::is_frozen("THAWED\n"));
    }

    /// FREEZING is a pause under way; THAWED is none.
    #[test]
    fn a_freeze_under_way_reads_paused() {
        assert!(super::reads_paused("FROZEN\n"));
        assert!(super::reads_paused("FREEZING\n"));
        assert!(!super::reads_paused("THAWED\n"));
    }
}
