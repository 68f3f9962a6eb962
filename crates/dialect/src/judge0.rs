//! Judge0 CE: `POST /submissions[?base64_encoded=&wait=]` and
//! `/submissions/batch`, limits in seconds and kilobytes, results with a
//! numeric `status.id`.

use crate::api::{Api, Bounds, Parsed};
use crate::callback::CallbackPolicy;
use crate::config::{JUDGE0_LANGUAGES, Judge0Config};
use crate::decode::{check_code, decode_base64};
use crate::limits::{LimitField, LimitRole, LimitUnit, clamp_limits, read_limits};
use crate::model::{
    CodeFile, ExecRequest, FieldKind, FieldSpec, RequestError, RequestedLimits, RouteKind,
    RunOutcome, Submission, TierLimits,
};
use crate::options::OptionsPolicy;
use crate::path::{RoutePattern, flag_lenient, flag_strict, query_names, query_value, with_param};
use crate::read::{Fields, index};
use http::Method;
use serde_json::Value;
use std::collections::HashMap;

/// Options that would multiply a submission's limits or open the network,
/// forced off whenever a client sets them.
const FORCED_OFF: &[&str] = &[
    "enable_per_process_and_thread_time_limit",
    "enable_per_process_and_thread_memory_limit",
];

/// Judge0 limits that are counts and sizes rather than times or memory, and
/// the most any tier may ask for (Judge0's own defaults): set when absent,
/// lowered when above, refused when zero or less.
const BOUNDED: &[(&str, u64)] = &[
    // Kilobytes a run may write to a file.
    ("max_file_size", 1024),
    // Processes and threads a run may start.
    ("max_processes_and_or_threads", 60),
];

/// Query parameters an executing route accepts. Rails merges the query over
/// the JSON body, so any other parameter (`source_code`, `memory_limit`…)
/// would silently replace what the gateway screened and clamped.
const EXECUTE_QUERY: &[&str] = &["base64_encoded", "wait", "fields"];

/// Routes that run nothing and may pass (`{}` is any one segment).
const PASSTHROUGH: &[&[&str]] = &[
    &["submissions"],
    &["submissions", "batch"],
    &["submissions", "{}"],
    &["languages"],
    &["languages", "all"],
    &["languages", "{}"],
    &["statuses"],
    &["about"],
    &["config_info"],
    &["version"],
    &["workers"],
    &["system_info"],
];

/// The query parameters Judge0 CE documents for each route that runs
/// nothing; any other is refused by name rather than passed to an executor
/// whose reading of it the gateway does not know. `callback_url` is not among
/// them anywhere: it is read from the body only, checked, and delivered by the
/// gateway (never by the executor, past the sanitizer).
fn passthrough_query(path: &[&str]) -> &'static [&'static str] {
    match path {
        ["submissions"] => &["base64_encoded", "fields", "page", "per_page"],
        ["submissions", "batch"] => &["base64_encoded", "fields", "tokens"],
        ["submissions", _] => &["base64_encoded", "fields"],
        _ => &[],
    }
}

/// The Judge0 CE API.
#[derive(Debug)]
pub(crate) struct Judge0 {
    languages: HashMap<u64, String>,
    limits: Vec<LimitField>,
    bounds: Bounds,
    allow_additional_files: bool,
    allow_network: bool,
    allow_any_compiler_options: bool,
    options: OptionsPolicy,
    callbacks: CallbackPolicy,
}

impl Judge0 {
    pub(crate) fn new(
        config: &Judge0Config,
        bounds: Bounds,
        options: OptionsPolicy,
        callbacks: CallbackPolicy,
    ) -> Result<Self, String> {
        let mut languages: HashMap<u64, String> = JUDGE0_LANGUAGES
            .iter()
            .map(|(id, name)| (*id, (*name).to_string()))
            .collect();
        for (id, name) in &config.languages {
            let id: u64 = id.parse().map_err(|_| {
                format!("dialect.judge0.languages: key {id:?} is not a Judge0 language id")
            })?;
            languages.insert(id, name.clone());
        }
        let limits = limit_fields();
        Ok(Self {
            languages,
            limits,
            bounds,
            allow_additional_files: config.allow_additional_files,
            allow_network: config.allow_network,
            allow_any_compiler_options: config.allow_any_compiler_options,
            options,
            callbacks,
        })
    }

