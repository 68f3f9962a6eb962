//! Readable text for the CLI: decision tables and a client summary.

use serde_json::Value;
use std::fmt::Write;

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "-".into(),
        other => other.to_string(),
    }
}

/// Lays out rows in columns separated by two spaces.
fn columns(rows: &[Vec<String>]) -> String {
    let widths: Vec<usize> = (0..rows.first().map_or(0, Vec::len))
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for row in rows {
        let line: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        let _ = writeln!(out, "{}", line.join("  ").trim_end());
    }
    out
}

/// A page of decisions as a table.
pub(super) fn decisions(page: &Value) -> String {
    let mut rows = vec![
        ["ID", "SCOPE", "VALUE", "ORIGIN", "EXPIRES", "BY", "REASON"]
            .map(String::from)
            .to_vec(),
    ];
    for d in page["decisions"].as_array().into_iter().flatten() {
        let expires = if d["expires_at"].is_null() {
            "never".into()
        } else {
            text(&d["expires_at"])
        };
        rows.push(vec![
            text(&d["id"]),
            text(&d["scope"]),
            text(&d["value"]),
            text(&d["origin"]),
            expires,
            text(&d["created_by"]),
            text(&d["reason"]),
        ]);
    }
    let mut out = if rows.len() == 1 {
        "no active decisions\n".into()
    } else {
        columns(&rows)
    };
    if let Some(next) = page["next_offset"].as_u64() {
        let _ = writeln!(out, "more: --offset {next}");
    }
    out
}

/// One line about an added decision.
pub(super) fn added(d: &Value) -> String {
    let until = if d["expires_at"].is_null() {
        "until removed".into()
    } else {
        format!("until {}", text(&d["expires_at"]))
    };
    format!(
        "added decision {}: {} ({}) {until}\n",
        text(&d["id"]),
        text(&d["value"]),
        text(&d["scope"])
    )
}

/// One line about a removed decision.
pub(super) fn removed(d: &Value) -> String {
    format!(
        "removed decision {}: {}\n",
        text(&d["id"]),
        text(&d["value"])
    )
}

/// A client summary: standing, windows, recent events.
pub(super) fn client(c: &Value) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "key:         {}", text(&c["key"]));
    let _ = writeln!(out, "tier:        {}", text(&c["tier"]));
    let _ = writeln!(
        out,
        "reputation:  {} ({} earlier bans)",
        text(&c["reputation"]["score"]),
        text(&c["reputation"]["offences"])
    );
    let blocked = &c["blocked"];
    let block = if blocked.is_null() {
        "no".into()
    } else {
        format!(
            "yes, decision {} ({})",
            text(&blocked["id"]),
            text(&blocked["reason"])
        )
    };
    let _ = writeln!(out, "blocked:     {block}");
    let mut rows = vec![
        ["WINDOW", "QUOTA", "PERIOD_S", "REMAINING", "NEXT_IN_S"]
            .map(String::from)
            .to_vec(),
    ];
    for w in c["windows"].as_array().into_iter().flatten() {
        rows.push(
            [
                "name",
                "quota",
                "period_secs",
                "remaining",
                "reset_after_secs",
            ]
            .iter()
            .map(|k| text(&w[*k]))
            .collect(),
        );
    }
    if rows.len() > 1 {
        out.push('\n');
        out.push_str(&columns(&rows));
    }
    let mut events = vec![["AT", "EVENT", "DETAIL"].map(String::from).to_vec()];
    for e in c["events"].as_array().into_iter().flatten() {
        events.push(vec![text(&e["at"]), text(&e["kind"]), text(&e["detail"])]);
    }
    if events.len() > 1 {
        out.push('\n');
        out.push_str(&columns(&events));
    }
    out
}

/// One line of usage: who, credits, executions, CPU and wall seconds.
pub fn usage_row(who: &str, u: &Value) -> String {
    let secs = |field: &str| u[field].as_u64().unwrap_or(0) as f64 / 1000.0;
    format!(
        "{who}  credits {:.6}  executions {}  cpu {:.3}s  wall {:.3}s  estimated {}\n",
        u["credits"].as_f64().unwrap_or(0.0),
        u["executions"].as_u64().unwrap_or(0),
        secs("cpu_ms"),
        secs("wall_ms"),
        u["estimated"].as_u64().unwrap_or(0),
    )
}
