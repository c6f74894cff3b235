//! A stricter reading of config.json than serde's derive gives, and the
//! path of the field at fault when the reading fails.
//!
//! serde's derived structs also accept a JSON array, field by field in
//! order: `"resources": []` or `"devices": [[]]` would parse as empty
//! objects and be silently ignored. This layer wraps serde_json's
//! deserializer and refuses an array wherever a struct is expected. On the
//! way out of an error it records the map keys and array indices it passes
//! through, so that every type error names its field
//! (`linux.namespaces[0].type`), whatever serde's own message says. Nothing
//! is recorded on success: the common path pays only for the wrapping.
//!
//! A new config (not a state dir's copy) is also held to the spec's
//! capability names in `capabilities` (`CAP_KILL`, as capabilities(7)
//! spells them), which oci-spec's own parser would take in any case and
//! without the prefix: checked here, in the one pass, at no extra cost.

use std::borrow::Cow;
use std::cell::{Cell, RefCell};
use std::fmt;

use serde::de::{
    self, DeserializeSeed, Deserializer, Error as _, MapAccess, SeqAccess, Unexpected, Visitor,
};

/// The path to the failed value, recorded innermost first while an error
/// unwinds.
#[derive(Default)]
pub struct Track {
    segments: RefCell<Vec<Segment>>,
    /// Refuse capability names the spec does not spell so.
    check_cap_names: bool,
    /// Inside a `capabilities` value (while `check_cap_names`).
    in_caps: Cell<bool>,
}

enum Segment {
    Key(String),
    Index(usize),
}

impl Track {
    /// A track that also refuses non-canonical capability names.
    pub fn checking_cap_names() -> Track {
        Track {
            check_cap_names: true,
            ..Track::default()
        }
    }

    /// `linux.namespaces[0].type`; empty at the top level.
    pub fn path(&self) -> String {
        let mut out = String::new();
        for s in self.segments.borrow().iter().rev() {
            match s {
                Segment::Key(k) => {
                    if !out.is_empty() {
                        out.push('.');
                    }
                    out.push_str(k);
                }
                Segment::Index(i) => out.push_str(&format!("[{i}]")),
            }
        }
        out
    }

    fn push(&self, s: Segment) {
        self.segments.borrow_mut().push(s);
    }
}

/// Deserializes `T` from `text` through the strict layer.
pub fn from_slice<'de, T: de::Deserialize<'de>>(
    text: &'de [u8],
    track: &Track,
) -> serde_json::Result<T> {
    let mut inner = serde_json::Deserializer::from_slice(text);
    let value = T::deserialize(De {
        inner: &mut inner,
        track,
    })?;
    inner.end()?;
    Ok(value)
}

struct De<'t, D> {
    inner: D,
    track: &'t Track,
}

/// Wraps a visitor: refuses sequences for structs, and wraps what the
/// visitor is handed so that nested values go through the layer too.
struct Wrap<'t, V> {
    visitor: V,
    track: &'t Track,
    is_struct: bool,
}

impl<'t, V> Wrap<'t, V> {
    fn new(visitor: V, track: &'t Track) -> Self {
        Wrap {
            visitor,
            track,
            is_struct: false,
        }
    }

    /// A string inside `capabilities` must be a name as the spec spells it.
    fn cap_name<E: de::Error>(&self, v: &str) -> Result<(), E> {
        if self.track.in_caps.get() && !crate::security::capabilities::is_canonical(v) {
            return Err(E::custom(format_args!(
                "{v:?} is not a capability name as the spec spells them (e.g. CAP_KILL)"
            )));
        }
        Ok(())
    }
}

