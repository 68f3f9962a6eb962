//! The operator's output policy: caps, the leak threshold and the lists that say
//! what in an output belongs to the host (paths, environment names, host names).
//! It is a config section, so every field is documented and unknown keys are errors.

use execgate_core::ByteSize;
use serde::Deserialize;

/// How program output is cut, redacted and withheld (config section `[output]`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OutputPolicy {
    /// Cap on a stdout field (and on `Other` fields), in bytes after decoding; default `"100KB"`.
    pub stdout_max_bytes: ByteSize,
    /// Cap on a stderr field, in bytes after decoding; default `"10KB"`.
    pub stderr_max_bytes: ByteSize,
    /// Outbound leak score at which the output fields are withheld; default 4; 0 never withholds.
    pub leak_threshold: u32,
    /// Record leak findings but never withhold (redaction and truncation still apply).
    pub detection_only: bool,
    /// Absolute path prefixes that belong to the sandbox, not the host: left visible.
    pub allowed_paths: Vec<String>,
    /// Environment variable names whose values are redacted (`NAME=value`, `'NAME': 'value'`);
    /// a trailing `*` matches every name with that prefix (`"AWS_*"`).
    pub env_names: Vec<String>,
    /// Host name suffixes that name internal hosts (`".internal"`), redacted with the whole name.
    pub internal_hosts: Vec<String>,
}

impl Default for OutputPolicy {
    fn default() -> Self {
        Self {
            stdout_max_bytes: ByteSize(100 * 1024),
            stderr_max_bytes: ByteSize(10 * 1024),
            leak_threshold: 4,
            detection_only: false,
            allowed_paths: [
                "/tmp",
                "/box",
                "/piston",
                "/sandbox",
                "/code",
                "/usr",
                "/bin",
                "/lib",
                "/lib64",
                "/dev/null",
                "/dev/stdin",
                "/dev/stdout",
                "/dev/stderr",
            ]
            .map(String::from)
            .to_vec(),
            env_names: [
                "AWS_*",
                "EXECGATE_*",
                "DATABASE_URL",
                "REDIS_URL",
                "SECRET_KEY",
                "API_KEY",
            ]
            .map(String::from)
            .to_vec(),
            internal_hosts: [
                ".internal",
                ".corp",
                ".intranet",
                ".lan",
                ".svc.cluster.local",
            ]
            .map(String::from)
            .to_vec(),
        }
    }
}

impl OutputPolicy {
    /// The cap for a field of this kind, in bytes.
    pub fn cap_for(&self, kind: FieldKind) -> usize {
        match kind {
            FieldKind::Stderr => self.stderr_max_bytes.as_usize(),
            FieldKind::Stdout | FieldKind::Other => self.stdout_max_bytes.as_usize(),
        }
    }

    /// Whether `path` lies under one of `allowed_paths` (whole path segments only).
    pub fn path_allowed(&self, path: &str) -> bool {
        self.allowed_paths.iter().any(|prefix| {
            let prefix = prefix.trim_end_matches('/');
            if prefix.is_empty() {
                return true;
            }
            // Most prefixes differ in their first name byte: no full compare for them.
            let second = |s: &str| s.as_bytes().get(1).copied();
            (prefix.len() < 2 || second(prefix) == second(path))
                && path
                    .strip_prefix(prefix)
                    .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
        })
    }

    /// Whether `name` is one of `env_names` (exactly, or by a `PREFIX*` entry).
    pub fn env_name_listed(&self, name: &str) -> bool {
        self.env_names
            .iter()
            .any(|entry| match entry.strip_suffix('*') {
                Some(prefix) => name.starts_with(prefix),
                None => name == entry,
            })
    }

    /// Adds the names of this process's environment (the gateway's own: tokens,
    /// database URLs, cloud credentials) to `env_names`, except the common
    /// harmless ones every program has (`PATH`, `HOME`, `LANG`…).
    pub fn with_process_env(mut self) -> Self {
        let names = std::env::vars_os().filter_map(|(name, _)| name.into_string().ok());
        self.add_env_names(names);
        self
    }

    /// Adds `names` to `env_names`, skipping harmless, malformed and already listed ones.
    pub fn add_env_names(&mut self, names: impl IntoIterator<Item = String>) {
        for name in names {
            let valid = !name.is_empty()
                && !name.starts_with(|c: char| c.is_ascii_digit())
                && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
            let harmless = HARMLESS_ENV.contains(&name.as_str()) || name.starts_with("LC_");
            if valid && !harmless && !self.env_name_listed(&name) {
                self.env_names.push(name);
            }
        }
    }

    /// Whether leak findings worth `score` withhold the output.
    pub fn withholds(&self, score: u32) -> bool {
        !self.detection_only && self.leak_threshold > 0 && score >= self.leak_threshold
    }

