//! What one execution used, read from the executor's answer — never from the
//! request, which says only what the client asked for. Piston reports
//! `cpu_time`/`wall_time` in milliseconds and `memory` in bytes per stage;
//! Judge0 `time`/`wall_time` in seconds (often as strings) and `memory` in
//! KiB; a generic executor where the operator's JSON pointers say. A verdict
//! without CPU time is charged its wall time, marked estimated.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::time::Duration;

/// Resources one execution used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct RunCost {
    /// CPU time of every process of the run (compile included).
    pub cpu: Duration,
    /// Wall-clock time of the run.
    pub wall: Duration,
    /// Peak memory.
    pub memory_bytes: u64,
    /// The executor did not report CPU time: `cpu` is the wall time.
    pub estimated: bool,
}

/// A time field's unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum TimeUnit {
    /// Seconds (fractions allowed).
    #[default]
    Seconds,
    /// Milliseconds.
    Milliseconds,
}

/// A memory field's unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum MemoryUnit {
    /// Bytes.
    #[default]
    Bytes,
    /// KiB.
    Kilobytes,
}

/// Where a generic executor's answer keeps the run's figures (JSON pointers).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct GenericCostFields {
    /// CPU time, e.g. `/result/cpu_time`.
    pub cpu_time: Option<String>,
    /// Unit of `cpu_time` and `wall_time`.
    pub time_unit: TimeUnit,
    /// Wall time.
    pub wall_time: Option<String>,
    /// Peak memory.
    pub memory: Option<String>,
    /// Unit of `memory`.
    pub memory_unit: MemoryUnit,
}

/// How to read costs from an executor's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CostFormat {
    /// Piston v2: `run` and `compile` stages.
    Piston,
    /// Judge0: one submission, a batch array or `{"submissions": [...]}`.
    Judge0,
    /// A generic executor with the operator's pointers.
    Generic(GenericCostFields),
}

/// Each execution's cost in the answer `doc` (empty when it reports no run).
pub fn read_costs(format: &CostFormat, doc: &Value) -> Vec<RunCost> {
    match format {
        CostFormat::Piston => piston(doc).into_iter().collect(),
        CostFormat::Judge0 => judge0(doc),
        CostFormat::Generic(fields) => generic(fields, doc).into_iter().collect(),
    }
}

/// Figures of one record before estimation.
#[derive(Default)]
struct Figures {
    cpu: Option<Duration>,
    wall: Option<Duration>,
    memory_bytes: Option<u64>,
    /// A stage reported figures but no CPU time.
    cpu_missing: bool,
}

impl Figures {
    fn add(&mut self, other: Figures) {
        let sum = |a: Option<Duration>, b: Option<Duration>| match (a, b) {
            (None, None) => None,
            (a, b) => Some(a.unwrap_or_default().saturating_add(b.unwrap_or_default())),
        };
        self.cpu_missing |= other.cpu_missing || (other.any() && other.cpu.is_none());
        self.cpu = sum(self.cpu, other.cpu);
        self.wall = sum(self.wall, other.wall);
        self.memory_bytes = self.memory_bytes.max(other.memory_bytes);
    }

    fn any(&self) -> bool {
        self.cpu.is_some() || self.wall.is_some() || self.memory_bytes.is_some()
    }

    fn finish(self) -> RunCost {
        let wall = self.wall.or(self.cpu).unwrap_or_default();
        let estimated = self.cpu.is_none() || self.cpu_missing;
        RunCost {
            cpu: if estimated {
                wall
            } else {
                self.cpu.unwrap_or_default()
            },
            wall,
            memory_bytes: self.memory_bytes.unwrap_or(0),
            estimated,
        }
    }
}

/// A non-negative finite number, or a string holding one (Judge0 `"0.012"`).
fn number(v: Option<&Value>) -> Option<f64> {
    let n = match v? {
        Value::Number(n) => n.as_f64()?,
        Value::String(s) => s.trim().parse().ok()?,
        _ => return None,
    };
    (n.is_finite() && n >= 0.0).then_some(n)
}

/// A time in `unit`; hostile values (a year of CPU) are capped at a day.
fn time(v: Option<&Value>, unit: TimeUnit) -> Option<Duration> {
    let secs = match unit {
        TimeUnit::Seconds => number(v)?,
        TimeUnit::Milliseconds => number(v)? / 1000.0,
    };
    Some(Duration::from_secs_f64(secs.min(86_400.0)))
}

/// Memory in `unit`; capped at 1 TiB.
fn memory(v: Option<&Value>, unit: MemoryUnit) -> Option<u64> {
    let n = number(v)?;
    let bytes = match unit {
        MemoryUnit::Bytes => n,
        MemoryUnit::Kilobytes => n * 1024.0,
    };
    Some(bytes.min((1u64 << 40) as f64) as u64)
}

fn piston(doc: &Value) -> Option<RunCost> {
    let mut total = Figures::default();
    let mut seen = false;
    for stage in ["compile", "run"] {
        let Some(s) = doc.get(stage).filter(|s| s.is_object()) else {
            continue;
        };
        seen = true;
        total.add(Figures {
            cpu: time(s.get("cpu_time"), TimeUnit::Milliseconds),
            wall: time(s.get("wall_time"), TimeUnit::Milliseconds),
            memory_bytes: memory(s.get("memory"), MemoryUnit::Bytes),
            cpu_missing: false,
        });
    }
    seen.then(|| total.finish())
}

