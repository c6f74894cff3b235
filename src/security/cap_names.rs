//! Capability names in a config that are no capability: dropped with a
//! warning, not refused. The runtime-spec (1.1+, config.md, Linux
//! process): such a value MUST be logged as a warning and the runtime
//! SHOULD NOT fail, as runc does ("ignoring unknown or unavailable
//! capabilities").

use super::capabilities::{SETS, is_canonical, name_of, number_of};

/// Removes from every set of a config's `process.capabilities` each name
/// that is not a capability as capabilities(7) spells it, returning them
/// (`set:NAME`, with the spelling meant when it is a known one in another
/// case or form).
/// `config` is a config.json; `drop_unknown_in` takes a capabilities
/// object itself (exec's process file).
pub fn drop_unknown(config: &mut serde_json::Value) -> Vec<String> {
    match config.pointer_mut("/process/capabilities") {
        Some(caps) => drop_unknown_in(caps),
        None => Vec::new(),
    }
}

pub fn drop_unknown_in(capabilities: &mut serde_json::Value) -> Vec<String> {
    let mut dropped = Vec::new();
    let Some(obj) = capabilities.as_object_mut() else {
        return dropped;
    };
    for set in SETS {
        let Some(items) = obj.get_mut(set).and_then(|l| l.as_array_mut()) else {
            continue;
        };
        items.retain(|item| {
            let Some(name) = item.as_str() else {
                return true;
            };
            match number_of(name) {
                Some(_) if is_canonical(name) => true,
                Some(nr) => {
                    dropped.push(format!("{set}:{name} (capabilities(7): {})", name_of(nr)));
                    false
                }
                None => {
                    dropped.push(format!("{set}:{name}"));
                    false
                }
            }
        });
    }
    dropped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_names_that_are_no_capability_go() {
        let mut v = serde_json::json!({"process": {"capabilities": {
            "bounding": ["CAP_KILL", "CAP_FOO", "cap_chown"],
            "effective": ["CAP_KILL"]
        }}});
        let d = drop_unknown(&mut v);
        assert_eq!(
            d,
            [
                "bounding:CAP_FOO",
                "bounding:cap_chown (capabilities(7): CAP_CHOWN)"
            ]
        );
        assert_eq!(
            v["process"]["capabilities"]["bounding"],
            serde_json::json!(["CAP_KILL"])
        );
        assert_eq!(
            v["process"]["capabilities"]["effective"],
            serde_json::json!(["CAP_KILL"])
        );
    }
}