    /// One submission object at `at` (`""` for a single submission): the
    /// shared reading, then this gateway's policy on options and callbacks.
    fn submission(
        &self,
        value: &Value,
        at: &str,
        base64: bool,
    ) -> Result<Submission, RequestError> {
        let read = read_submission(value, at, base64)?;
        let language = self
            .languages
            .get(&read.language_id)
            .cloned()
            .unwrap_or_else(|| format!("judge0:{}", read.language_id));
        let fields = Fields::of(value, at)?;
        let options = fields.string("compiler_options")?;
        if let Some(options) = options.filter(|_| !self.allow_any_compiler_options) {
            self.options
                .check_compiler(&language, options, &fields.name("compiler_options"))?;
        }
        if let Some(args) = &read.command_line_arguments {
            self.options.check_args(
                args.split_whitespace(),
                &fields.name("command_line_arguments"),
            )?;
        }
        let callback = fields
            .string("callback_url")?
            .map(|url| {
                self.callbacks
                    .check_url(url)
                    .map_err(|reason| RequestError::new(fields.name("callback_url"), reason))
            })
            .transpose()?;
        if fields.get("additional_files").is_some() && !self.allow_additional_files {
            return Err(RequestError::new(
                fields.name("additional_files"),
                "is not accepted: the gateway cannot screen zipped files",
            ));
        }
        Ok(Submission {
            language,
            version: None,
            files: vec![CodeFile {
                name: None,
                content: read.source_code,
            }],
            stdin: read.stdin,
            limits: read.limits,
            callback,
        })
    }

    /// The `submissions` array of a batch.
    fn batch(&self, body: &Value, base64: bool) -> Result<Vec<Submission>, RequestError> {
        let fields = Fields::of(body, "")?;
        let list =
            fields.bounded_array("submissions", self.bounds.max_submissions, "submissions")?;
        list.iter()
            .enumerate()
            .map(|(i, item)| self.submission(item, &index("submissions", i), base64))
            .collect()
    }

    /// Clamps one submission object and turns off limit-multiplying options.
    fn clamp_one(
        &self,
        value: &mut Value,
        at: &str,
        tier: &TierLimits,
    ) -> Result<(), RequestError> {
        clamp_limits(&self.limits, value, at, tier)?;
        let Value::Object(map) = value else {
            return Err(RequestError::new(
                if at.is_empty() { "body" } else { at },
                "must be a JSON object",
            ));
        };
        // The gateway delivers the callback itself, sanitized: the executor
        // must not send the raw result there too.
        map.remove("callback_url");
        let network = (!self.allow_network).then_some("enable_network");
        for key in FORCED_OFF.iter().copied().chain(network) {
            if let Some(flag) = map.get_mut(key).filter(|v| **v != Value::Bool(false)) {
                *flag = Value::Bool(false);
            }
        }
        for (key, most) in BOUNDED {
            bound(map, key, *most, at)?;
        }
        if let Some(runs) = map
            .get_mut("number_of_runs")
            .filter(|v| v.as_u64() != Some(1))
        {
            *runs = Value::from(1);
        }
        Ok(())
    }
}

/// The limit fields of a submission object, in Judge0's units (seconds, KB).
fn limit_fields() -> Vec<LimitField> {
    use LimitRole::*;
    use LimitUnit::{Kb, S};
    let mut limits = LimitField::table(&[
        ("/wall_time_limit", RunTime, S),
        ("/cpu_time_limit", CpuTime, S),
        ("/memory_limit", Memory, Kb),
    ]);
    // Clamped when present, never inserted: Judge0's defaults are small.
    for (pointer, role, unit) in [
        ("/cpu_extra_time", ExtraTime, S),
        ("/stack_limit", Stack, Kb),
    ] {
        limits.push(LimitField {
            insert: false,
            ..LimitField::new(pointer, role, unit)
        });
    }
    limits
}

/// A Judge0 submission object, read once the way both the gateway and the
/// bundled runner read it, so a submission one accepts the other does too.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Judge0Submission {
    /// `language_id`.
    pub language_id: u64,
    /// `source_code`, decoded: valid UTF-8 without NUL.
    pub source_code: Vec<u8>,
    /// `stdin`, decoded (any bytes).
    pub stdin: Vec<u8>,
    /// `expected_output`, decoded, when given.
    pub expected_output: Option<Vec<u8>>,
    /// `command_line_arguments`, when given.
    pub command_line_arguments: Option<String>,
    /// `wall_time_limit`, `cpu_time_limit`, `memory_limit` in seconds and bytes
    /// (`cpu_extra_time` and `stack_limit` are checked, not reported).
    pub limits: RequestedLimits,
}

