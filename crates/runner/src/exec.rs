//! The runner's side of one sandbox: make its cgroup, start the helper with
//! the spec, wait for the program to start, then feed stdin, read stdout and
//! stderr under caps, and watch CPU and wall clock every few milliseconds.
//! Any limit crossed kills the helper, whose death kills the sandbox's init
//! and with it the whole pid namespace. The cgroup is removed at the end.

use crate::cgroup::{CgroupHost, CgroupLimits, CpuPriority, RunCgroup};
use crate::sandbox::rlimit;
use crate::spec::{Event, Rlimits, SandboxSpec};
use crate::verdict::{Observed, Start, Status, Verdict, classify};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::unix::pipe;
use tokio::process::{Child, ChildStderr, ChildStdin, ChildStdout, Command};

/// How often CPU time and the wall clock are checked (precision of the limits).
const TICK: Duration = Duration::from_millis(10);
/// Longest a sandbox may take to start its program.
const START_TIMEOUT: Duration = Duration::from_secs(20);
/// How long output pipes may stay open after the sandbox is gone.
const DRAIN_GRACE: Duration = Duration::from_millis(500);
/// How long the helper gets to tear the sandbox down before it is SIGKILLed.
const STOP_GRACE: Duration = Duration::from_secs(2);
/// Most cold-run helpers kept exec'd and waiting for their spec.
const IDLE_HELPERS: usize = 4;

/// Limits of one stage, already bounded by config.
#[derive(Debug, Clone, Copy)]
pub struct RunLimits {
    /// Wall-clock limit.
    pub wall: Duration,
    /// CPU-time limit of all processes together.
    pub cpu: Duration,
    /// Cgroup caps (memory, pids, CPU bandwidth).
    pub cgroup: CgroupLimits,
    /// Cap on stdout and on stderr.
    pub output_max: usize,
}

/// Starts sandboxes: knows the helper binary and the cgroup hierarchy.
pub struct Engine {
    helper: PathBuf,
    helper_args: Vec<String>,
    cgroups: CgroupHost,
    next_id: AtomicU64,
    /// Helpers already exec'd (binary loaded, linked) and blocked reading their
    /// spec: a cold run takes one instead of waiting for the exec. They hold
    /// no sandbox yet; each is used once. Their pipes belong to the async
    /// runtime that started them, whose id is kept with them.
    idle: parking_lot::Mutex<Vec<(tokio::runtime::Id, Started, pipe::Sender)>>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("helper", &self.helper)
            .field("cgroups", &self.cgroups)
            .field("idle_helpers", &self.idle.lock().len())
            .finish_non_exhaustive()
    }
}

/// A sandbox whose program has started (cold) or is waiting for its payload (warm).
pub struct Started {
    child: Child,
    events: BufReader<pipe::Receiver>,
    stdin: Option<ChildStdin>,
    stdout: ChildStdout,
    stderr: ChildStderr,
    payload: Option<pipe::Sender>,
    cgroup: CgroupGuard,
    /// The limits it was built with.
    built: Option<RunLimits>,
}

/// Removes the run's cgroup when dropped on an unusual path (warm sandbox discarded).
struct CgroupGuard(Option<RunCgroup>);

impl Drop for CgroupGuard {
    fn drop(&mut self) {
        if let Some(cg) = self.0.take() {
            std::thread::spawn(move || cg.cleanup());
        }
    }
}

impl CgroupGuard {
    fn get(&self) -> Option<&RunCgroup> {
        self.0.as_ref()
    }
}

/// A pipe as (read, write) owned fds, both close-on-exec.
fn pipe_pair() -> std::io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0i32; 2];
    // SAFETY: pipe2 fills the local array with two new fds we then own.
    let ret = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) };
    if ret < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: both fds were just created and are owned by nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// Serialises helper spawns: the helper's fds are inheritable only between
/// `spawn_inheriting` clearing close-on-exec and closing them, under this lock,
/// so no other spawn of this process can pick them up.
static SPAWN_LOCK: parking_lot::Mutex<()> = parking_lot::Mutex::new(());

