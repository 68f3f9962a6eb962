//! Finds the line a dotted key is written on, so that errors found after parsing
//! (a bad CIDR, an unknown tier) still point at `file:line`.

/// The 1-based line where `key` (e.g. `tiers.free.windows[0].rate`) is set, if it is written.
pub fn line_of_key(text: &str, key: &str) -> Option<usize> {
    let segments: Vec<String> = key
        .split('.')
        .map(|s| s.split('[').next().unwrap_or(s).to_string())
        .collect();
    let mut best: Option<(usize, usize)> = None;
    let mut table: Vec<String> = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let t = line.trim();
        if t.starts_with('#') || t.is_empty() {
            continue;
        }
        if let Some(header) = t.strip_prefix('[') {
            let header = header.trim_start_matches('[');
            let header = header.split(']').next().unwrap_or("");
            table = header
                .split('.')
                .map(|s| s.trim().trim_matches('"').to_string())
                .collect();
            consider(&mut best, &table, &segments, n + 1);
            continue;
        }
        if let Some((k, _)) = t.split_once('=') {
            let mut path = table.clone();
            path.extend(
                k.trim()
                    .split('.')
                    .map(|s| s.trim().trim_matches('"').to_string()),
            );
            consider(&mut best, &path, &segments, n + 1);
        }
    }
    best.map(|(_, line)| line)
}

/// Keeps the line whose path shares the longest prefix with the key (first wins on ties).
fn consider(best: &mut Option<(usize, usize)>, path: &[String], key: &[String], line: usize) {
    if path.len() > key.len() {
        return;
    }
    let shared = path.iter().zip(key).take_while(|(a, b)| a == b).count();
    if shared == path.len() && shared > 0 && best.is_none_or(|(len, _)| shared > len) {
        *best = Some((shared, line));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_keys_in_tables_and_inline_arrays() {
        let text = "[server]\nlisten = \"x\"\n\n[tiers.free]\nwindows = [\n  { name = \"b\" },\n]\nrun_time = \"1s\"\n";
        assert_eq!(line_of_key(text, "server.listen"), Some(2));
        assert_eq!(line_of_key(text, "tiers.free.run_time"), Some(8));
        assert_eq!(line_of_key(text, "tiers.free.windows[0].rate"), Some(5));
        assert_eq!(line_of_key(text, "tiers.paid"), None);
    }
}