/// Reads the submission object `value` at `at` (`""` for a single
/// submission); text fields are base64 when `base64`. Refusals name the field.
pub fn read_submission(
    value: &Value,
    at: &str,
    base64: bool,
) -> Result<Judge0Submission, RequestError> {
    let fields = Fields::of(value, at)?;
    let text = |key: &str| -> Result<Option<Vec<u8>>, RequestError> {
        match fields.string(key)? {
            None => Ok(None),
            Some(s) if base64 => decode_base64(s, &fields.name(key)).map(Some),
            Some(s) => Ok(Some(s.as_bytes().to_vec())),
        }
    };
    let source_code = text("source_code")?.ok_or_else(|| fields.missing("source_code"))?;
    check_code(&source_code, &fields.name("source_code"))?;
    let language_id = fields.required_u64("language_id")?;
    let stdin = text("stdin")?.unwrap_or_default();
    let expected_output = text("expected_output")?;
    let command_line_arguments = fields.string("command_line_arguments")?.map(str::to_string);
    Ok(Judge0Submission {
        language_id,
        source_code,
        stdin,
        expected_output,
        command_line_arguments,
        limits: read_limits(&limit_fields(), value, at)?,
    })
}

/// Sets `key` of a submission object to at most `most` (to `most` when absent).
fn bound(
    map: &mut serde_json::Map<String, Value>,
    key: &str,
    most: u64,
    at: &str,
) -> Result<(), RequestError> {
    let name = || crate::read::join(at, key);
    match map.get(key) {
        None | Some(Value::Null) => {}
        Some(Value::Number(n)) => {
            let value = n.as_f64().unwrap_or(f64::INFINITY);
            if value <= 0.0 {
                return Err(RequestError::new(name(), "must be greater than 0"));
            }
            if value <= most as f64 {
                return Ok(());
            }
        }
        Some(other) => return Err(crate::read::mistyped(name(), "a number", other)),
    }
    map.insert(key.to_string(), Value::from(most));
    Ok(())
}

/// A flag in the body is read by Judge0 when the query lacks it: it may only
/// repeat what the query says (as the gateway's own forwarded body does).
fn check_body_flag(body: &Value, key: &str, from_query: bool) -> Result<(), RequestError> {
    match body.get(key) {
        None => Ok(()),
        Some(Value::String(s)) if *s == from_query.to_string() => Ok(()),
        Some(_) => Err(RequestError::new(
            key,
            format!("belongs in the query string; the body may only repeat it as \"{from_query}\""),
        )),
    }
}

/// Refuses query parameters an executing route must not carry.
fn check_execute_query(path_and_query: &str) -> Result<(), RequestError> {
    match query_names(path_and_query)
        .into_iter()
        .find(|name| !EXECUTE_QUERY.contains(&name.as_str()))
    {
        Some(name) => Err(RequestError::new(
            name,
            "is not accepted in the query string: put submission fields in the JSON body",
        )),
        None => Ok(()),
    }
}

/// Refuses, by name, query parameters Judge0 does not document for the
/// passthrough route on `path`.
fn check_passthrough_query(path_and_query: &str, path: &[&str]) -> Result<(), RequestError> {
    let allowed = passthrough_query(path);
    // Rails' other spellings of a token list (`tokens[]=`) are left to
    // `read_tokens`, which answers them like unknown tokens: a 404 that
    // says nothing about whose the tokens are.
    let token_list = |name: &str| allowed.contains(&"tokens") && name.starts_with("tokens");
    match query_names(path_and_query)
        .into_iter()
        .find(|name| !allowed.contains(&name.as_str()) && !token_list(name))
    {
        Some(name) => Err(RequestError::new(
            name,
            format!(
                "is not a query parameter of this Judge0 route (accepted: {})",
                if allowed.is_empty() {
                    "none".to_string()
                } else {
                    allowed.join(", ")
                }
            ),
        )),
        None => Ok(()),
    }
}

/// The path with a Rails format suffix (`/submissions.json`) removed.
fn without_format(segments: &[String]) -> Vec<&str> {
    let mut plain: Vec<&str> = segments.iter().map(String::as_str).collect();
    if let Some(last) = plain.last_mut() {
        *last = last.strip_suffix(".json").unwrap_or(last);
    }
    plain
}

fn matches(pattern: &[&str], path: &[&str]) -> bool {
    pattern.len() == path.len() && pattern.iter().zip(path).all(|(p, s)| *p == "{}" || p == s)
}