/// Spawns `cmd` with `fds` inherited (their numbers are on its command line),
/// then closes them here. Without a `pre_exec` hook the spawn goes through
/// `posix_spawn` (vfork-style): the multi-threaded runner's address space is
/// neither copied nor marked copy-on-write, which made every spawn (and every
/// write the runner did afterwards) pay page faults.
fn spawn_inheriting(cmd: &mut Command, fds: Vec<OwnedFd>) -> std::io::Result<Child> {
    let _serial = SPAWN_LOCK.lock();
    for fd in &fds {
        // SAFETY: fcntl on an fd we own; only its close-on-exec flag changes.
        if unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFD, 0) } < 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    let child = cmd.spawn();
    drop(fds);
    child
}

impl Engine {
    /// An engine running `helper helper_args…` as the sandbox helper.
    pub fn new(helper: PathBuf, helper_args: Vec<String>, cgroups: CgroupHost) -> Self {
        Self {
            helper,
            helper_args,
            cgroups,
            next_id: AtomicU64::new(0),
            idle: parking_lot::Mutex::new(Vec::new()),
        }
    }

    /// Runs one stage cold: start, feed stdin, watch, verdict.
    pub async fn run(&self, spec: SandboxSpec, limits: RunLimits, stdin: Vec<u8>) -> Verdict {
        match self.start(spec, limits).await {
            Ok(started) => started.finish(limits, stdin, None).await,
            Err(verdict) => verdict,
        }
    }

    /// Builds a sandbox and waits until its program is exec'd.
    pub async fn start(
        &self,
        mut spec: SandboxSpec,
        limits: RunLimits,
    ) -> Result<Started, Verdict> {
        let id = format!(
            "{}-{}",
            std::process::id(),
            self.next_id.fetch_add(1, Ordering::Relaxed)
        );
        let cgroup = self.cgroups.run_cgroup(&id);
        spec.cgroup_procs = cgroup.procs_files();
        let spec_json =
            serde_json::to_vec(&spec).map_err(|e| Verdict::internal(format!("spec: {e}")))?;
        // The helper starts (exec, dynamic linking) while the cgroup is made;
        // it joins the cgroup only after reading the spec, sent once it exists.
        let (mut started, spec_tx) = match self.take_idle(spec.warm) {
            Some(idle) => idle,
            None => self
                .spawn(spec.warm)
                .map_err(|e| Verdict::internal(format!("helper: {e}")))?,
        };
        if let Err(e) = cgroup.create(limits.cgroup) {
            return Err(started.abort(format!("cgroup: {e}")).await);
        }
        started.cgroup = CgroupGuard(Some(cgroup));
        started.built = Some(limits);
        if let Err(e) = send_spec(spec_tx, &spec_json).await {
            return Err(started.abort(format!("helper: {e}")).await);
        }
        match tokio::time::timeout(START_TIMEOUT, started.wait_started()).await {
            Ok(Ok(())) => {
                // The program runs: ready the next cold run's helper meanwhile.
                if !spec.warm {
                    self.add_idle();
                }
                Ok(started)
            }
            Ok(Err(detail)) => Err(started.abort(detail).await),
            Err(_) => Err(started.abort("sandbox start timed out".into()).await),
        }
    }

    /// A live idle helper of this runtime for a cold run (warm sandboxes
    /// need a payload pipe); those of other runtimes are dropped (killed).
    fn take_idle(&self, warm: bool) -> Option<(Started, pipe::Sender)> {
        let runtime = tokio::runtime::Handle::try_current().ok()?.id();
        if warm {
            return None;
        }
        let mut idle = self.idle.lock();
        while let Some((id, mut started, spec_tx)) = idle.pop() {
            if id == runtime && started.is_alive() {
                return Some((started, spec_tx));
            }
        }
        None
    }

