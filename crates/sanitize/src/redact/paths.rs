//! Host paths: absolute Unix paths outside the policy's `allowed_paths`, Windows
//! drive and UNC paths, and `file://` URLs. Relative paths (`src/main.rs`), URL
//! paths (`https://host/a/b`) and fractions (`1/2`) are left alone.

use super::{Hit, Label, builtin, is_left_boundary};
use crate::policy::OutputPolicy;
use regex::Regex;
use std::sync::LazyLock;

static PATH: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r#"(?i:file://[^\s"'<>]*)"#,
        r#"|\b[A-Za-z]:[\\/][^\s"'<>|*?]*"#,
        r#"|\\\\[A-Za-z0-9.\-]+\\[^\s"'<>|*?]*"#,
        r"|/[A-Za-z0-9_.@+~%\-]+(?:/[A-Za-z0-9_.@+~%\-]*)*",
    ))
    .expect("constant regex")
});

/// Adds a hit for every host path in `text`.
pub(super) fn find(policy: &OutputPolicy, text: &str, hits: &mut Vec<Hit>) {
    if memchr::memchr3(b'/', b'\\', b':', text.as_bytes()).is_none() {
        return;
    }
    let bytes = text.as_bytes();
    for m in PATH.find_iter(text) {
        let path = m.as_str();
        if path.starts_with('/') {
            let left_ok = m.start() == 0 || is_left_boundary(bytes[m.start() - 1]);
            let numeric = path.as_bytes().get(1).is_some_and(u8::is_ascii_digit);
            if !left_ok || numeric || policy.path_allowed(path) {
                continue;
            }
        }
        hits.push(Hit {
            start: m.start(),
            end: m.end(),
            label: Label::Builtin(builtin::HOST_PATH),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn redacted(text: &str) -> Vec<&str> {
        let mut hits = Vec::new();
        find(&OutputPolicy::default(), text, &mut hits);
        hits.iter().map(|h| &text[h.start..h.end]).collect()
    }

    #[test]
    fn host_paths_are_found_and_sandbox_paths_kept() {
        let text =
            r#"File "/home/deploy/app/run.py", line 3 in /tmp/x.py and /usr/lib/python3/os.py"#;
        assert_eq!(redacted(text), vec!["/home/deploy/app/run.py"]);
    }

    #[test]
    fn windows_unc_and_file_urls_are_found() {
        let text = r"at C:\Users\admin\app.cs and \\fileserver\share\x and file:///etc/hosts.";
        assert_eq!(
            redacted(text),
            vec![
                r"C:\Users\admin\app.cs",
                r"\\fileserver\share\x",
                "file:///etc/hosts."
            ]
        );
    }

    #[test]
    fn relative_paths_urls_and_fractions_are_not_paths() {
        let text = "src/main.rs https://example.com/a/b 1/2 x /2 and/or a / b http://x";
        assert!(redacted(text).is_empty(), "{:?}", redacted(text));
    }
}
