//! Requested time and memory limits: read in each dialect's units, refused
//! when negative or absurd, and clamped to the tier's maximum by rewriting
//! the JSON in the executor's own units (Piston ms/bytes, Judge0 s/KB).

use crate::model::{RequestError, RequestedLimits, TierLimits};
use crate::read::{join, mistyped};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Number, Value};
use std::time::Duration;

/// Longest time limit accepted at all (one day); longer requests are refused, not clamped.
pub const MAX_TIME_SECS: f64 = 86_400.0;
/// Largest memory limit accepted at all (1 TiB); larger requests are refused, not clamped.
pub const MAX_MEMORY_BYTES: f64 = (1u64 << 40) as f64;

/// Which limit a request field sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LimitRole {
    /// Wall-clock run time.
    RunTime,
    /// CPU time of the run.
    CpuTime,
    /// Memory of the run.
    Memory,
    /// Wall-clock compile time.
    CompileTime,
    /// CPU time of the compile stage.
    CompileCpuTime,
    /// Memory of the compile stage.
    CompileMemory,
    /// Extra time granted past a time limit before the kill (Judge0 `cpu_extra_time`).
    ExtraTime,
    /// Stack size (Judge0 `stack_limit`).
    Stack,
}

impl LimitRole {
    /// Whether the role is a time (else a memory size).
    pub fn is_time(self) -> bool {
        !matches!(
            self,
            LimitRole::Memory | LimitRole::CompileMemory | LimitRole::Stack
        )
    }
}

/// The unit a limit field is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LimitUnit {
    /// Microseconds.
    Us,
    /// Milliseconds.
    Ms,
    /// Seconds (may be fractional).
    S,
    /// Bytes.
    Bytes,
    /// Kibibytes (1024 bytes).
    Kb,
    /// Mebibytes (1024² bytes).
    Mb,
}

impl LimitUnit {
    /// Whether the unit measures time (else size).
    pub fn is_time(self) -> bool {
        matches!(self, LimitUnit::Us | LimitUnit::Ms | LimitUnit::S)
    }

    /// `value` in this unit, as seconds or bytes (dividing, so `5000 ms` is exactly `5 s`).
    fn to_base(self, value: f64) -> f64 {
        match self {
            LimitUnit::Us => value / 1e6,
            LimitUnit::Ms => value / 1e3,
            LimitUnit::S | LimitUnit::Bytes => value,
            LimitUnit::Kb => value * 1024.0,
            LimitUnit::Mb => value * 1024.0 * 1024.0,
        }
    }

    /// Seconds or bytes expressed in this unit.
    fn in_unit(self, value: f64) -> f64 {
        match self {
            LimitUnit::Us => value * 1e6,
            LimitUnit::Ms => value * 1e3,
            LimitUnit::S | LimitUnit::Bytes => value,
            LimitUnit::Kb => value / 1024.0,
            LimitUnit::Mb => value / (1024.0 * 1024.0),
        }
    }

    fn symbol(self) -> &'static str {
        match self {
            LimitUnit::Us => "µs",
            LimitUnit::Ms => "ms",
            LimitUnit::S => "s",
            LimitUnit::Bytes => "bytes",
            LimitUnit::Kb => "KB",
            LimitUnit::Mb => "MB",
        }
    }
}

/// A limit field: where it lives in a submission object, what it limits, in which unit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitField {
    /// JSON pointer inside the submission object, e.g. `/limits/time_ms`.
    pub pointer: String,
    /// What the field limits; time roles are clamped to the tier's run time, memory roles to its memory.
    pub role: LimitRole,
    /// The unit the executor reads the field in.
    pub unit: LimitUnit,
    /// Set the field to the tier maximum when the request leaves it out (default true).
    #[serde(default = "yes")]
    pub insert: bool,
}

fn yes() -> bool {
    true
}

impl LimitField {
    /// A field that is inserted when absent.
    pub(crate) fn new(pointer: &str, role: LimitRole, unit: LimitUnit) -> Self {
        Self {
            pointer: pointer.to_string(),
            role,
            unit,
            insert: true,
        }
    }