/// A wrapper's whole `Deserializer`: every method forwarded to `self.inner`
/// with the visitor wrapped as WRAP says, `deserialize_struct` as STRUCT
/// says if given (the value side marks a struct's visitor). `self` and
/// `visitor` are the caller's tokens so that WRAP and STRUCT may name them.
macro_rules! forward_deserializer {
    (|$v:ident, $s:ident| $wrap:expr) => {
        forward_deserializer!(|$v, $s| $wrap, struct: $wrap);
    };
    (|$v:ident, $s:ident| $wrap:expr, struct: $swrap:expr) => {
        forward_deserializer! { @each (|$v, $s| $wrap)
            deserialize_any();
            deserialize_bool();
            deserialize_i8();
            deserialize_i16();
            deserialize_i32();
            deserialize_i64();
            deserialize_i128();
            deserialize_u8();
            deserialize_u16();
            deserialize_u32();
            deserialize_u64();
            deserialize_u128();
            deserialize_f32();
            deserialize_f64();
            deserialize_char();
            deserialize_str();
            deserialize_string();
            deserialize_bytes();
            deserialize_byte_buf();
            deserialize_option();
            deserialize_unit();
            deserialize_unit_struct(name: &'static str);
            deserialize_newtype_struct(name: &'static str);
            deserialize_seq();
            deserialize_tuple(len: usize);
            deserialize_tuple_struct(name: &'static str, len: usize);
            deserialize_map();
            deserialize_enum(name: &'static str, variants: &'static [&'static str]);
            deserialize_identifier();
            deserialize_ignored_any();
        }
        forward_deserializer! { @each (|$v, $s| $swrap)
            deserialize_struct(name: &'static str, fields: &'static [&'static str]);
        }
        fn is_human_readable(&self) -> bool {
            self.inner.is_human_readable()
        }
    };
    (@each (|$v:ident, $s:ident| $wrap:expr) $($method:ident($($arg:ident: $ty:ty),*);)*) => {$(
        fn $method<V: Visitor<'de>>($s, $($arg: $ty,)* $v: V) -> Result<V::Value, D::Error> {
            $s.inner.$method($($arg,)* $wrap)
        }
    )*};
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for De<'_, D> {
    type Error = D::Error;

    forward_deserializer!(
        |visitor, self| Wrap::new(visitor, self.track),
        struct: Wrap {
            is_struct: true,
            ..Wrap::new(visitor, self.track)
        }
    );
}

macro_rules! forward_visit {
    ($($method:ident($ty:ty);)*) => {$(
        fn $method<E: de::Error>(self, v: $ty) -> Result<V::Value, E> {
            self.visitor.$method(v)
        }
    )*};
}

impl<'de, V: Visitor<'de>> Visitor<'de> for Wrap<'_, V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        self.visitor.expecting(f)
    }

    forward_visit! {
        visit_bool(bool);
        visit_i8(i8);
        visit_i16(i16);
        visit_i32(i32);
        visit_i64(i64);
        visit_i128(i128);
        visit_u8(u8);
        visit_u16(u16);
        visit_u32(u32);
        visit_u64(u64);
        visit_u128(u128);
        visit_f32(f32);
        visit_f64(f64);
        visit_char(char);
        visit_bytes(&[u8]);
        visit_borrowed_bytes(&'de [u8]);
        visit_byte_buf(Vec<u8>);
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<V::Value, E> {
        self.cap_name(v)?;
        self.visitor.visit_str(v)
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<V::Value, E> {
        self.cap_name(v)?;
        self.visitor.visit_borrowed_str(v)
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<V::Value, E> {
        self.cap_name(&v)?;
        self.visitor.visit_string(v)
    }

    fn visit_none<E: de::Error>(self) -> Result<V::Value, E> {
        self.visitor.visit_none()
    }

    fn visit_unit<E: de::Error>(self) -> Result<V::Value, E> {
        self.visitor.visit_unit()
    }

    fn visit_some<D2: Deserializer<'de>>(self, d: D2) -> Result<V::Value, D2::Error> {
        self.visitor.visit_some(De {
            inner: d,
            track: self.track,
        })
    }

    fn visit_newtype_struct<D2: Deserializer<'de>>(self, d: D2) -> Result<V::Value, D2::Error> {
        self.visitor.visit_newtype_struct(De {
            inner: d,
            track: self.track,
        })
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<V::Value, A::Error> {
        if self.is_struct {
            return Err(A::Error::invalid_type(Unexpected::Seq, &"a JSON object"));
        }
        self.visitor.visit_seq(Seq {
            inner: seq,
            track: self.track,
            index: 0,
        })
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<V::Value, A::Error> {
        self.visitor.visit_map(Map {
            inner: map,
            track: self.track,
            key: None,
        })
    }

    fn visit_enum<A: de::EnumAccess<'de>>(self, data: A) -> Result<V::Value, A::Error> {
        self.visitor.visit_enum(data)
    }
}

/// A seed whose deserializer goes through the layer.
struct Seed<'t, S> {
    seed: S,
    track: &'t Track,
}

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for Seed<'_, S> {
    type Value = S::Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<S::Value, D::Error> {
        self.seed.deserialize(De {
            inner: d,
            track: self.track,
        })
    }
}

struct Seq<'t, A> {
    inner: A,
    track: &'t Track,
    index: usize,
}

impl<'de, A: SeqAccess<'de>> SeqAccess<'de> for Seq<'_, A> {
    type Error = A::Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, A::Error> {
        let seed = Seed {
            seed,
            track: self.track,
        };
        let r = self.inner.next_element_seed(seed);
        if r.is_err() {
            self.track.push(Segment::Index(self.index));
        }
        self.index += 1;
        r
    }

    fn size_hint(&self) -> Option<usize> {
        self.inner.size_hint()
    }
}

struct Map<'t, 'de, A> {
    inner: A,
    track: &'t Track,
    /// The key of the value about to be read, kept for an error's path
    /// (borrowed from the text unless it has escapes).
    key: Option<Cow<'de, str>>,
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for Map<'_, 'de, A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        self.inner.next_key_seed(KeySeed {
            seed,
            key: &mut self.key,
        })
    }

    fn next_value_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<T::Value, A::Error> {
        let seed = Seed {
            seed,
            track: self.track,
        };
        let caps = self.track.check_cap_names && self.key.as_deref() == Some("capabilities");
        let outer = self.track.in_caps.replace(caps || self.track.in_caps.get());
        let r = self.inner.next_value_seed(seed);
        self.track.in_caps.set(outer);
        if r.is_err() {
            let key = self.key.take().unwrap_or(Cow::Borrowed("?"));
            self.track.push(Segment::Key(key.into_owned()));
        }
        r
    }

    fn size_hint(&self) -> Option<usize> {
        self.inner.size_hint()
    }
}

/// Reads a map key through the key's own seed, keeping a copy of it.
struct KeySeed<'k, 'de, S> {
    seed: S,
    key: &'k mut Option<Cow<'de, str>>,
}

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for KeySeed<'_, 'de, S> {
    type Value = S::Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<S::Value, D::Error> {
        // JSON keys are strings: serde_json's key deserializer hands every
        // request to the visitor as a string (or a number parsed from one).
        self.seed.deserialize(KeyDe {
            inner: d,
            key: self.key,
        })
    }
}

struct KeyDe<'k, 'de, D> {
    inner: D,
    key: &'k mut Option<Cow<'de, str>>,
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for KeyDe<'_, 'de, D> {
    type Error = D::Error;

    forward_deserializer!(|visitor, self| Capture {
        visitor,
        key: self.key
    });
}

/// A key visitor that notes the key's text on the way through.
struct Capture<'k, 'de, V> {
    visitor: V,
    key: &'k mut Option<Cow<'de, str>>,
}

macro_rules! forward_capture {
    ($($method:ident($ty:ty);)*) => {$(
        fn $method<E: de::Error>(self, v: $ty) -> Result<V::Value, E> {
            *self.key = Some(Cow::Owned(v.to_string()));
            self.visitor.$method(v)
        }
    )*};
}

impl<'de, V: Visitor<'de>> Visitor<'de> for Capture<'_, 'de, V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        self.visitor.expecting(f)
    }

    forward_capture! {
        visit_bool(bool);
        visit_i64(i64);
        visit_u64(u64);
        visit_f64(f64);
        visit_str(&str);
        visit_string(String);
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<V::Value, E> {
        *self.key = Some(Cow::Borrowed(v));
        self.visitor.visit_borrowed_str(v)
    }

    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<V::Value, E> {
        *self.key = Some(Cow::Owned(String::from_utf8_lossy(v).into_owned()));
        self.visitor.visit_bytes(v)
    }

    fn visit_borrowed_bytes<E: de::Error>(self, v: &'de [u8]) -> Result<V::Value, E> {
        *self.key = Some(String::from_utf8_lossy(v));
        self.visitor.visit_borrowed_bytes(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::Linux;

    fn parse(json: &str) -> Result<Linux, String> {
        let track = Track::default();
        from_slice::<Linux>(json.as_bytes(), &track).map_err(|e| format!("{}: {e}", track.path()))
    }

    #[test]
    fn objects_parse_as_before() {
        let l = parse(r#"{"resources": {"devices": [{"allow": false, "access": "rwm"}], "memory": {"limit": 1048576}}, "namespaces": [{"type": "pid"}], "sysctl": {"net.ipv4.ip_forward": "1"}}"#).unwrap();
        let r = l.resources().as_ref().unwrap();
        assert_eq!(r.memory().as_ref().unwrap().limit(), Some(1048576));
        assert_eq!(r.devices().as_ref().unwrap().len(), 1);
    }

    #[test]
    fn arrays_for_objects_are_refused_with_their_path() {
        for (json, path) in [
            (r#"{"resources": []}"#, "resources: "),
            (
                r#"{"resources": {"devices": [[]]}}"#,
                "resources.devices[0]: ",
            ),
            (r#"{"resources": {"memory": [5]}}"#, "resources.memory: "),
        ] {
            let err = parse(json).unwrap_err();
            assert!(err.starts_with(path), "{json}: {err}");
            assert!(
                err.contains("invalid type: sequence, expected a JSON object"),
                "{err}"
            );
        }
    }

    #[test]
    fn type_errors_name_their_field() {
        let err = parse(r#"{"namespaces": [{"type": "pid"}, {"type": 5}]}"#).unwrap_err();
        assert!(err.starts_with("namespaces[1].type: "), "{err}");
        let err = parse(r#"{"sysctl": {"a\"b": 5}}"#).unwrap_err();
        assert!(err.starts_with("sysctl.a\"b: "), "{err}");
    }
}
