//! The D-Bus wire format, only as much as talking to systemd's manager
//! needs: little-endian messages, a method call out, a method return,
//! error or signal in. Pure: no I/O, unit-tested against hand-made bytes.
//!
//! Alignment is counted from the start of the message; the body starts on
//! an 8-byte boundary, so aligning within the body buffer alone is the same.

use anyhow::{Result, bail};

pub const METHOD_CALL: u8 = 1;
pub const METHOD_RETURN: u8 = 2;
pub const ERROR: u8 = 3;
pub const SIGNAL: u8 = 4;

/// The values a call to systemd carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Bool(bool),
    U64(u64),
    Str(String),
    U32s(Vec<u32>),
    Strs(Vec<String>),
    Bytes(Vec<u8>),
    /// `a(sv)`: a property list.
    Props(Vec<(&'static str, Value)>),
    /// `a(sa(sv))`: auxiliary units (always empty here).
    AuxUnits,
}

impl Value {
    pub fn signature(&self) -> &'static str {
        match self {
            Value::Bool(_) => "b",
            Value::U64(_) => "t",
            Value::Str(_) => "s",
            Value::U32s(_) => "au",
            Value::Strs(_) => "as",
            Value::Bytes(_) => "ay",
            Value::Props(_) => "a(sv)",
            Value::AuxUnits => "a(sa(sv))",
        }
    }
}

#[derive(Default)]
struct Enc {
    buf: Vec<u8>,
}