    /// Fields from `(pointer, role, unit)` rows, all inserted when absent.
    pub(crate) fn table(rows: &[(&str, LimitRole, LimitUnit)]) -> Vec<Self> {
        rows.iter()
            .map(|&(pointer, role, unit)| Self::new(pointer, role, unit))
            .collect()
    }

    /// Checks that role and unit agree and the pointer is usable.
    pub(crate) fn validate(&self) -> Result<(), String> {
        if self.role.is_time() != self.unit.is_time() {
            return Err(format!(
                "limit {}: unit {:?} does not fit role {:?}",
                self.pointer, self.unit, self.role
            ));
        }
        if !self.pointer.starts_with('/') {
            return Err(format!(
                "limit pointer {:?} must be a JSON pointer starting with /",
                self.pointer
            ));
        }
        Ok(())
    }

    /// The field's name in errors, below submission path `at`.
    fn name(&self, at: &str) -> String {
        join(at, &self.pointer[1..].replace('/', "."))
    }

    /// The requested value in the field's unit, validated; `None` when absent.
    fn requested(&self, submission: &Value, at: &str) -> Result<Option<f64>, RequestError> {
        let value = match get_pointer(submission, &self.pointer) {
            None | Some(Value::Null) => return self.check_path(submission, at).map(|()| None),
            Some(Value::Number(n)) => n.as_f64().unwrap_or(f64::INFINITY),
            Some(other) => return Err(mistyped(self.name(at), "a number", other)),
        };
        let ceiling = self.unit.in_unit(if self.unit.is_time() {
            MAX_TIME_SECS
        } else {
            MAX_MEMORY_BYTES
        });
        if value < 0.0 {
            return Err(RequestError::new(self.name(at), "must not be negative"));
        }
        // Executors read a zero limit as "none" (isolate, Judge0) or as a run
        // that cannot start: neither is a limit the tier can vouch for.
        if value == 0.0 && self.role != LimitRole::ExtraTime {
            return Err(RequestError::new(
                self.name(at),
                "must be greater than 0 (leave it out for the tier's maximum)",
            ));
        }
        // JSON has no NaN; refusing it anyway keeps the Duration conversion total
        if value > ceiling || value.is_nan() {
            return Err(RequestError::new(
                self.name(at),
                format!("is out of range: at most {ceiling} {}", self.unit.symbol()),
            ));
        }
        Ok(Some(value))
    }

    /// An absent limit must be insertable: nothing on its path may be a scalar.
    fn check_path(&self, submission: &Value, at: &str) -> Result<(), RequestError> {
        let tokens = pointer_tokens(&self.pointer);
        let mut node = submission;
        for (depth, token) in tokens.iter().enumerate() {
            let parent = || join(at, &tokens[..depth].join("."));
            node = match node {
                // absent or null members are created by `clamp`
                Value::Object(map) => match map.get(token) {
                    Some(value) if !value.is_null() => value,
                    _ => return Ok(()),
                },
                Value::Array(items) => match token.parse::<usize>().ok().and_then(|i| items.get(i))
                {
                    Some(value) => value,
                    None => {
                        return Err(RequestError::new(
                            parent(),
                            format!("has no element {token:?}"),
                        ));
                    }
                },
                other => return Err(mistyped(parent(), "an object", other)),
            };
        }
        Ok(())
    }

    /// The tier's maximum in the field's unit, rounded down so it never exceeds the tier.
    fn tier_value(&self, tier: &TierLimits) -> Number {
        if self.role.is_time() {
            match self.unit {
                LimitUnit::S => Number::from_f64(tier.run_time.as_secs_f64()).unwrap_or(0.into()),
                LimitUnit::Us => clamp_u64(tier.run_time.as_micros()).into(),
                _ => clamp_u64(tier.run_time.as_millis()).into(),
            }
        } else {
            let per_unit = self.unit.to_base(1.0) as u64;
            (tier.memory_bytes / per_unit.max(1)).into()
        }
    }
}

fn clamp_u64(v: u128) -> u64 {
    u64::try_from(v).unwrap_or(u64::MAX)
}

