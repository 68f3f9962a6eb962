//! A tiny MaxMind DB writer (IPv4 tree, 24-bit records), so GeoIP tests build
//! their own databases instead of downloading any.

use std::net::Ipv4Addr;

/// A value in the MaxMind data format.
pub enum Value {
    Str(String),
    U32(u32),
    U16(u16),
    U64(u64),
    Map(Vec<(String, Value)>),
    Array(Vec<Value>),
}

fn control(kind: u8, size: usize, out: &mut Vec<u8>) {
    assert!(size < 29, "tiny writer: short values only");
    if kind <= 7 {
        out.push((kind << 5) | size as u8);
    } else {
        out.push(size as u8);
        out.push(kind - 7);
    }
}

fn uint(kind: u8, v: u64, out: &mut Vec<u8>) {
    let bytes = v.to_be_bytes();
    let skip = bytes.iter().take_while(|b| **b == 0).count();
    control(kind, 8 - skip, out);
    out.extend_from_slice(&bytes[skip..]);
}

impl Value {
    fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Value::Str(s) => {
                control(2, s.len(), out);
                out.extend_from_slice(s.as_bytes());
            }
            Value::U16(v) => uint(5, u64::from(*v), out),
            Value::U32(v) => uint(6, u64::from(*v), out),
            Value::U64(v) => uint(9, *v, out),
            Value::Map(entries) => {
                control(7, entries.len(), out);
                for (k, v) in entries {
                    Value::Str(k.clone()).encode(out);
                    v.encode(out);
                }
            }
            Value::Array(items) => {
                control(11, items.len(), out);
                for v in items {
                    v.encode(out);
                }
            }
        }
    }
}

#[derive(Clone, Copy)]
enum Rec {
    Empty,
    Node(u32),
    Data(u32),
}

/// Writes a database mapping each IPv4 network to a record.
pub fn write(database_type: &str, networks: &[(Ipv4Addr, u8, Value)]) -> Vec<u8> {
    let mut nodes: Vec<[Rec; 2]> = vec![[Rec::Empty, Rec::Empty]];
    let mut data = Vec::new();
    for (addr, prefix, value) in networks {
        let offset = data.len() as u32;
        value.encode(&mut data);
        let bits = u32::from(*addr);
        let mut node = 0usize;
        for i in 0..*prefix {
            let bit = ((bits >> (31 - i)) & 1) as usize;
            if i + 1 == *prefix {
                nodes[node][bit] = Rec::Data(offset);
            } else {
                node = match nodes[node][bit] {
                    Rec::Node(n) => n as usize,
                    _ => {
                        nodes.push([Rec::Empty, Rec::Empty]);
                        let n = nodes.len() - 1;
                        nodes[node][bit] = Rec::Node(n as u32);
                        n
                    }
                };
            }
        }
    }
    let count = nodes.len() as u32;
    let mut out = Vec::new();
    for pair in &nodes {
        for rec in pair {
            let v = match rec {
                Rec::Empty => count,
                Rec::Node(n) => *n,
                Rec::Data(off) => count + 16 + off,
            };
            out.extend_from_slice(&v.to_be_bytes()[1..]);
        }
    }
    out.extend_from_slice(&[0u8; 16]);
    out.extend_from_slice(&data);
    out.extend_from_slice(b"\xAB\xCD\xEFMaxMind.com");
    Value::Map(vec![
        ("binary_format_major_version".into(), Value::U16(2)),
        ("binary_format_minor_version".into(), Value::U16(0)),
        ("build_epoch".into(), Value::U64(1_700_000_000)),
        ("database_type".into(), Value::Str(database_type.into())),
        (
            "description".into(),
            Value::Map(vec![("en".into(), Value::Str("test".into()))]),
        ),
        ("ip_version".into(), Value::U16(4)),
        (
            "languages".into(),
            Value::Array(vec![Value::Str("en".into())]),
        ),
        ("node_count".into(), Value::U32(count)),
        ("record_size".into(), Value::U16(24)),
    ])
    .encode(&mut out);
    out
}

/// A country record.
pub fn country(iso: &str) -> Value {
    Value::Map(vec![(
        "country".into(),
        Value::Map(vec![("iso_code".into(), Value::Str(iso.into()))]),
    )])
}

/// An ASN record.
pub fn asn(number: u32) -> Value {
    Value::Map(vec![(
        "autonomous_system_number".into(),
        Value::U32(number),
    )])
}