    /// Starts one more idle helper unless enough are waiting.
    fn add_idle(&self) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        if self.idle.lock().len() >= IDLE_HELPERS {
            return;
        }
        match self.spawn(false) {
            Ok((started, spec_tx)) => self.idle.lock().push((runtime.id(), started, spec_tx)),
            Err(e) => tracing::warn!(error = %e, "cannot start an idle sandbox helper"),
        }
    }

    /// Starts a helper; returns it and the pipe its spec goes into.
    fn spawn(&self, warm: bool) -> std::io::Result<(Started, pipe::Sender)> {
        let (ev_r, ev_w) = pipe_pair()?;
        let (spec_r, spec_w) = pipe_pair()?;
        let payload = if warm { Some(pipe_pair()?) } else { None };
        let mut cmd = Command::new(&self.helper);
        cmd.args(&self.helper_args)
            .arg(ev_w.as_raw_fd().to_string())
            .arg(spec_r.as_raw_fd().to_string())
            .env_clear()
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut inherited = vec![ev_w, spec_r];
        let payload = match payload {
            Some((r, w)) => {
                cmd.arg(r.as_raw_fd().to_string());
                inherited.push(r);
                Some(w)
            }
            None => None,
        };
        let mut child = spawn_inheriting(&mut cmd, inherited)?;
        let payload = payload.map(pipe::Sender::from_owned_fd).transpose()?;
        let missing = || std::io::Error::other("helper pipes missing");
        let started = Started {
            events: BufReader::new(pipe::Receiver::from_owned_fd(ev_r)?),
            stdin: child.stdin.take(),
            stdout: child.stdout.take().ok_or_else(missing)?,
            stderr: child.stderr.take().ok_or_else(missing)?,
            child,
            payload,
            cgroup: CgroupGuard(None),
            built: None,
        };
        Ok((started, pipe::Sender::from_owned_fd(spec_w)?))
    }
}

/// Writes the spec and closes the pipe (the helper reads to EOF).
async fn send_spec(mut tx: pipe::Sender, spec_json: &[u8]) -> std::io::Result<()> {
    tx.write_all(spec_json).await
}

/// Reads one event line; `None` at EOF or on garbage.
async fn next_event(events: &mut BufReader<pipe::Receiver>) -> Option<Event> {
    let mut line = Vec::new();
    match events.read_until(b'\n', &mut line).await {
        Ok(0) | Err(_) => None,
        Ok(_) => serde_json::from_slice(&line).ok(),
    }
}

/// Reads a stream to EOF keeping at most `cap` bytes; true when it went over.
async fn read_capped<R: AsyncRead + Unpin>(mut r: R, cap: usize) -> (Vec<u8>, bool) {
    let mut buf = Vec::new();
    let mut chunk = vec![0u8; 16 * 1024];
    loop {
        match r.read(&mut chunk).await {
            Ok(0) | Err(_) => return (buf, false),
            Ok(n) => {
                let room = cap - buf.len();
                if n > room {
                    buf.extend_from_slice(&chunk[..room]);
                    return (buf, true);
                }
                buf.extend_from_slice(&chunk[..n]);
            }
        }
    }
}

/// Writes the warm payload, then stdin, then closes both; errors (the program quit) are ignored.
async fn feed(payload: Option<(pipe::Sender, Vec<u8>)>, stdin: Option<(ChildStdin, Vec<u8>)>) {
    if let Some((mut tx, bytes)) = payload {
        let _ = tx.write_all(&bytes).await;
    }
    if let Some((mut tx, bytes)) = stdin {
        let _ = tx.write_all(&bytes).await;
    }
}

impl Started {
    async fn wait_started(&mut self) -> Result<(), String> {
        loop {
            match next_event(&mut self.events).await {
                Some(Event::Started) => return Ok(()),
                Some(Event::Cloned { .. }) => continue,
                Some(Event::Failed {
                    step,
                    errno,
                    detail,
                }) => {
                    let reason = std::io::Error::from_raw_os_error(errno);
                    return Err(format!(
                        "sandbox setup failed at {step}: {detail}: {reason}"
                    ));
                }
                Some(other) => return Err(format!("unexpected event {other:?}")),
                None => return Err("sandbox helper exited during setup".into()),
            }
        }
    }

    async fn abort(mut self, detail: String) -> Verdict {
        self.stop().await;
        self.cleanup().await;
        Verdict::internal(detail)
    }

    /// Asks the helper to tear the sandbox down (SIGTERM), SIGKILL after a grace.
    async fn stop(&mut self) {
        if let Some(pid) = self.child.id() {
            // SAFETY: kill(2) on our own child, not yet reaped (id() is Some).
            unsafe { libc::kill(pid as i32, libc::SIGTERM) };
        }
        if tokio::time::timeout(STOP_GRACE, self.child.wait())
            .await
            .is_err()
        {
            let _ = self.child.start_kill();
            let _ = self.child.wait().await;
        }
    }