/// Reads every limit of one submission into [`RequestedLimits`], refusing bad values.
pub(crate) fn read_limits(
    fields: &[LimitField],
    submission: &Value,
    at: &str,
) -> Result<RequestedLimits, RequestError> {
    let mut limits = RequestedLimits::default();
    for field in fields {
        let Some(value) = field.requested(submission, at)? else {
            continue;
        };
        let amount = field.unit.to_base(value);
        let time = Some(Duration::from_secs_f64(amount));
        let bytes = Some(amount.ceil() as u64);
        match field.role {
            LimitRole::RunTime => limits.run_time = time,
            LimitRole::CpuTime => limits.cpu_time = time,
            LimitRole::CompileTime => limits.compile_time = time,
            LimitRole::CompileCpuTime | LimitRole::ExtraTime | LimitRole::Stack => {}
            LimitRole::Memory => limits.memory_bytes = bytes,
            LimitRole::CompileMemory => limits.compile_memory_bytes = bytes,
        }
    }
    Ok(limits)
}

/// Lowers every limit above the tier's maximum and inserts absent ones, in place.
pub(crate) fn clamp_limits(
    fields: &[LimitField],
    submission: &mut Value,
    at: &str,
    tier: &TierLimits,
) -> Result<(), RequestError> {
    for field in fields {
        let max = field.tier_value(tier);
        let too_high = match field.requested(submission, at)? {
            Some(value) => value > max.as_f64().unwrap_or(0.0),
            None => field.insert,
        };
        if too_high {
            set_pointer(submission, &field.pointer, Value::Number(max))
                .map_err(|reason| RequestError::new(field.name(at), reason))?;
        }
    }
    Ok(())
}

/// The unescaped reference tokens of a JSON pointer.
fn pointer_tokens(pointer: &str) -> Vec<String> {
    pointer.split('/').skip(1).map(unescape).collect()
}

/// A reference token with `~1` read as `/` and `~0` as `~`. Tokens almost
/// never hold a `~`: those are copied whole, without `str::replace`'s
/// substring search (a few hundred instructions per call, on every limit
/// field of every execution).
fn unescape(token: &str) -> String {
    if token.contains('~') {
        token.replace("~1", "/").replace("~0", "~")
    } else {
        token.to_string()
    }
}

/// The value at `pointer` (RFC 6901) in `root`, as `Value::pointer` finds it,
/// without its per-token `str::replace`.
fn get_pointer<'v>(root: &'v Value, pointer: &str) -> Option<&'v Value> {
    if pointer.is_empty() {
        return Some(root);
    }
    let rest = pointer.strip_prefix('/')?;
    rest.split('/').try_fold(root, |node, token| {
        let token = unescape(token);
        match node {
            Value::Object(map) => map.get(&token),
            Value::Array(items) => array_index(&token).and_then(|i| items.get(i)),
            _ => None,
        }
    })
}

/// An array index as `Value::pointer` reads one: digits, no sign, no leading zero.
fn array_index(token: &str) -> Option<usize> {
    if token.starts_with('+') || (token.starts_with('0') && token.len() != 1) {
        return None;
    }
    token.parse().ok()
}

/// Writes `value` at `pointer`, creating objects for missing members.
pub(crate) fn set_pointer(root: &mut Value, pointer: &str, value: Value) -> Result<(), String> {
    let tokens = pointer_tokens(pointer);
    let Some((last, parents)) = tokens.split_last() else {
        return Err("cannot replace the whole document".into());
    };
    let mut node = root;
    for token in parents {
        node = child(node, token)?;
    }
    match node {
        Value::Object(map) => {
            map.insert(last.clone(), value);
            Ok(())
        }
        Value::Array(items) => match last.parse::<usize>().ok().and_then(|i| items.get_mut(i)) {
            Some(slot) => {
                *slot = value;
                Ok(())
            }
            None => Err(format!("array index {last:?} is out of range")),
        },
        other => Err(format!(
            "cannot set a limit inside {}",
            crate::read::type_name(other)
        )),
    }
}