impl Api for Judge0 {
    fn route(&self, method: &Method, segments: &[String]) -> RouteKind {
        let path = without_format(segments);
        if *method == Method::POST {
            match path.as_slice() {
                ["submissions"] => RouteKind::Execute,
                ["submissions", "batch"] => RouteKind::ExecuteBatch,
                _ => RouteKind::Unknown,
            }
        } else if *method == Method::GET && PASSTHROUGH.iter().any(|p| matches(p, &path)) {
            RouteKind::Passthrough
        } else if *method == Method::DELETE
            && matches!(path.as_slice(), ["submissions", token] if *token != "batch")
        {
            // Deleting a result reads it too (Judge0 answers the deleted
            // submission): `read_tokens` binds it to its owner.
            RouteKind::Passthrough
        } else {
            RouteKind::Unknown
        }
    }

    /// Every passthrough path (the executing ones are among them), also with
    /// the `.json` format suffix Rails accepts.
    fn patterns(&self) -> Vec<RoutePattern> {
        PASSTHROUGH
            .iter()
            .flat_map(|path| {
                let mut suffixed: Vec<String> = path.iter().map(|s| s.to_string()).collect();
                if let Some(last) = suffixed.last_mut().filter(|last| *last != "{}") {
                    last.push_str(".json");
                }
                let suffixed: Vec<&str> = suffixed.iter().map(String::as_str).collect();
                [RoutePattern::of(path), RoutePattern::of(&suffixed)]
            })
            .collect()
    }

    /// Judge0 answers an array (batch POST), `{"submissions": […]}` (batch
    /// GET) or one submission with a `token` or `status`.
    fn answers(&self, body: &Value) -> bool {
        match body {
            Value::Array(_) => true,
            Value::Object(map) => {
                map.get("submissions").is_some_and(Value::is_array)
                    || map.get("status").is_some_and(Value::is_object)
                    || map.contains_key("status_id")
                    || map.get("token").is_some_and(Value::is_string)
            }
            _ => false,
        }
    }

    fn parse(
        &self,
        route: RouteKind,
        path_and_query: &str,
        body: &Value,
    ) -> Result<Parsed, RequestError> {
        let base64 = flag_strict(path_and_query, "base64_encoded")?;
        let wait = flag_strict(path_and_query, "wait")?;
        check_execute_query(path_and_query)?;
        check_body_flag(body, "base64_encoded", base64)?;
        check_body_flag(body, "wait", wait)?;
        let submissions = match route {
            RouteKind::ExecuteBatch => self.batch(body, base64)?,
            _ => vec![self.submission(body, "", base64)?],
        };
        Ok(Parsed {
            submissions,
            base64,
            wait,
        })
    }

    fn limits(&self) -> &[LimitField] {
        &self.limits
    }

    fn clamp(
        &self,
        request: &ExecRequest,
        body: &mut Value,
        tier: &TierLimits,
    ) -> Result<(), RequestError> {
        // Judge0 reads the flag from the merged params; stating it in the body
        // settles its config-dependent default even if the query lacks it.
        if let Value::Object(map) = body {
            let flag = if request.base64 { "true" } else { "false" };
            map.insert("base64_encoded".into(), Value::from(flag));
        }
        if request.route != RouteKind::ExecuteBatch {
            return self.clamp_one(body, "", tier);
        }
        let list = body
            .get_mut("submissions")
            .and_then(Value::as_array_mut)
            .ok_or_else(|| RequestError::new("submissions", "must be an array"))?;
        list.iter_mut()
            .enumerate()
            .try_for_each(|(i, item)| self.clamp_one(item, &index("submissions", i), tier))
    }

    fn forward_path(&self, route: RouteKind, path_and_query: &str) -> Result<String, RequestError> {
        let base64 = flag_strict(path_and_query, "base64_encoded")?;
        let segments = crate::path::segments(crate::path::path_part(path_and_query));
        if route.executes() {
            flag_strict(path_and_query, "wait")?;
            check_execute_query(path_and_query)?;
        } else {
            check_passthrough_query(path_and_query, &without_format(&segments))?;
        }
        if without_format(&segments).first() != Some(&"submissions") {
            return Ok(path_and_query.to_string());
        }
        let flag = if base64 { "true" } else { "false" };
        Ok(with_param(path_and_query, "base64_encoded", flag))
    }