fn judge0(doc: &Value) -> Vec<RunCost> {
    let records: Vec<&Value> = match doc {
        Value::Array(items) => items.iter().collect(),
        Value::Object(o) => match o.get("submissions") {
            Some(Value::Array(items)) => items.iter().collect(),
            _ => vec![doc],
        },
        _ => Vec::new(),
    };
    records
        .into_iter()
        .filter_map(|r| {
            let f = Figures {
                cpu: time(r.get("time"), TimeUnit::Seconds),
                wall: time(r.get("wall_time"), TimeUnit::Seconds),
                memory_bytes: memory(r.get("memory"), MemoryUnit::Kilobytes),
                cpu_missing: false,
            };
            // A submission still queued, one that answers only a token, or one
            // whose `fields` leave both times out has no figures: a client must
            // not make a heavy run cost nothing by asking for its memory alone.
            // The run stays owed until its times are read.
            (f.cpu.is_some() || f.wall.is_some()).then(|| f.finish())
        })
        .collect()
}

fn generic(fields: &GenericCostFields, doc: &Value) -> Option<RunCost> {
    let at = |p: &Option<String>| p.as_deref().and_then(|p| doc.pointer(p));
    Some(
        Figures {
            cpu: time(at(&fields.cpu_time), fields.time_unit),
            wall: time(at(&fields.wall_time), fields.time_unit),
            memory_bytes: memory(at(&fields.memory), fields.memory_unit),
            cpu_missing: false,
        }
        .finish(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn piston_stages_add_up_and_memory_is_the_peak() {
        let doc = json!({
            "compile": {"cpu_time": 300, "wall_time": 400, "memory": 50_000_000},
            "run": {"cpu_time": 1200, "wall_time": 1500, "memory": 20_000_000}
        });
        let c = read_costs(&CostFormat::Piston, &doc);
        assert_eq!(
            c,
            vec![RunCost {
                cpu: Duration::from_millis(1500),
                wall: Duration::from_millis(1900),
                memory_bytes: 50_000_000,
                estimated: false,
            }]
        );
    }

    #[test]
    fn a_verdict_without_cpu_time_is_charged_its_wall_time_as_estimated() {
        let doc = json!({"run": {"stdout": "1\n", "wall_time": 250}});
        let c = read_costs(&CostFormat::Piston, &doc)[0];
        assert_eq!(
            (c.cpu, c.wall, c.estimated),
            (Duration::from_millis(250), Duration::from_millis(250), true)
        );
        // Nothing at all: zero resources, still estimated (the per-request price applies).
        let c = read_costs(&CostFormat::Piston, &json!({"run": {"stdout": ""}}))[0];
        assert_eq!((c.cpu, c.estimated), (Duration::ZERO, true));
        // Not a run at all.
        assert!(read_costs(&CostFormat::Piston, &json!({"message": "x"})).is_empty());
    }

    #[test]
    fn judge0_reads_seconds_as_strings_and_memory_in_kib_for_each_submission() {
        let one = json!({"time": "0.250", "wall_time": "0.300", "memory": 2048});
        let c = read_costs(&CostFormat::Judge0, &one);
        assert_eq!(c[0].cpu, Duration::from_millis(250));
        assert_eq!(c[0].memory_bytes, 2048 * 1024);
        let batch = json!({"submissions": [one, {"token": "t"}, {"time": null, "wall_time": 1.5}]});
        let c = read_costs(&CostFormat::Judge0, &batch);
        assert_eq!(c.len(), 2);
        assert!(c[1].estimated);
        assert_eq!(c[1].cpu, Duration::from_millis(1500));
    }

    #[test]
    fn a_judge0_record_without_either_time_has_no_figures() {
        for record in [
            json!({"token": "t", "memory": 2048}),
            json!({"token": "t", "status": {"id": 3}, "memory": 2048, "time": null}),
        ] {
            assert!(
                read_costs(&CostFormat::Judge0, &record).is_empty(),
                "{record}"
            );
        }
        let wall_only = json!({"wall_time": "1.5", "memory": 2048});
        assert_eq!(
            read_costs(&CostFormat::Judge0, &wall_only)[0].cpu,
            Duration::from_millis(1500)
        );
    }

    #[test]
    fn hostile_figures_are_ignored_or_capped() {
        let doc = json!({"time": "-5", "wall_time": 1e300, "memory": "lots"});
        let c = read_costs(&CostFormat::Judge0, &doc)[0];
        assert_eq!(c.wall, Duration::from_secs(86_400));
        assert!(c.estimated);
        assert_eq!(c.memory_bytes, 0);
    }

    #[test]
    fn generic_reads_the_configured_pointers() {
        let fields = GenericCostFields {
            cpu_time: Some("/stats/cpu".into()),
            time_unit: TimeUnit::Milliseconds,
            wall_time: Some("/stats/wall".into()),
            memory: Some("/stats/mem_kb".into()),
            memory_unit: MemoryUnit::Kilobytes,
        };
        let doc = json!({"stats": {"cpu": 40, "wall": 90, "mem_kb": 10}});
        let c = read_costs(&CostFormat::Generic(fields), &doc)[0];
        assert_eq!(
            (c.cpu, c.wall, c.memory_bytes, c.estimated),
            (
                Duration::from_millis(40),
                Duration::from_millis(90),
                10240,
                false
            )
        );
    }
}