impl Enc {
    fn pad(&mut self, to: usize) {
        while !self.buf.len().is_multiple_of(to) {
            self.buf.push(0);
        }
    }
    fn u32(&mut self, v: u32) {
        self.pad(4);
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.pad(8);
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    /// `s` and `o`: u32 length, bytes, NUL.
    fn str(&mut self, s: &str) {
        self.u32(s.len() as u32);
        self.buf.extend_from_slice(s.as_bytes());
        self.buf.push(0);
    }
    /// `g`: u8 length, bytes, NUL.
    fn sig(&mut self, s: &str) {
        self.buf.push(s.len() as u8);
        self.buf.extend_from_slice(s.as_bytes());
        self.buf.push(0);
    }
    /// An array: length word, padding to the element alignment (not
    /// counted in the length), elements, then the length patched in.
    fn array(&mut self, elem_align: usize, f: impl FnOnce(&mut Enc)) {
        self.u32(0);
        let len_at = self.buf.len() - 4;
        self.pad(elem_align);
        let start = self.buf.len();
        f(self);
        let len = (self.buf.len() - start) as u32;
        self.buf[len_at..len_at + 4].copy_from_slice(&len.to_le_bytes());
    }
    fn value(&mut self, v: &Value) {
        match v {
            Value::Bool(b) => self.u32(u32::from(*b)),
            Value::U64(n) => self.u64(*n),
            Value::Str(s) => self.str(s),
            Value::U32s(v) => self.array(4, |e| v.iter().for_each(|n| e.u32(*n))),
            Value::Strs(v) => self.array(4, |e| v.iter().for_each(|s| e.str(s))),
            Value::Bytes(v) => self.array(1, |e| e.buf.extend_from_slice(v)),
            Value::Props(props) => self.array(8, |e| {
                for (name, v) in props {
                    e.pad(8);
                    e.str(name);
                    e.sig(v.signature());
                    e.value(v);
                }
            }),
            Value::AuxUnits => self.array(8, |_| {}),
        }
    }
}

/// A method call to `dest` with `args` as its body.
pub fn method_call(
    serial: u32,
    dest: &str,
    path: &str,
    iface: &str,
    member: &str,
    args: &[Value],
) -> Vec<u8> {
    let mut body = Enc::default();
    let mut sig = String::new();
    for a in args {
        body.value(a);
        sig.push_str(a.signature());
    }
    let mut h = Enc::default();
    h.buf.extend_from_slice(&[b'l', METHOD_CALL, 0, 1]);
    h.u32(body.buf.len() as u32);
    h.u32(serial);
    h.array(8, |e| {
        let mut field = |code: u8, ty: &str, v: &str| {
            e.pad(8);
            e.buf.push(code);
            e.sig(ty);
            if ty == "g" { e.sig(v) } else { e.str(v) }
        };
        field(1, "o", path);
        field(2, "s", iface);
        field(3, "s", member);
        field(6, "s", dest);
        if !sig.is_empty() {
            field(8, "g", &sig);
        }
    });
    h.pad(8);
    h.buf.extend_from_slice(&body.buf);
    h.buf
}

/// Bytes a complete message starting with `head` (at least 16 bytes)
/// occupies, or an error for what this client cannot read.
pub fn message_len(head: &[u8]) -> Result<usize> {
    if head[0] != b'l' {
        bail!(
            "d-bus: big-endian message (byte {:#x}); only little-endian is read",
            head[0]
        );
    }
    let body = u32::from_le_bytes(head[4..8].try_into().expect("4 bytes")) as usize;
    let fields = u32::from_le_bytes(head[12..16].try_into().expect("4 bytes")) as usize;
    let total = (16 + fields).next_multiple_of(8) + body;
    if total > 1 << 27 {
        bail!("d-bus: message of {total} bytes is beyond the protocol's limit");
    }
    Ok(total)
}

/// A received message: the header fields this client looks at and the
/// body's leading strings, object paths and u32s, in order.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Message {
    pub kind: u8,
    pub reply_serial: Option<u32>,
    pub interface: Option<String>,
    pub member: Option<String>,
    pub error_name: Option<String>,
    pub signature: String,
    pub body: Vec<Arg>,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Arg {
    U32(u32),
    Str(String),
}

impl Message {
    pub fn str_arg(&self, i: usize) -> Option<&str> {
        match self.body.get(i) {
            Some(Arg::Str(s)) => Some(s),
            _ => None,
        }
    }
}

struct Dec<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl Dec<'_> {
    fn align(&mut self, to: usize) -> Result<()> {
        self.pos = self.pos.next_multiple_of(to);
        if self.pos > self.buf.len() {
            bail!("d-bus: message truncated");
        }
        Ok(())
    }
    fn take(&mut self, n: usize) -> Result<&[u8]> {
        let Some(s) = self.buf.get(self.pos..self.pos + n) else {
            bail!("d-bus: message truncated at byte {}", self.pos);
        };
        self.pos += n;
        Ok(s)
    }
    fn u32(&mut self) -> Result<u32> {
        self.align(4)?;
        Ok(u32::from_le_bytes(
            self.take(4)?.try_into().expect("4 bytes"),
        ))
    }
    fn string(&mut self, len: usize) -> Result<String> {
        let s = self.take(len + 1)?;
        if s[len] != 0 {
            bail!("d-bus: string without its NUL");
        }
        String::from_utf8(s[..len].to_vec()).map_err(|_| anyhow::anyhow!("d-bus: string not UTF-8"))
    }
    fn str(&mut self) -> Result<String> {
        let n = self.u32()? as usize;
        self.string(n)
    }
    fn sig(&mut self) -> Result<String> {
        let n = self.take(1)?[0] as usize;
        self.string(n)
    }
    /// Skip one complete value of signature `sig` (from its start);
    /// returns the rest of the signature.
    fn skip<'s>(&mut self, sig: &'s str) -> Result<&'s str> {
        let Some(c) = sig.as_bytes().first() else {
            bail!("d-bus: empty signature");
        };
        let rest = &sig[1..];
        match c {
            b'y' => drop(self.take(1)?),
            b'n' | b'q' => {
                self.align(2)?;
                self.take(2)?;
            }
            b'b' | b'i' | b'u' | b'h' => drop(self.u32()?),
            b'x' | b't' | b'd' => {
                self.align(8)?;
                self.take(8)?;
            }
            b's' | b'o' => drop(self.str()?),
            b'g' => drop(self.sig()?),
            b'v' => {
                let inner = self.sig()?;
                let left = self.skip(&inner)?;
                if !left.is_empty() {
                    bail!("d-bus: variant signature {inner:?} is not one type");
                }
            }
            b'a' => {
                let n = self.u32()? as usize;
                let elem_end = single_type_len(rest)?;
                let elem = &rest[..elem_end];
                self.align(type_align(elem))?;
                let end = self.pos + n;
                if end > self.buf.len() {
                    bail!("d-bus: array runs past the message");
                }
                while self.pos < end {
                    self.skip(elem)?;
                }
                return Ok(&rest[elem_end..]);
            }
            b'(' | b'{' => {
                self.align(8)?;
                let end = single_type_len(sig)?;
                let mut inner = &sig[1..end - 1];
                while !inner.is_empty() {
                    inner = self.skip(inner)?;
                }
                return Ok(&sig[end..]);
            }
            other => bail!("d-bus: unknown type code {:?}", *other as char),
        }
        Ok(rest)
    }
}

fn type_align(sig: &str) -> usize {
    match sig.as_bytes().first() {
        Some(b'y' | b'g' | b'v') => 1,
        Some(b'n' | b'q') => 2,
        Some(b'x' | b't' | b'd' | b'(' | b'{') => 8,
        _ => 4,
    }
}