    /// After the verdict: let the helper finish (or stop it), then remove the cgroup.
    async fn teardown(mut self) {
        let events = &mut self.events;
        let finished = tokio::time::timeout(STOP_GRACE, async {
            while next_event(events).await.is_some() {}
        });
        if finished.await.is_err() {
            self.stop().await;
        }
        let _ = self.child.wait().await;
        self.cleanup().await;
    }

    async fn cleanup(&mut self) {
        if let Some(cg) = self.cgroup.0.take() {
            let _ = tokio::task::spawn_blocking(move || cg.cleanup()).await;
        }
    }

    /// True while the helper (and so the sandbox) is still there.
    pub fn is_alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Readies a warm sandbox for a request before its payload goes in: the
    /// request's memory cap and CPU backstop where they differ from those it
    /// was built with (the backstop only ever goes down: see
    /// `rlimit::lower_cpu`), and the normal CPU weight it was built without.
    pub fn claim(&self, limits: &RunLimits) -> std::io::Result<()> {
        let (Some(cg), Some(built)) = (self.cgroup.get(), self.built) else {
            return Ok(());
        };
        if let Some(bytes) = limits.cgroup.memory_bytes {
            cg.set_memory(built.cgroup.memory_bytes.unwrap_or(u64::MAX), bytes)?;
        }
        let backstop = Rlimits::cpu_backstop(limits.cpu);
        if backstop != Rlimits::cpu_backstop(built.cpu) {
            rlimit::lower_cpu(&cg.pids(), backstop)?;
        }
        cg.set_priority(CpuPriority::Normal)
    }

    /// The run's CPU weight as the cgroup has it (`None` if unreadable).
    pub fn cpu_priority(&self) -> Option<CpuPriority> {
        self.cgroup.get().and_then(RunCgroup::priority)
    }

    /// Feeds the program (payload for warm sandboxes, then stdin) and watches it to the end.
    pub async fn finish(
        mut self,
        limits: RunLimits,
        stdin: Vec<u8>,
        payload: Option<Vec<u8>>,
    ) -> Verdict {
        let cpu0 = self.cgroup.get().map_or(0, RunCgroup::cpu_ns);
        let t0 = Instant::now();
        let payload = self.payload.take().zip(payload);
        tokio::spawn(feed(payload, self.stdin.take().map(|s| (s, stdin))));
        let mut watch = Watch::new(t0, cpu0, limits);
        let (stdout, stderr) = self.watch(&mut watch, limits.output_max).await;
        let mut verdict = self.measure(&mut watch);
        verdict.stdout = stdout;
        verdict.stderr = stderr;
        // Every process of the run is dead by now; the init's exit, the
        // namespaces' teardown and the cgroup's removal happen off the
        // critical path.
        tokio::spawn(self.teardown());
        verdict
    }

    /// The select loop: events, both outputs, and the limit clock.
    async fn watch(&mut self, w: &mut Watch, cap: usize) -> (Vec<u8>, Vec<u8>) {
        let mut out_fut = Box::pin(read_capped(&mut self.stdout, cap));
        let mut err_fut = Box::pin(read_capped(&mut self.stderr, cap));
        let (mut out, mut err) = (None, None);
        let mut events_done = false;
        let mut drain_deadline = None;
        loop {
            let tick = tokio::time::sleep(TICK);
            tokio::select! {
                r = &mut out_fut, if out.is_none() => {
                    if r.1 { w.kill(&mut self.child, self.cgroup.get(), Status::StdoutLimit); }
                    out = Some(r.0);
                }
                r = &mut err_fut, if err.is_none() => {
                    if r.1 { w.kill(&mut self.child, self.cgroup.get(), Status::StderrLimit); }
                    err = Some(r.0);
                }
                ev = next_event(&mut self.events), if !events_done => match ev {
                    Some(ev) => w.on_event(ev),
                    None => {
                        events_done = true;
                        w.end.get_or_insert_with(Instant::now);
                        drain_deadline = Some(Instant::now() + DRAIN_GRACE);
                    }
                },
                () = tick => {
                    let cgroup = self.cgroup.get();
                    let cpu = cgroup.map_or(0, RunCgroup::cpu_ns);
                    w.check_clock(&mut self.child, cgroup, cpu);
                }
            }
            // The init reports Exited only after killing and reaping every
            // other process of the namespace; a killed run is over when the
            // helper is gone (events EOF).
            let proven_dead = events_done || (w.seen.exit.is_some() && w.seen.killed_for.is_none());
            if proven_dead && drain_deadline.is_none() {
                drain_deadline = Some(Instant::now() + DRAIN_GRACE);
            }
            let drained = out.is_some() && err.is_some();
            let late = drain_deadline.is_some_and(|d| Instant::now() > d);
            if proven_dead && (drained || late) {
                break;
            }
        }
        (out.unwrap_or_default(), err.unwrap_or_default())
    }

