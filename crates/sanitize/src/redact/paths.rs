//! Host paths: absolute Unix paths outside the policy's `allowed_paths`, Windows
//! drive and UNC paths, and `file://` URLs. Relative paths (`src/main.rs`), URL
//! paths (`https://host/a/b`) and fractions (`1/2`) are left alone.

use super::{Hit, Label, builtin};
use crate::policy::OutputPolicy;

/// Adds a hit for every host path in `text`. One `memchr` pass finds the bytes a
/// path can start at (`/`, `:` of `C:\` or `file:`, `\\` of UNC); each candidate is
/// then checked by hand, so text without them costs next to nothing.
pub(super) fn find(policy: &OutputPolicy, text: &str, hits: &mut Vec<Hit>) {
    let bytes = text.as_bytes();
    let mut covered = 0;
    for at in memchr::memchr3_iter(b'/', b'\\', b':', bytes) {
        if at < covered {
            continue;
        }
        let span = match bytes[at] {
            b'/' => unix_path(policy, text, at),
            // `file://` and `C:\` both go on with a slash: other colons are skipped.
            b':' if !matches!(bytes.get(at + 1), Some(b'/' | b'\\')) => None,
            b':' => file_url(bytes, at).or_else(|| drive_path(bytes, at)),
            _ => unc_path(bytes, at),
        };
        if let Some((start, end)) = span {
            covered = end;
            hits.push(Hit {
                start,
                end,
                label: Label::Builtin(builtin::HOST_PATH),
            });
        }
    }
}

/// Top-level directories that are host paths on their own; other one-segment
/// "paths" (`/help`, `/s`) are more often commands or units than paths.
const HOST_ROOTS: &[&str] = &[
    "etc",
    "home",
    "root",
    "var",
    "opt",
    "srv",
    "proc",
    "sys",
    "mnt",
    "run",
    "boot",
    "media",
    "app",
    "data",
    "workspace",
    "Users",
];

/// Whether `b` may sit right before the start of a path
/// (so that `a/b` is not taken for one).
fn is_left_boundary(b: u8) -> bool {
    !(b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'/' | b'\\' | b'-' | b'~' | b'+'))
}

/// A byte of a Unix path segment.
fn is_segment_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'@' | b'+' | b'~' | b'%' | b'-')
}

/// Where a Windows path or URL ends: at a blank, a quote, `<`, `>`, `|`, `*` or `?`.
fn path_end(bytes: &[u8], from: usize) -> usize {
    bytes[from..]
        .iter()
        .position(|&b| {
            b.is_ascii_whitespace() || matches!(b, b'"' | b'\'' | b'<' | b'>' | b'|' | b'*' | b'?')
        })
        .map_or(bytes.len(), |n| from + n)
}

/// `/a/b/c` standing alone (not `x/y`, `1/2` or a URL's path) outside the allowed
/// prefixes. The kernel reads `//etc/hosts` and `/tmp/../etc/hosts` as `/etc/hosts`:
/// the path is decided in that normal form, never as written.
fn unix_path(policy: &OutputPolicy, text: &str, at: usize) -> Option<(usize, usize)> {
    let bytes = text.as_bytes();
    if at > 0 && !is_left_boundary(bytes[at - 1]) {
        return None;
    }
    let slashes = bytes[at..].iter().take_while(|&&b| b == b'/').count();
    if slashes > 1 && at > 0 && bytes[at - 1] == b':' {
        // `scheme://host/…`: a URL's path, not the host's.
        return None;
    }
    let first = *bytes.get(at + slashes)?;
    if !is_segment_byte(first) || first.is_ascii_digit() {
        return None;
    }
    let len = bytes[at + slashes..]
        .iter()
        .position(|&b| !(is_segment_byte(b) || b == b'/'))
        .unwrap_or(bytes.len() - at - slashes);
    let end = at + slashes + len;
    let written = text[at + slashes..end].trim_end_matches('/');
    let normal = normalize(&text[at..end]);
    // One segment as written (`/help`, `/s`) is more often a command or a unit
    // than a path, unless it names a host root.
    let single = !written.contains('/');
    if single && !HOST_ROOTS.contains(&normal[1..].trim_end_matches('/')) {
        return None;
    }
    (!policy.path_allowed(&normal)).then(|| (at, across_spaces(bytes, end, b'/')))
}

/// An absolute path in lexical normal form: repeated slashes, `.` and `..`
/// resolved (`..` at the root stays at the root, as the kernel has it).
fn normalize(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            name => parts.push(name),
        }
    }
    format!("/{}", parts.join("/"))
}

/// `file://…`, with `at` on its colon.
fn file_url(bytes: &[u8], at: usize) -> Option<(usize, usize)> {
    let start = at.checked_sub(4)?;
    let scheme = bytes[start..at].eq_ignore_ascii_case(b"file");
    (scheme && bytes.get(at + 1..at + 3) == Some(b"//")).then(|| (start, path_end(bytes, at)))
}

/// Words a path is followed across spaces to find more of it.
const SPACED_WORDS: usize = 3;