/// The member `token` of `node`, created as an empty object when absent.
fn child<'v>(node: &'v mut Value, token: &str) -> Result<&'v mut Value, String> {
    match node {
        Value::Object(map) => Ok(map
            .entry(token.to_string())
            .and_modify(|v| {
                if v.is_null() {
                    *v = Value::Object(Map::new());
                }
            })
            .or_insert_with(|| Value::Object(Map::new()))),
        Value::Array(items) => token
            .parse::<usize>()
            .ok()
            .and_then(|i| items.get_mut(i))
            .ok_or_else(|| format!("array index {token:?} is out of range")),
        other => Err(format!(
            "cannot set a limit inside {}",
            crate::read::type_name(other)
        )),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn get_pointer_finds_what_value_pointer_finds() {
        let doc = serde_json::json!({
            "a": {"b/c": 1, "m~n": [10, 20], "": 3},
            "list": [{"x": 1}, {"x": 2}],
            "0": "zero",
        });
        for pointer in [
            "",
            "/",
            "/a",
            "/a/b~1c",
            "/a/m~0n",
            "/a/m~0n/1",
            "/a/m~0n/01",
            "/a/m~0n/+1",
            "/a/m~0n/2",
            "/a/",
            "/list/1/x",
            "/list/-",
            "/0",
            "/a/b/c",
            "a",
            "/missing/x",
            "/a/m~1n",
            "/a/b~01c",
        ] {
            assert_eq!(
                get_pointer(&doc, pointer),
                doc.pointer(pointer),
                "pointer {pointer:?}"
            );
        }
    }

    use super::*;
    use serde_json::json;

    fn tier() -> TierLimits {
        TierLimits {
            run_time: Duration::from_secs(5),
            memory_bytes: 128 << 20,
        }
    }

    fn piston_like() -> Vec<LimitField> {
        vec![
            LimitField::new("/run_timeout", LimitRole::RunTime, LimitUnit::Ms),
            LimitField::new("/mem", LimitRole::Memory, LimitUnit::Kb),
            LimitField::new("/wall", LimitRole::CpuTime, LimitUnit::S),
        ]
    }

    #[test]
    fn tier_values_convert_exactly_and_round_down() {
        let t = TierLimits {
            run_time: Duration::from_millis(2500),
            memory_bytes: 1025,
        };
        let f = |unit, role| LimitField::new("/x", role, unit).tier_value(&t);
        assert_eq!(f(LimitUnit::Ms, LimitRole::RunTime), Number::from(2500u64));
        assert_eq!(
            f(LimitUnit::Us, LimitRole::RunTime),
            Number::from(2_500_000u64)
        );
        assert_eq!(f(LimitUnit::S, LimitRole::RunTime).as_f64(), Some(2.5));
        assert_eq!(
            f(LimitUnit::Bytes, LimitRole::Memory),
            Number::from(1025u64)
        );
        assert_eq!(f(LimitUnit::Kb, LimitRole::Memory), Number::from(1u64));
        assert_eq!(f(LimitUnit::Mb, LimitRole::Memory), Number::from(0u64));
    }

    #[test]
    fn limits_above_the_tier_are_lowered_and_absent_ones_inserted() {
        let mut doc = json!({"run_timeout": 60000, "other": [1]});
        clamp_limits(&piston_like(), &mut doc, "", &tier()).unwrap();
        assert_eq!(
            doc,
            json!({"run_timeout": 5000, "mem": 131072, "wall": 5.0, "other": [1]})
        );
    }

    #[test]
    fn limits_below_the_tier_are_kept_verbatim() {
        let mut doc = json!({"run_timeout": 1000.5, "mem": 1024, "wall": 0.25});
        let before = doc.clone();
        clamp_limits(&piston_like(), &mut doc, "", &tier()).unwrap();
        assert_eq!(doc, before);
        // exactly at the maximum is not above it
        let mut doc = json!({"run_timeout": 5000, "mem": 131072, "wall": 5});
        clamp_limits(&piston_like(), &mut doc, "", &tier()).unwrap();
        assert_eq!(doc["wall"], json!(5));
    }

    #[test]
    fn a_hair_above_the_tier_is_clamped() {
        let mut doc = json!({"run_timeout": 5000.001, "mem": 131072.5, "wall": 5.0000001});
        clamp_limits(&piston_like(), &mut doc, "", &tier()).unwrap();
        assert_eq!(
            doc,
            json!({"run_timeout": 5000, "mem": 131072, "wall": 5.0})
        );
    }

    #[test]
    fn fields_not_inserted_stay_absent() {
        let mut field = LimitField::new("/stack", LimitRole::Memory, LimitUnit::Kb);
        field.insert = false;
        let mut doc = json!({});
        clamp_limits(&[field], &mut doc, "", &tier()).unwrap();
        assert_eq!(doc, json!({}));
    }

    #[test]
    fn requested_limits_are_reported_in_seconds_and_bytes() {
        let doc = json!({"run_timeout": 1500, "mem": 2, "wall": 0.5});
        let l = read_limits(&piston_like(), &doc, "").unwrap();
        assert_eq!(l.run_time, Some(Duration::from_millis(1500)));
        assert_eq!(l.memory_bytes, Some(2048));
        assert_eq!(l.cpu_time, Some(Duration::from_millis(500)));
        assert_eq!(l.compile_time, None);
    }

    #[test]
    fn negative_absurd_and_mistyped_limits_name_the_field() {
        let fields = piston_like();
        let err = read_limits(&fields, &json!({"run_timeout": -1}), "s[1]").unwrap_err();
        assert_eq!(
            err,
            RequestError::new("s[1].run_timeout", "must not be negative")
        );
        let err = read_limits(&fields, &json!({"mem": 1e300}), "").unwrap_err();
        assert_eq!(err.field, "mem");
        assert!(err.message.contains("out of range"), "{err}");
        let err = read_limits(&fields, &json!({"wall": "5"}), "").unwrap_err();
        assert_eq!(err.message, "must be a number, not a string");
        let err = read_limits(&fields, &json!({"wall": 86401}), "").unwrap_err();
        assert!(err.message.contains("at most 86400 s"), "{err}");
    }

    #[test]
    fn zero_limits_are_refused_except_extra_time() {
        let err = read_limits(&piston_like(), &json!({"run_timeout": 0}), "").unwrap_err();
        assert_eq!(err.field, "run_timeout");
        assert!(err.message.contains("greater than 0"), "{err}");
        assert!(read_limits(&piston_like(), &json!({"mem": 0.0}), "").is_err());
        let extra = LimitField::new("/cpu_extra_time", LimitRole::ExtraTime, LimitUnit::S);
        assert!(read_limits(&[extra], &json!({"cpu_extra_time": 0}), "").is_ok());
    }

    #[test]
    fn nested_pointers_are_created_or_refused() {
        let field = LimitField::new("/limits/time", LimitRole::RunTime, LimitUnit::Ms);
        let mut doc = json!({"limits": null});
        clamp_limits(std::slice::from_ref(&field), &mut doc, "", &tier()).unwrap();
        assert_eq!(doc, json!({"limits": {"time": 5000}}));
        let mut doc = json!({"limits": "fast"});
        let err = clamp_limits(std::slice::from_ref(&field), &mut doc, "", &tier()).unwrap_err();
        assert_eq!(
            err,
            RequestError::new("limits", "must be an object, not a string")
        );
        let err =
            read_limits(std::slice::from_ref(&field), &json!({"limits": [1]}), "s").unwrap_err();
        assert_eq!(err.field, "s.limits");
        let indexed = LimitField::new("/stages/1/ms", LimitRole::RunTime, LimitUnit::Ms);
        let err =
            read_limits(std::slice::from_ref(&indexed), &json!({"stages": [{}]}), "").unwrap_err();
        assert_eq!(err, RequestError::new("stages", "has no element \"1\""));
        let mut doc = json!({"stages": [{}, {}]});
        clamp_limits(&[indexed], &mut doc, "", &tier()).unwrap();
        assert_eq!(doc, json!({"stages": [{}, {"ms": 5000}]}));
    }

    #[test]
    fn role_and_unit_must_agree() {
        assert!(
            LimitField::new("/m", LimitRole::Memory, LimitUnit::Ms)
                .validate()
                .is_err()
        );
        assert!(
            LimitField::new("m", LimitRole::Memory, LimitUnit::Kb)
                .validate()
                .is_err()
        );
        assert!(
            LimitField::new("/m", LimitRole::Memory, LimitUnit::Kb)
                .validate()
                .is_ok()
        );
    }
}
