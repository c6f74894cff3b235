//! devices controller (v1): deny everything, then replay the rule list as
//! devices.allow / devices.deny lines.

use crate::cgroups::FileWrite;
use crate::cgroups::devices::{DeviceKind, DeviceRule};

pub fn writes(rules: &[DeviceRule], out: &mut Vec<FileWrite>) {
    out.push(FileWrite::new("devices", "devices.deny", "a".to_owned()));
    for rule in rules {
        let file = if rule.allow {
            "devices.allow"
        } else {
            "devices.deny"
        };
        if rule.is_everything() {
            // "a" alone switches the default and clears the exceptions.
            out.push(FileWrite::new("devices", file, "a".to_owned()));
        } else if rule.kind == DeviceKind::All {
            // The kernel reads any "a ..." line as "everything", so a
            // narrower rule for all types is split into char and block.
            for kind in [DeviceKind::Char, DeviceKind::Block] {
                out.push(FileWrite::new(
                    "devices",
                    file,
                    DeviceRule { kind, ..*rule }.to_string(),
                ));
            }
        } else {
            out.push(FileWrite::new("devices", file, rule.to_string()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroups::devices::rules;
    use crate::cgroups::test_util::{pairs, res};

    #[test]
    fn deny_all_then_rules_then_defaults() {
        let r = res(r#"{"devices":[{"allow":false,"access":"rwm"},
            {"allow":true,"type":"c","major":10,"minor":200,"access":"rw"},
            {"allow":false,"type":"a","major":1,"access":"m"}]}"#);
        let mut out = Vec::new();
        writes(&rules(Some(&r), true).unwrap().unwrap(), &mut out);
        let p = pairs(&out);
        assert_eq!(
            &p[..5],
            [
                ("devices.deny", "a"),
                ("devices.deny", "a"),
                ("devices.allow", "c 10:200 rw"),
                ("devices.deny", "c 1:* m"),
                ("devices.deny", "b 1:* m"),
            ]
        );
        assert_eq!(p[5], ("devices.allow", "c *:* m"));
        assert_eq!(p[6], ("devices.allow", "b *:* m"));
        assert_eq!(p[7], ("devices.allow", "c 1:3 rwm"));
        assert_eq!(p.last().unwrap(), &("devices.allow", "c 10:200 rwm"));
    }
}