/// Extends a path that ends at `end` across spaces while one of the next few
/// words still holds its separator `sep` (`C:\Program Files (x86)\App\x.exe`,
/// `/Users/x/Library/Application Support/Code`); a word that starts a path of
/// its own ends the search.
fn across_spaces(bytes: &[u8], mut end: usize, sep: u8) -> usize {
    'extend: while bytes.get(end) == Some(&b' ') {
        let mut word_end = end;
        for _ in 0..SPACED_WORDS {
            if bytes.get(word_end) != Some(&b' ') {
                break;
            }
            let next = path_end(bytes, word_end + 1);
            let word = &bytes[word_end + 1..next];
            if word.is_empty() || starts_a_path(word) {
                break;
            }
            if word.contains(&sep) {
                end = next;
                continue 'extend;
            }
            word_end = next;
        }
        break;
    }
    end
}

/// Whether `word` begins a path of its own (`\\host`, `\x`, `/x`, `D:\`) rather
/// than going on with the one before it.
fn starts_a_path(word: &[u8]) -> bool {
    matches!(word.first(), Some(b'\\' | b'/'))
        || (word.get(1) == Some(&b':') && matches!(word.get(2), Some(b'\\' | b'/')))
}

/// `C:\…` or `C:/…`, with `at` on the colon; the drive letter must stand alone.
fn drive_path(bytes: &[u8], at: usize) -> Option<(usize, usize)> {
    let start = at.checked_sub(1)?;
    let letter = bytes[start].is_ascii_alphabetic();
    let alone =
        start == 0 || !(bytes[start - 1].is_ascii_alphanumeric() || bytes[start - 1] == b'_');
    let slash = matches!(bytes.get(at + 1), Some(b'\\' | b'/'));
    (letter && alone && slash)
        .then(|| (start, across_spaces(bytes, path_end(bytes, at + 1), b'\\')))
}

/// `\\server\share…`, with `at` on the first backslash.
fn unc_path(bytes: &[u8], at: usize) -> Option<(usize, usize)> {
    if bytes.get(at + 1) != Some(&b'\\') || (at > 0 && bytes[at - 1] == b'\\') {
        return None;
    }
    let host = bytes[at + 2..]
        .iter()
        .position(|&b| !(b.is_ascii_alphanumeric() || b == b'.' || b == b'-'))
        .unwrap_or(bytes.len() - at - 2);
    let sep = at + 2 + host;
    (host > 0 && bytes.get(sep) == Some(&b'\\'))
        .then(|| (at, across_spaces(bytes, path_end(bytes, sep), b'\\')))
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
    fn one_segment_paths_count_only_for_host_roots() {
        assert_eq!(
            redacted("ls /etc and /home/ then /start"),
            vec!["/etc", "/home/"]
        );
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
    fn unix_host_paths_with_spaces_are_hidden_whole() {
        let text = "at /Users/jo/Library/Application Support/Code/x.js:3\n\
                    /home/deploy/x.py line 3 in /tmp/y.py\n\
                    ls /home/a /home/b\n\
                    /tmp/a b/c";
        assert_eq!(
            redacted(text),
            vec![
                "/Users/jo/Library/Application Support/Code/x.js:3",
                "/home/deploy/x.py",
                "/home/a",
                "/home/b",
            ]
        );
    }

    #[test]
    fn windows_paths_with_spaces_are_hidden_whole() {
        let text = "File \"C:\\Users\\John Doe\\app.py\", line 3\n\
                    C:\\Program Files (x86)\\Tool\\t.exe failed\n\
                    C:\\dir\\file.txt and more words here\n\
                    C:\\a\\b.txt and D:\\c\\d.txt\n\
                    \\\\fs\\My Share\\x.txt ok";
        assert_eq!(
            redacted(text),
            vec![
                r"C:\Users\John Doe\app.py",
                r"C:\Program Files (x86)\Tool\t.exe",
                r"C:\dir\file.txt",
                r"C:\a\b.txt",
                r"D:\c\d.txt",
                r"\\fs\My Share\x.txt",
            ]
        );
    }

    #[test]
    fn paths_are_decided_in_normal_form() {
        assert_eq!(
            redacted("cat /tmp/../etc/hosts //etc/hosts /usr/../root/.ssh/id_rsa /tmp/./x"),
            vec![
                "/tmp/../etc/hosts",
                "//etc/hosts",
                "/usr/../root/.ssh/id_rsa"
            ]
        );
        assert_eq!(
            redacted("/tmp//a/../b ///usr/lib /tmp/.. /usr/lib/../../srv/x"),
            vec!["/tmp/..", "/usr/lib/../../srv/x"]
        );
        assert_eq!(normalize("//a/./b/../../../c/"), "/c");
    }

    #[test]
    fn relative_paths_urls_and_fractions_are_not_paths() {
        let text =
            "src/main.rs https://example.com/a/b 1/2 x /2 and/or a / b http://x /help 9 km/s";
        assert!(redacted(text).is_empty(), "{:?}", redacted(text));
    }
}