    /// Checks the lists; each problem is `key: reason` (the config loader adds file and line).
    pub fn validate(&self) -> Result<(), Vec<String>> {
        let mut problems = Vec::new();
        for path in &self.allowed_paths {
            if !path.starts_with('/') {
                problems.push(format!("allowed_paths: {path:?} is not an absolute path"));
            }
        }
        for name in &self.env_names {
            let bare = name.strip_suffix('*').unwrap_or(name);
            let valid = bare.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
                && !bare.starts_with(|c: char| c.is_ascii_digit());
            if bare.is_empty() || !valid {
                problems.push(format!(
                    "env_names: {name:?} is not a variable name (letters, digits, '_', optional trailing '*')"
                ));
            }
        }
        for suffix in &self.internal_hosts {
            if !suffix.starts_with('.') || suffix.len() < 2 {
                problems.push(format!(
                    "internal_hosts: {suffix:?} must be a name suffix starting with '.', like \".internal\""
                ));
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }
}

/// Environment names every process has whose values say nothing about the host's secrets.
const HARMLESS_ENV: &[&str] = &[
    "PATH", "HOME", "LANG", "LANGUAGE", "TERM", "PWD", "OLDPWD", "SHELL", "USER", "LOGNAME",
    "SHLVL", "HOSTNAME", "TZ", "TMPDIR", "_",
];

/// What an output field carries; decides its cap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FieldKind {
    /// Program standard output (capped by `stdout_max_bytes`).
    Stdout,
    /// Program standard error (capped by `stderr_max_bytes`).
    Stderr,
    /// Compiler output, messages, combined output (capped by `stdout_max_bytes`).
    Other,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allowed_paths_match_whole_segments() {
        let policy = OutputPolicy::default();
        assert!(policy.path_allowed("/tmp"));
        assert!(policy.path_allowed("/tmp/x.py"));
        assert!(!policy.path_allowed("/tmpfoo/x"));
        assert!(!policy.path_allowed("/home/deploy/app.js"));
    }

    #[test]
    fn env_names_match_exactly_or_by_prefix() {
        let policy = OutputPolicy::default();
        assert!(policy.env_name_listed("AWS_SECRET_ACCESS_KEY"));
        assert!(policy.env_name_listed("DATABASE_URL"));
        assert!(!policy.env_name_listed("DATABASE_URL2"));
        assert!(!policy.env_name_listed("HOME"));
    }

    #[test]
    fn added_env_names_skip_harmless_malformed_and_listed_ones() {
        let mut policy = OutputPolicy::default();
        let before = policy.env_names.len();
        policy.add_env_names(
            [
                "JUDGE0_SECRET",
                "PATH",
                "LC_ALL",
                "AWS_REGION",
                "1BAD",
                "A-B",
                "JUDGE0_SECRET",
            ]
            .map(String::from),
        );
        assert_eq!(policy.env_names[before..], ["JUDGE0_SECRET"]);
    }

    #[test]
    fn the_process_environment_is_listed_but_path_is_not() {
        let policy = OutputPolicy::default().with_process_env();
        // Cargo runs tests with its own variables set.
        let names: Vec<String> = std::env::vars_os()
            .filter_map(|(k, _)| k.into_string().ok())
            .filter(|k| k.starts_with("CARGO_") && !k.contains('-'))
            .collect();
        assert!(!names.is_empty(), "cargo sets CARGO_* for tests");
        for name in names {
            assert!(policy.env_name_listed(&name), "{name} not listed");
        }
        assert!(!policy.env_name_listed("PATH"));
    }

    #[test]
    fn threshold_zero_and_detection_only_never_withhold() {
        let mut policy = OutputPolicy::default();
        assert!(policy.withholds(4));
        assert!(!policy.withholds(3));
        policy.detection_only = true;
        assert!(!policy.withholds(100));
        policy.detection_only = false;
        policy.leak_threshold = 0;
        assert!(!policy.withholds(100));
    }

    #[test]
    fn the_default_policy_is_valid_and_bad_lists_are_named() {
        assert_eq!(OutputPolicy::default().validate(), Ok(()));
        let bad = OutputPolicy {
            allowed_paths: vec!["tmp".into()],
            env_names: vec!["1X".into(), "*".into(), "OK_*".into()],
            internal_hosts: vec!["internal".into()],
            ..Default::default()
        };
        assert_eq!(
            bad.validate().unwrap_err(),
            vec![
                "allowed_paths: \"tmp\" is not an absolute path",
                "env_names: \"1X\" is not a variable name (letters, digits, '_', optional trailing '*')",
                "env_names: \"*\" is not a variable name (letters, digits, '_', optional trailing '*')",
                "internal_hosts: \"internal\" must be a name suffix starting with '.', like \".internal\"",
            ]
        );
    }

    #[test]
    fn unknown_policy_keys_are_errors() {
        let err = toml::from_str::<OutputPolicy>("leak_treshold = 3").unwrap_err();
        assert!(err.to_string().contains("unknown field"), "{err}");
    }
}
