//! `update --memory 64m`'s size parser and `events --interval 5s`'s duration
//! parser: the first byte picks the parser, the rest is its text. A size is
//! -1 (unlimited) or a non-negative byte count; a plain number of bytes is
//! itself; a duration never panics on overflow.
#![no_main]

use libfuzzer_sys::fuzz_target;
use outlet::container::events::parse_duration;
use outlet::container::update::parse_bytes;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let Ok(s) = std::str::from_utf8(rest) else {
        return;
    };
    if pick & 1 == 0 {
        if let Ok(v) = parse_bytes("memory", s) {
            assert!(v >= -1, "{s:?} gave {v}");
            if let Ok(plain) = s.trim().parse::<u32>() {
                assert_eq!(v, i64::from(plain), "{s:?}");
            }
        }
    } else if let Ok(d) = parse_duration(s)
        && let Some(secs) = s
            .trim()
            .strip_suffix('s')
            .and_then(|n| n.parse::<u32>().ok())
    {
        assert_eq!(d.as_secs(), u64::from(secs), "{s:?}");
    }
});