    /// Reads the cgroup's numbers, removes it, and decides the status.
    fn measure(&mut self, w: &mut Watch) -> Verdict {
        let (cpu_ns, peak, ooms) = match self.cgroup.get() {
            Some(cg) => (
                cg.cpu_ns().saturating_sub(w.cpu0),
                cg.peak_memory(),
                cg.oom_kills(),
            ),
            None => (0, 0, 0),
        };
        let end = w.end.unwrap_or_else(Instant::now);
        let wall = end.duration_since(w.t0);
        let cpu = Duration::from_nanos(cpu_ns);
        w.seen.oom_kills = ooms;
        w.seen.over_time = wall > w.limits.wall || cpu > w.limits.cpu;
        Verdict {
            status: classify(&w.seen),
            code: w.seen.exit.and_then(|e| e.0),
            signal: w.seen.exit.and_then(|e| e.1),
            stdout: Vec::new(),
            stderr: Vec::new(),
            wall,
            cpu,
            memory_bytes: peak,
            detail: w.seen.setup_failure.clone(),
            artifact: w.artifact.take(),
            start: Start::Cold,
        }
    }
}

/// State of one watched run.
struct Watch {
    t0: Instant,
    cpu0: u64,
    limits: RunLimits,
    end: Option<Instant>,
    seen: Observed,
    artifact: Option<Vec<u8>>,
    stop_sent: Option<Instant>,
}

impl Watch {
    fn new(t0: Instant, cpu0: u64, limits: RunLimits) -> Self {
        Self {
            t0,
            cpu0,
            limits,
            end: None,
            seen: Observed::default(),
            artifact: None,
            stop_sent: None,
        }
    }

    /// Stops the run: SIGKILL to every process of its cgroup at once (the
    /// program stops using CPU now, not when the helper next gets a CPU on a
    /// busy host), and SIGTERM asks the helper to kill the init and reap it
    /// (the whole pid namespace dies with it); the helper gets SIGKILL after
    /// `STOP_GRACE`.
    fn kill(&mut self, child: &mut Child, cgroup: Option<&RunCgroup>, reason: Status) {
        if self.seen.killed_for.is_none() && self.seen.exit.is_none() {
            self.seen.killed_for = Some(reason);
            self.end = Some(Instant::now());
        }
        if self.stop_sent.is_none() {
            self.stop_sent = Some(Instant::now());
            if let Some(cg) = cgroup {
                cg.kill_all();
            }
            if let Some(pid) = child.id() {
                // SAFETY: kill(2) on our own child, not yet reaped (id() is Some).
                unsafe { libc::kill(pid as i32, libc::SIGTERM) };
            }
        }
    }

    fn on_event(&mut self, event: Event) {
        match event {
            Event::Exited { code, signal } => {
                self.end.get_or_insert_with(Instant::now);
                self.seen.exit = Some((code, signal));
            }
            Event::Artifact { content } => self.artifact = Some(content),
            Event::Failed {
                step,
                detail,
                errno,
            } => {
                let reason = std::io::Error::from_raw_os_error(errno);
                self.seen.setup_failure = Some(format!("{step}: {detail}: {reason}"));
            }
            Event::Cloned { .. } | Event::Started => {}
        }
    }

    fn check_clock(&mut self, child: &mut Child, cgroup: Option<&RunCgroup>, cpu_ns: u64) {
        if self.stop_sent.is_some_and(|at| at.elapsed() > STOP_GRACE) {
            let _ = child.start_kill();
        }
        if self.seen.exit.is_some() || self.seen.killed_for.is_some() {
            return;
        }
        let cpu = Duration::from_nanos(cpu_ns.saturating_sub(self.cpu0));
        if self.t0.elapsed() > self.limits.wall || cpu > self.limits.cpu {
            self.kill(child, cgroup, Status::TimedOut);
        }
    }
}