    fn response_fields(
        &self,
        path_and_query: &str,
        segments: &[String],
        request: Option<&ExecRequest>,
    ) -> Vec<FieldSpec> {
        let base64 = request.map_or_else(
            || flag_lenient(path_and_query, "base64_encoded"),
            |r| r.base64,
        );
        // Shapes differ by method (a POST batch answers an array, a GET batch
        // an object); pointers that are absent match nothing, so cover both.
        let prefixes: &[&str] = match without_format(segments).as_slice() {
            ["submissions"] => &["", "/submissions/*"],
            ["submissions", "batch"] => &["/*", "/submissions/*"],
            ["submissions", _] => &[""],
            _ => &[],
        };
        // The request's own text comes back too when asked for (`?fields=`):
        // it is output as much as stdout is, and goes through the same rules.
        let fields = [
            ("stdout", FieldKind::Stdout),
            ("stderr", FieldKind::Stderr),
            ("compile_output", FieldKind::Other),
            ("message", FieldKind::Other),
            ("source_code", FieldKind::Other),
            ("stdin", FieldKind::Other),
            ("expected_output", FieldKind::Other),
        ];
        prefixes
            .iter()
            .flat_map(|prefix| {
                fields.iter().map(move |(name, kind)| FieldSpec {
                    pointer: format!("{prefix}/{name}"),
                    kind: *kind,
                    base64,
                })
            })
            .collect()
    }

    /// A single submission answers `{"token": …}` (with its result when it
    /// waited), a batch `[{"token": …}, …]`.
    fn issued_tokens(&self, body: &Value) -> Vec<String> {
        let items: Vec<&Value> = match body {
            Value::Array(list) => list.iter().collect(),
            other => vec![other],
        };
        items
            .into_iter()
            .filter_map(|item| item.get("token").and_then(Value::as_str))
            .map(str::to_string)
            .collect()
    }

    fn token_verdicts(&self, body: &Value) -> Vec<(String, Option<RunOutcome>)> {
        results(body)
            .into_iter()
            .filter_map(|item| {
                let token = item.get("token")?.as_str()?;
                Some((token.to_string(), judge0_outcome(item)))
            })
            .collect()
    }

    fn read_tokens(
        &self,
        method: &Method,
        path_and_query: &str,
        segments: &[String],
    ) -> Option<Vec<String>> {
        if *method == Method::DELETE {
            return match without_format(segments).as_slice() {
                ["submissions", token] => Some(vec![(*token).to_string()]),
                _ => None,
            };
        }
        if *method != Method::GET && *method != Method::HEAD {
            return None;
        }
        match without_format(segments).as_slice() {
            // The listing of every submission: nobody's own.
            ["submissions"] => Some(Vec::new()),
            ["submissions", "batch"] => {
                // Rails would read `tokens[]=` or `tokens[x]=` as another list.
                let other_lists = query_names(path_and_query)
                    .iter()
                    .any(|name| name != "tokens" && name.starts_with("tokens"));
                if other_lists {
                    return Some(Vec::new());
                }
                let tokens = query_value(path_and_query, "tokens").unwrap_or_default();
                Some(
                    tokens
                        .split(',')
                        .map(str::trim)
                        .filter(|t| !t.is_empty())
                        .map(str::to_string)
                        .collect(),
                )
            }
            ["submissions", token] => Some(vec![(*token).to_string()]),
            _ => None,
        }
    }

    fn verdicts(&self, body: &Value) -> Vec<RunOutcome> {
        results(body)
            .into_iter()
            .filter_map(judge0_outcome)
            .collect()
    }
}

/// The results in a response: a batch POST's array, a batch GET's
/// `submissions`, or the one result.
fn results(body: &Value) -> Vec<&Value> {
    match body {
        Value::Array(list) => list.iter().collect(),
        Value::Object(map) => match map.get("submissions").and_then(Value::as_array) {
            Some(list) => list.iter().collect(),
            None => vec![body],
        },
        _ => Vec::new(),
    }
}

/// The outcome of one result; queued and processing results have none yet.
fn judge0_outcome(result: &Value) -> Option<RunOutcome> {
    let status = result.get("status");
    let id = status
        .and_then(|s| s.get("id"))
        .or_else(|| result.get("status_id"))
        .and_then(Value::as_u64)?;
    let said = |v: Option<&Value>| v.and_then(Value::as_str).unwrap_or("").to_ascii_lowercase();
    let memory = said(result.get("message")).contains("memory")
        || said(status.and_then(|s| s.get("description"))).contains("memory");
    Some(match id {
        1 | 2 => return None,
        3 | 4 => RunOutcome::Ok,
        5 => RunOutcome::Timeout,
        6 => RunOutcome::CompileError,
        8 => RunOutcome::OutputLimit,
        7 | 9..=12 if memory => RunOutcome::MemoryKilled,
        7 | 9..=12 => RunOutcome::RuntimeError,
        _ => RunOutcome::Other,
    })
}
