//! freezer controller (v1): freezer.state is FROZEN, FREEZING or THAWED.

pub const STATE: &str = "freezer.state";
pub const FROZEN: &str = "FROZEN";
pub const THAWED: &str = "THAWED";

/// Only FROZEN counts: FREEZING means some task has not stopped yet.
pub fn is_frozen(state: &str) -> bool {
    state.trim() == FROZEN
}

#[cfg(test)]
mod tests {
    #[test]
    fn states() {
        assert!(super::is_frozen("FROZEN\n"));
        assert!(!super::is_frozen("FREEZING\n"));
        assert!(!super::is_frozen("THAWED\n"));
    }
}
