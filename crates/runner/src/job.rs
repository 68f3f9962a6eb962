//! From an API request to sandbox runs: the catalog of languages present on
//! this host, limits bounded by config, and the compile → run sequence (the
//! compile stage in its own sandbox, its artifact carried to the run stage).
//! Both HTTP dialects call `Runner::execute` and only differ in their shapes.

use crate::cgroup::{CgroupLimits, CpuPriority};
use crate::config::{LanguageConfig, RunnerConfig, StageLimits};
use crate::exec::{Engine, RunLimits};
use crate::spec::{Rlimits, SandboxFile, SandboxSpec};
use crate::verdict::{Status, Verdict};
use crate::warm::WarmPool;
use serde::Serialize;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Longest a run waits for a warm sandbox before building a cold one.
const WARM_WAIT: Duration = Duration::from_secs(2);

/// A language offered by this runner (all its files are present).
#[derive(Debug, Clone)]
pub struct Language {
    /// Its config.
    pub cfg: LanguageConfig,
    /// Every host path to bind: `[sandbox].binds` then the language's.
    pub binds: Vec<PathBuf>,
}

/// The languages present on this host.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    langs: Vec<Arc<Language>>,
}

impl Catalog {
    /// Finds each configured language's program and files on this host;
    /// returns the catalog and the languages that cannot be offered, with why.
    pub fn from_config(config: &RunnerConfig) -> (Self, Vec<Skipped>) {
        let mut skipped = Vec::new();
        let mut langs = Vec::new();
        for cfg in &config.languages {
            let cfg = match crate::discover::resolve(
                cfg,
                &config.sandbox.search_path,
                &config.sandbox.binds,
            ) {
                Ok(resolved) => resolved,
                Err(reason) => {
                    skipped.push(Skipped {
                        language: cfg.name.clone(),
                        optional: cfg.optional,
                        reason,
                    });
                    continue;
                }
            };
            let binds = config
                .sandbox
                .binds
                .iter()
                .chain(&cfg.binds)
                .cloned()
                .collect();
            langs.push(Arc::new(Language { cfg, binds }));
        }
        (Self { langs }, skipped)
    }

    /// Every offered language.
    pub fn all(&self) -> &[Arc<Language>] {
        &self.langs
    }

    /// Finds by name or alias and version (`*`, exact, or prefix).
    pub fn find(&self, name: &str, version: &str) -> Option<Arc<Language>> {
        self.langs
            .iter()
            .filter(|l| l.cfg.name == name || l.cfg.aliases.iter().any(|a| a == name))
            .find(|l| version == "*" || version.is_empty() || l.cfg.version.starts_with(version))
            .cloned()
    }

    /// Finds by Judge0 language id.
    pub fn by_judge0_id(&self, id: u32) -> Option<Arc<Language>> {
        self.langs
            .iter()
            .find(|l| l.cfg.judge0_id == Some(id))
            .cloned()
    }
}

/// A configured language this host cannot offer.
#[derive(Debug, Clone)]
pub struct Skipped {
    /// Its name.
    pub language: String,
    /// `optional = true`: the runner starts without it.
    pub optional: bool,
    /// What is missing.
    pub reason: crate::discover::Unavailable,
}

/// Limits a request asks for; `None` takes the language's default.
#[derive(Debug, Clone, Copy, Default)]
pub struct Requested {
    /// Wall clock.
    pub timeout: Option<Duration>,
    /// CPU time.
    pub cpu_time: Option<Duration>,
    /// Memory in bytes.
    pub memory: Option<u64>,
}

/// One program to run.
#[derive(Debug, Clone)]
pub struct Program {
    /// The files; the first is the entry point. Names are already checked.
    pub files: Vec<(String, Vec<u8>)>,
    /// Command-line arguments.
    pub args: Vec<String>,
    /// Standard input.
    pub stdin: Vec<u8>,
    /// Limits of the run stage.
    pub run: Requested,
    /// Limits of the compile stage.
    pub compile: Requested,
}

/// The result of both stages.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The compile stage, for compiled languages.
    pub compile: Option<Verdict>,
    /// The run stage; `None` when compilation failed.
    pub run: Option<Verdict>,
}

/// A request's limit above what config allows, said in words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LimitError(pub String);

