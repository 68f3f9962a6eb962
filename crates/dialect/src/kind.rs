//! Which executor API a request speaks (`piston`, `judge0`, `generic`) and
//! the list of them a gateway serves side by side: a leaf that the request
//! model and the config both name, so neither imports the other.

use serde::de::{self, Deserializer, IntoDeserializer, SeqAccess, Visitor};
use serde::ser::Serializer;
use serde::{Deserialize, Serialize};
use std::fmt;

/// The executor API behind the gateway.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DialectKind {
    /// Piston v2 (`POST /api/v2/execute`); also what the bundled runner speaks.
    #[default]
    Piston,
    /// Judge0 CE (`POST /submissions`, `/submissions/batch`).
    Judge0,
    /// Any JSON executor, described by [`GenericConfig`].
    Generic,
}

impl DialectKind {
    /// The name config files use.
    pub fn name(self) -> &'static str {
        match self {
            DialectKind::Piston => "piston",
            DialectKind::Judge0 => "judge0",
            DialectKind::Generic => "generic",
        }
    }
}

impl fmt::Display for DialectKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The executor APIs served side by side: at least one, none twice, in the
/// order given (`kind = "piston"` or `kind = ["piston", "judge0"]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DialectKinds(Vec<DialectKind>);

impl DialectKinds {
    /// Checks a list of kinds: not empty, no kind twice.
    pub fn new(kinds: Vec<DialectKind>) -> Result<Self, String> {
        if kinds.is_empty() {
            return Err("list at least one executor API (piston, judge0 or generic)".into());
        }
        if let Some(kind) = kinds
            .iter()
            .enumerate()
            .find_map(|(i, kind)| kinds[..i].contains(kind).then_some(kind))
        {
            return Err(format!("{kind} is listed twice"));
        }
        Ok(Self(kinds))
    }

    /// The kinds, in configured order.
    pub fn as_slice(&self) -> &[DialectKind] {
        &self.0
    }

    /// Whether `kind` is served.
    pub fn contains(&self, kind: DialectKind) -> bool {
        self.0.contains(&kind)
    }
}

impl Default for DialectKinds {
    fn default() -> Self {
        DialectKind::default().into()
    }
}

impl From<DialectKind> for DialectKinds {
    fn from(kind: DialectKind) -> Self {
        Self(vec![kind])
    }
}

/// One kind is written back as a string, as operators usually write it.
impl Serialize for DialectKinds {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0.as_slice() {
            [one] => one.serialize(serializer),
            many => many.serialize(serializer),
        }
    }
}

impl<'de> Deserialize<'de> for DialectKinds {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(KindsVisitor)
    }
}

/// Reads a kind name or a list of them.
struct KindsVisitor;

impl<'de> Visitor<'de> for KindsVisitor {
    type Value = DialectKinds;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an executor API (\"piston\", \"judge0\", \"generic\") or a list of them")
    }

    fn visit_str<E: de::Error>(self, name: &str) -> Result<DialectKinds, E> {
        DialectKind::deserialize(name.into_deserializer()).map(DialectKinds::from)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<DialectKinds, A::Error> {
        let mut kinds = Vec::new();
        while let Some(kind) = seq.next_element::<DialectKind>()? {
            kinds.push(kind);
        }
        DialectKinds::new(kinds).map_err(de::Error::custom)
    }
}