/// Length of the first complete type in `sig`.
fn single_type_len(sig: &str) -> Result<usize> {
    let b = sig.as_bytes();
    match b.first() {
        None => bail!("d-bus: signature ends inside a type"),
        Some(b'a') => Ok(1 + single_type_len(&sig[1..])?),
        Some(b'(' | b'{') => {
            let mut depth = 0;
            for (i, c) in b.iter().enumerate() {
                match c {
                    b'(' | b'{' => depth += 1,
                    b')' | b'}' => {
                        depth -= 1;
                        if depth == 0 {
                            return Ok(i + 1);
                        }
                    }
                    _ => {}
                }
            }
            bail!("d-bus: unbalanced signature {sig:?}")
        }
        Some(_) => Ok(1),
    }
}

/// Parse one complete message (`message_len` bytes).
pub fn parse(buf: &[u8]) -> Result<Message> {
    let total = message_len(buf)?;
    if buf.len() < total {
        bail!("d-bus: message truncated");
    }
    let mut m = Message {
        kind: buf[1],
        ..Default::default()
    };
    let mut d = Dec {
        buf: &buf[..total],
        pos: 12,
    };
    let fields_len = d.u32()? as usize;
    d.align(8)?;
    let fields_end = d.pos + fields_len;
    while d.pos < fields_end {
        d.align(8)?;
        let code = d.take(1)?[0];
        let ty = d.sig()?;
        match (code, ty.as_str()) {
            (2, "s") => m.interface = Some(d.str()?),
            (3, "s") => m.member = Some(d.str()?),
            (4, "s") => m.error_name = Some(d.str()?),
            (5, "u") => m.reply_serial = Some(d.u32()?),
            (8, "g") => m.signature = d.sig()?,
            _ => {
                d.skip(&ty)?;
            }
        }
    }
    d.align(8)?;
    // The body's leading basic values (a variant holding a string counts
    // as that string: Properties.Get's reply); parsing stops at the first
    // container type, which nothing here needs.
    let mut sig = m.signature.as_str();
    while let Some(c) = sig.as_bytes().first() {
        match c {
            b's' | b'o' => m.body.push(Arg::Str(d.str()?)),
            b'u' => m.body.push(Arg::U32(d.u32()?)),
            b'v' => match d.sig()?.as_str() {
                "s" | "o" => m.body.push(Arg::Str(d.str()?)),
                _ => break,
            },
            _ => break,
        }
        sig = &sig[1..];
    }
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A call whose bytes were laid out by hand from the specification:
    /// header fields each 8-aligned, body 8-aligned, lengths little-endian.
    #[test]
    fn method_call_bytes() {
        let m = method_call(7, "d", "/p", "i", "M", &[Value::Str("x".into())]);
        #[rustfmt::skip]
        let want: Vec<u8> = vec![
            b'l', 1, 0, 1,  6, 0, 0, 0,  7, 0, 0, 0,  71, 0, 0, 0,
            1, 1, b'o', 0,  2, 0, 0, 0,  b'/', b'p', 0, 0, 0, 0, 0, 0,
            2, 1, b's', 0,  1, 0, 0, 0,  b'i', 0, 0, 0, 0, 0, 0, 0,
            3, 1, b's', 0,  1, 0, 0, 0,  b'M', 0, 0, 0, 0, 0, 0, 0,
            6, 1, b's', 0,  1, 0, 0, 0,  b'd', 0, 0, 0, 0, 0, 0, 0,
            8, 1, b'g', 0,  1, b's', 0,  0,
            1, 0, 0, 0, b'x', 0,
        ];
        assert_eq!(m, want);
        assert_eq!(message_len(&m).unwrap(), m.len());
    }

    /// Property lists: array length excludes the padding before the first
    /// struct; each struct is 8-aligned; variants carry their signature.
    #[test]
    fn property_list_encoding() {
        let mut e = Enc::default();
        e.value(&Value::Props(vec![
            ("A", Value::Bool(true)),
            ("B", Value::U64(5)),
            ("C", Value::U32s(vec![9])),
        ]));
        #[rustfmt::skip]
        let want: Vec<u8> = vec![
            60, 0, 0, 0,  0, 0, 0, 0,
            1, 0, 0, 0, b'A', 0, 1, b'b', 0, 0, 0, 0,  1, 0, 0, 0,
            1, 0, 0, 0, b'B', 0, 1, b't', 0, 0, 0, 0,  0, 0, 0, 0,  5, 0, 0, 0, 0, 0, 0, 0,
            1, 0, 0, 0, b'C', 0, 2, b'a', b'u', 0, 0, 0,  4, 0, 0, 0,  9, 0, 0, 0,
        ];
        assert_eq!(e.buf, want);
        // An empty array of structs still pads to the struct alignment.
        let mut e = Enc::default();
        e.buf.push(1);
        e.value(&Value::AuxUnits);
        assert_eq!(e.buf, [1, 0, 0, 0, 0, 0, 0, 0]);
    }

    /// A JobRemoved signal as systemd sends it (uoss body), with header
    /// fields this client skips (path, sender) in between.
    #[test]
    fn parse_signal_and_reply() {
        let mut body = Enc::default();
        body.u32(42);
        body.str("/org/freedesktop/systemd1/job/42");
        body.str("outlet-c1.scope");
        body.str("done");
        let mut h = Enc::default();
        h.buf.extend_from_slice(&[b'l', SIGNAL, 1, 1]);
        h.u32(body.buf.len() as u32);
        h.u32(99);
        h.array(8, |e| {
            e.pad(8);
            e.buf.extend_from_slice(&[1, 1, b'o', 0]);
            e.str("/org/freedesktop/systemd1");
            e.pad(8);
            e.buf.extend_from_slice(&[3, 1, b's', 0]);
            e.str("JobRemoved");
            e.pad(8);
            e.buf.extend_from_slice(&[9, 1, b'u', 0]);
            e.u32(0);
            e.pad(8);
            e.buf.extend_from_slice(&[8, 1, b'g', 0]);
            e.sig("uoss");
        });
        h.pad(8);
        h.buf.extend_from_slice(&body.buf);
        let m = parse(&h.buf).unwrap();
        assert_eq!(m.kind, SIGNAL);
        assert_eq!(m.member.as_deref(), Some("JobRemoved"));
        assert_eq!(m.body[0], Arg::U32(42));
        assert_eq!(m.str_arg(1), Some("/org/freedesktop/systemd1/job/42"));
        assert_eq!(m.str_arg(3), Some("done"));
        assert!(parse(&h.buf[..h.buf.len() - 1]).is_err());
        let mut be = h.buf.clone();
        be[0] = b'B';
        assert!(parse(&be).is_err());
    }

    #[test]
    fn skip_containers() {
        let mut e = Enc::default();
        e.value(&Value::Props(vec![("P", Value::Str("v".into()))]));
        e.u32(3);
        let mut d = Dec {
            buf: &e.buf,
            pos: 0,
        };
        assert_eq!(d.skip("a(sv)u").unwrap(), "u");
        assert_eq!(d.u32().unwrap(), 3);
        assert_eq!(d.pos, e.buf.len());
    }

    /// `as` (the Wants= list): length, each string 4-aligned.
    #[test]
    fn string_array_encoding() {
        let mut e = Enc::default();
        e.value(&Value::Strs(vec!["ab".into(), "c".into()]));
        #[rustfmt::skip]
        let want: Vec<u8> = vec![
            14, 0, 0, 0,  2, 0, 0, 0, b'a', b'b', 0, 0,  1, 0, 0, 0, b'c', 0,
        ];
        assert_eq!(e.buf, want);
    }

    /// Properties.Get's reply: one variant; a string in it is read as the
    /// string, anything else ends the parse without an error.
    #[test]
    fn parse_variant_reply() {
        let reply = |sig: &str, f: &dyn Fn(&mut Enc)| {
            let mut body = Enc::default();
            body.sig(sig);
            f(&mut body);
            let mut h = Enc::default();
            h.buf.extend_from_slice(&[b'l', METHOD_RETURN, 0, 1]);
            h.u32(body.buf.len() as u32);
            h.u32(5);
            h.array(8, |e| {
                e.pad(8);
                e.buf.extend_from_slice(&[5, 1, b'u', 0]);
                e.u32(3);
                e.pad(8);
                e.buf.extend_from_slice(&[8, 1, b'g', 0]);
                e.sig("v");
            });
            h.pad(8);
            h.buf.extend_from_slice(&body.buf);
            parse(&h.buf).unwrap()
        };
        let m = reply("s", &|e| {
            e.str("/user.slice/user-1000.slice/user@1000.service")
        });
        assert_eq!(m.reply_serial, Some(3));
        assert_eq!(
            m.str_arg(0),
            Some("/user.slice/user-1000.slice/user@1000.service")
        );
        let m = reply("t", &|e| e.u64(7));
        assert!(m.body.is_empty());
    }
}