/// Runs programs: the engine, the catalog, the warm pool and the config.
pub struct Runner {
    /// The sandbox engine.
    pub engine: Arc<Engine>,
    /// Languages present.
    pub catalog: Catalog,
    /// Settings.
    pub config: Arc<RunnerConfig>,
    /// Warm sandboxes per language.
    pub warm: WarmPool,
    /// Finished runs by language and verdict, for `/metrics`.
    pub runs: RunCounts,
}

/// Finished runs by language and verdict (`OK`, `TO`, … or `CE` for a failed compile).
#[derive(Debug, Default)]
pub struct RunCounts(parking_lot::Mutex<std::collections::BTreeMap<(String, &'static str), u64>>);

impl RunCounts {
    /// Counts one run of `language` that ended `verdict`.
    pub fn record(&self, language: &str, verdict: &'static str) {
        *self
            .0
            .lock()
            .entry((language.to_string(), verdict))
            .or_default() += 1;
    }

    /// Every `(language, verdict, count)`, sorted.
    pub fn snapshot(&self) -> Vec<(String, &'static str, u64)> {
        let counts = self.0.lock();
        counts
            .iter()
            .map(|((l, v), n)| (l.clone(), *v, *n))
            .collect()
    }
}

fn bounded(
    what: &str,
    asked: Option<Duration>,
    default: Duration,
    max: Duration,
) -> Result<Duration, LimitError> {
    match asked {
        Some(d) if d > max => Err(LimitError(format!(
            "{what} cannot exceed the configured limit of {} ms",
            max.as_millis()
        ))),
        Some(d) if d.is_zero() => Err(LimitError(format!("{what} must be positive"))),
        Some(d) => Ok(d),
        None => Ok(default),
    }
}

impl Runner {
    /// The limits of one stage: request within bounds, else the language's default.
    pub fn limits(
        &self,
        prefix: &str,
        asked: Requested,
        default: StageLimits,
    ) -> Result<RunLimits, LimitError> {
        let bounds = &self.config.limits;
        let wall = bounded(
            &format!("{prefix}_timeout"),
            asked.timeout,
            default.timeout.get(),
            bounds.max_timeout.get(),
        )?;
        let cpu = bounded(
            &format!("{prefix}_cpu_time"),
            asked.cpu_time,
            default.cpu_time.get(),
            bounds.max_cpu_time.get(),
        )?;
        let memory = match asked.memory {
            Some(m) if m > bounds.max_memory.bytes() => {
                let max = bounds.max_memory.bytes();
                return Err(LimitError(format!(
                    "{prefix}_memory_limit cannot exceed the configured limit of {max} bytes"
                )));
            }
            Some(m) if m < (1 << 20) => {
                return Err(LimitError(format!(
                    "{prefix}_memory_limit must be at least 1 MiB"
                )));
            }
            Some(m) => m,
            None => default.memory.bytes(),
        };
        let sandbox = &self.config.sandbox;
        Ok(RunLimits {
            wall,
            cpu,
            cgroup: CgroupLimits {
                memory_bytes: Some(memory),
                pids: Some(sandbox.processes),
                cpu_millis: Some((sandbox.cpus * 1000.0) as u64),
                priority: CpuPriority::Normal,
            },
            output_max: sandbox.output_max.as_usize(),
        })
    }

    /// A sandbox spec for `lang` running `argv` with `files` in `/tmp`.
    pub fn spec(
        &self,
        lang: &Language,
        argv: Vec<String>,
        files: Vec<SandboxFile>,
        cpu: Duration,
    ) -> SandboxSpec {
        let sandbox = &self.config.sandbox;
        let env = vec![
            ("PATH".to_string(), sandbox.path.clone()),
            ("HOME".to_string(), "/tmp".to_string()),
            ("LANG".to_string(), "C.UTF-8".to_string()),
        ];
        SandboxSpec {
            argv,
            env,
            binds: lang.binds.clone(),
            files,
            tmp_bytes: sandbox.tmp_size.bytes(),
            tmp_inodes: sandbox.tmp_inodes,
            shm_bytes: sandbox.shm_size.bytes(),
            rlimits: Rlimits {
                cpu_secs: Some(Rlimits::cpu_backstop(cpu)),
                address_space: lang.cfg.address_space.map(|b| b.bytes()),
                nproc: Some(sandbox.processes),
                nofile: Some(sandbox.open_files),
                fsize: Some(sandbox.file_size.bytes()),
                stack: Some(sandbox.stack.bytes()),
            },
            cgroup_procs: Vec::new(),
            host_id_base: self.config.host_id_base,
            warm: false,
            collect: None,
            collect_max_bytes: sandbox.artifact_max.bytes(),
        }
    }

    /// Runs `program` in `lang`: compile (if any) in one sandbox, run in another.
    pub async fn execute(
        &self,
        lang: &Arc<Language>,
        program: Program,
    ) -> Result<Outcome, LimitError> {
        let run_limits = self.limits("run", program.run, lang.cfg.run_limits)?;
        let compile_limits = self.limits("compile", program.compile, lang.cfg.compile_limits)?;
        let files: Vec<SandboxFile> = program
            .files
            .iter()
            .map(|(name, content)| SandboxFile {
                name: name.clone(),
                content: content.clone(),
                executable: false,
            })
            .collect();
        let (compile, run_files) = match (&lang.cfg.compile, &lang.cfg.artifact) {
            (Some(cmd), Some(artifact)) => {
                let names: Vec<String> = program.files.iter().map(|f| f.0.clone()).collect();
                let argv = expand(cmd, &names, &[]);
                let mut spec = self.spec(lang, argv, files, compile_limits.cpu);
                spec.collect = Some(artifact.clone());
                let mut verdict = self.engine.run(spec, compile_limits, Vec::new()).await;
                let Some(bytes) = verdict
                    .artifact
                    .take()
                    .filter(|_| verdict.status == Status::Ok)
                else {
                    self.runs.record(&lang.cfg.name, "CE");
                    return Ok(Outcome {
                        compile: Some(verdict),
                        run: None,
                    });
                };
                let exe = SandboxFile {
                    name: artifact.clone(),
                    content: bytes,
                    executable: true,
                };
                (Some(verdict), vec![exe])
            }
            _ => (None, files),
        };
        let names: Vec<String> = run_files.iter().map(|f| f.name.clone()).collect();
        let argv = expand(&lang.cfg.run, &names, &program.args);
        let run = self
            .run_stage(lang, argv, run_files, run_limits, program.stdin)
            .await;
        self.runs.record(&lang.cfg.name, run.status.as_str());
        Ok(Outcome {
            compile,
            run: Some(run),
        })
    }

    /// The run stage: a warm sandbox when one is ready, else a cold one.
    async fn run_stage(
        &self,
        lang: &Arc<Language>,
        argv: Vec<String>,
        files: Vec<SandboxFile>,
        limits: RunLimits,
        stdin: Vec<u8>,
    ) -> Verdict {
        let warm = self.warm.take_or_wait(&lang.cfg.name, WARM_WAIT).await;
        let claimed = warm.filter(|w| match w.claim(&limits) {
            Ok(()) => true,
            Err(e) => {
                tracing::warn!(error = %e, "warm sandbox refused the request's limits; running cold");
                false
            }
        });
        if let Some(warm) = claimed {
            let payload = crate::warm::payload(&files, argv.get(1..).unwrap_or_default());
            let mut verdict = warm.finish(limits, stdin, Some(payload)).await;
            verdict.start = crate::verdict::Start::Warm;
            return verdict;
        }
        let spec = self.spec(lang, argv, files, limits.cpu);
        self.engine.run(spec, limits, stdin).await
    }
}

/// Expands `{entry}` (first file), `{files}` (all files) and `{args}` in a command.
pub fn expand(cmd: &[String], files: &[String], args: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    for word in cmd {
        match word.as_str() {
            "{files}" => out.extend(files.iter().cloned()),
            "{args}" => out.extend(args.iter().cloned()),
            "{entry}" => out.extend(files.first().cloned()),
            _ => out.push(word.clone()),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expand_places_entry_files_and_args() {
        let cmd: Vec<String> = ["/usr/bin/python3", "{entry}", "{args}"]
            .map(String::from)
            .to_vec();
        let files = vec!["main.py".to_string(), "lib.py".to_string()];
        let args = vec!["a b".to_string(), "c".to_string()];
        assert_eq!(
            expand(&cmd, &files, &args),
            ["/usr/bin/python3", "main.py", "a b", "c"]
        );
        let gcc: Vec<String> = ["gcc", "{files}"].map(String::from).to_vec();
        assert_eq!(expand(&gcc, &files, &args), ["gcc", "main.py", "lib.py"]);
    }
}
