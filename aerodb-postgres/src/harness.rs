//! PostgreSQL servers this process starts, on loopback ports under one directory, for examples
//! and tests: `initdb`, `pg_basebackup`, `pg_rewind`, start, SIGKILL, stop.
//!
//! The server programs come from Debian's `postgresql` package (`/usr/lib/postgresql/N/bin`,
//! the newest `N`), or from `AERODB_PG_BINDIR`. PostgreSQL refuses to run as root, so a root
//! process runs them as the package's `postgres` user and hands it the directory. Every server
//! is stopped when its [`Server`] is dropped, and "stopped" means every process of it is gone
//! ([`crate::procs`]). With [`stop_all_on_signals`], SIGTERM and SIGINT stop every
//! server and program this process started, remove the directories given to
//! [`remove_on_signal`], and only then end the process: nothing outlives it.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, TcpListener};
use std::os::unix::fs::{OpenOptionsExt, chown, fchown};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use postgres::{Client, NoTls};
use rustix::fs::OFlags;
use rustix::process::{Pid, Signal, geteuid, kill_process, kill_process_group};
use signal_hook::consts::{SIGINT, SIGTERM};

use crate::procs::{self, ProcessId};

/// The environment variable naming a directory of PostgreSQL server programs.
pub const BINDIR_VAR: &str = "AERODB_PG_BINDIR";

/// How long a server may take to accept connections, or to stop.
const STARTUP_LIMIT: Duration = Duration::from_secs(60);
const STOP_LIMIT: Duration = Duration::from_secs(60);
const POLL: Duration = Duration::from_millis(50);

/// Why a local server could not be set up, started or stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LocalError {
    /// No PostgreSQL server programs were found.
    #[error(
        "PostgreSQL server programs not found in {searched}: install Debian's postgresql package \
         (apt-get install postgresql) or set {BINDIR_VAR} to a directory holding initdb and postgres"
    )]
    NotInstalled {
        /// Where they were looked for.
        searched: String,
    },
    /// Running as root, but there is no `postgres` user to run the server programs as.
    #[error("running as root, and PostgreSQL refuses to: no `postgres` user to run it as ({0})")]
    NoServerUser(String),
    /// A file operation failed.
    #[error("{what} {path}: {error}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// The path concerned.
        path: PathBuf,
        /// The failure.
        error: io::Error,
    },
    /// A server program failed.
    #[error("{program} failed ({status}):\n{output}")]
    Program {
        /// The program.
        program: String,
        /// Its exit status.
        status: String,
        /// What it printed.
        output: String,
    },
    /// A server exited or did not accept connections in time; the end of its log.
    #[error("server {name} {problem}; the end of its log {log}:\n{tail}")]
    Server {
        /// The server.
        name: String,
        /// What went wrong.
        problem: String,
        /// Its log file.
        log: PathBuf,
        /// The log's last lines.
        tail: String,
    },
    /// A query failed.
    #[error("server {name}: {error}")]
    Query {
        /// The server.
        name: String,
        /// The failure.
        error: postgres::Error,
    },
    /// A deployment did not reach a state, or a step of it failed.
    #[error("gave up: {what}")]
    Gave {
        /// What did not happen.
        what: String,
    },
    /// A signal is stopping every server of this process: nothing new is started.
    #[error("not starting {program}: a signal is stopping every server of this process")]
    ShuttingDown {
        /// What was not started.
        program: String,
    },
}

fn io_error<'a>(what: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> LocalError + 'a {
    move |error| LocalError::Io { what, path: path.to_owned(), error }
}

/// The server programs and the user they run as.
#[derive(Debug, Clone)]
pub struct Programs {
    bindir: PathBuf,
    /// `(uid, gid)` of the `postgres` user when this process is root.
    user: Option<(u32, u32)>,
}

impl Programs {
    /// Finds the server programs ([`BINDIR_VAR`], else Debian's newest) and, when root, the
    /// `postgres` user.
    pub fn locate() -> Result<Programs, LocalError> {
        let bindir = match std::env::var_os(BINDIR_VAR) {
            Some(dir) => PathBuf::from(dir),
            None => newest_debian_bindir().ok_or_else(|| LocalError::NotInstalled {
                searched: "/usr/lib/postgresql/*/bin".to_owned(),
            })?,
        };
        if !bindir.join("postgres").is_file() || !bindir.join("initdb").is_file() {
            return Err(LocalError::NotInstalled { searched: bindir.display().to_string() });
        }
        let user = if geteuid().is_root() { Some(postgres_user()?) } else { None };
        Ok(Programs { bindir, user })
    }

    /// The directory holding the programs.
    pub fn bindir(&self) -> &Path {
        &self.bindir
    }

    /// `program` from the server's directory, as the server's user, in `dir`, with a plain C
    /// locale and none of libpq's `PG*` variables leaking in.
    fn command(&self, program: &str, dir: &Path) -> Command {
        crate::control::server_program(&self.bindir, program, dir, self.user)
    }

    /// Runs `command` to completion; its output is the error when it fails.
    /// It runs in a process group of its own, registered so a signal stops it
    /// ([`stop_all_on_signals`]).
    fn run(&self, mut command: Command) -> Result<String, LocalError> {
        let program = command.get_program().to_string_lossy().into_owned();
        command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
        let (child, id) = spawn_registered(&mut command, Path::new(&program))?;
        let output = child.wait_with_output();
        registry().forget(id);
        let output = output.map_err(|error| LocalError::Io {
            what: "could not run",
            path: program.clone().into(),
            error,
        })?;
        crate::control::printed(&output).map_err(|text| LocalError::Program {
            program,
            status: output.status.to_string(),
            output: text,
        })
    }

    /// Gives `path` to the server's user (nothing to do unless root).
    fn give(&self, path: &Path) -> Result<(), LocalError> {
        match self.user {
            Some((uid, gid)) => chown(path, Some(uid), Some(gid)).map_err(io_error("could not chown", path)),
            None => Ok(()),
        }
    }

    /// Gives the open `file` to the server's user: the file itself, whatever its path now names.
    fn give_file(&self, file: &File, path: &Path) -> Result<(), LocalError> {
        match self.user {
            Some((uid, gid)) => fchown(file, Some(uid), Some(gid)).map_err(io_error("could not chown", path)),
            None => Ok(()),
        }
    }
}

/// Opens `path`, never through a symbolic link. The site's directories belong to the server's
/// user; a root process that followed a link planted there would write, create, chown or read
/// any file of the machine on that user's behalf.
fn open_no_follow(options: &mut OpenOptions, path: &Path) -> Result<File, LocalError> {
    options
        .custom_flags(OFlags::NOFOLLOW.bits() as i32)
        .open(path)
        .map_err(io_error("could not open (a symbolic link is refused)", path))
}

fn newest_debian_bindir() -> Option<PathBuf> {
    let versions = fs::read_dir("/usr/lib/postgresql").ok()?;
    versions
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let version: u32 = entry.file_name().to_str()?.parse().ok()?;
            let bindir = entry.path().join("bin");
            bindir.join("postgres").is_file().then_some((version, bindir))
        })
        .max_by_key(|(version, _)| *version)
        .map(|(_, bindir)| bindir)
}

/// The `postgres` user's uid and gid, as the system's `id` reports them.
fn postgres_user() -> Result<(u32, u32), LocalError> {
    let id = |flag: &str| -> Result<u32, LocalError> {
        let output = Command::new("id")
            .args([flag, "postgres"])
            .output()
            .map_err(|e| LocalError::NoServerUser(e.to_string()))?;
        let text = String::from_utf8_lossy(&output.stdout);
        text.trim()
            .parse()
            .map_err(|_| LocalError::NoServerUser(String::from_utf8_lossy(&output.stderr).trim().to_owned()))
    };
    Ok((id("-u")?, id("-g")?))
}

/// A free loopback port, as the kernel hands it out.
pub fn free_port() -> Result<u16, LocalError> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .map_err(io_error("could not bind", Path::new("127.0.0.1:0")))?;
    listener.local_addr().map(|a| a.port()).map_err(io_error("could not read", Path::new("127.0.0.1:0")))
}

/// A directory holding local servers' data directories and logs, handed to the server's user.
#[derive(Debug, Clone)]
pub struct Site {
    programs: Programs,
    root: PathBuf,
}

impl Site {
    /// Servers under `root`, which must exist and be empty: it is given to the server's user,
    /// so a directory holding anything else is refused.
    pub fn new(programs: Programs, root: &Path) -> Result<Site, LocalError> {
        let mut entries = fs::read_dir(root).map_err(io_error("could not read", root))?;
        if entries.next().is_some() {
            return Err(LocalError::Io {
                what: "refusing to hand over a directory that is not empty:",
                path: root.to_owned(),
                error: io::ErrorKind::DirectoryNotEmpty.into(),
            });
        }
        programs.give(root)?;
        Ok(Site { programs, root: root.to_owned() })
    }

    /// The server programs.
    pub fn programs(&self) -> &Programs {
        &self.programs
    }

    fn server(&self, name: &str, port: u16) -> Server {
        Server {
            name: name.to_owned(),
            data: self.root.join(name),
            log: self.root.join(format!("{name}.log")),
            port,
            site: self.clone(),
            child: None,
            postmaster: None,
        }
    }

    /// A new primary `name` (`initdb` with data checksums, so `pg_rewind` can run), listening
    /// on a free loopback port only, not started yet.
    pub fn initdb(&self, name: &str) -> Result<Server, LocalError> {
        let server = self.server(name, free_port()?);
        let mut initdb = self.programs.command("initdb", &self.root);
        initdb.arg("-D").arg(&server.data);
        initdb.args(["-U", "postgres", "--auth=trust", "--encoding=UTF8", "--locale=C", "--data-checksums"]);
        self.programs.run(initdb)?;
        server.configure(&format!(
            "listen_addresses = '127.0.0.1'\nunix_socket_directories = ''\nport = {}\n\
             wal_level = replica\nmax_wal_senders = 10\nwal_keep_size = '256MB'\nhot_standby = on\n\
             synchronous_commit = on\nmax_connections = 30\nshared_buffers = '32MB'\n\
             logging_collector = off\nwal_retrieve_retry_interval = '500ms'\n",
            server.port
        ))?;
        Ok(server)
    }

    /// A standby `name` of `primary` by `pg_basebackup`, configured to follow it, not started.
    pub fn base_backup(&self, primary: &Server, name: &str) -> Result<Server, LocalError> {
        let server = self.server(name, free_port()?);
        let mut backup = self.programs.command("pg_basebackup", &self.root);
        backup.arg("--dbname").arg(primary.conninfo()).arg("-D").arg(&server.data);
        backup.args(["--wal-method=stream", "--checkpoint=fast", "--no-password"]);
        self.programs.run(backup)?;
        server.follow(primary)?;
        Ok(server)
    }

    /// Rewinds the stopped `target` onto `source`'s timeline with `pg_rewind` (which finishes
    /// `target`'s crash recovery first if it was killed), then configures it to follow
    /// `source`. Returns what `pg_rewind` printed.
    pub fn rewind(&self, target: &Server, source: &Server) -> Result<String, LocalError> {
        let mut rewind = self.programs.command("pg_rewind", &self.root);
        rewind.arg("--target-pgdata").arg(&target.data).arg("--source-server").arg(source.conninfo());
        let output = self.programs.run(rewind)?;
        target.follow(source)?;
        Ok(output)
    }
}

/// One local PostgreSQL server: its data directory, port and, while running, its postmaster.
#[derive(Debug)]
pub struct Server {
    name: String,
    data: PathBuf,
    log: PathBuf,
    port: u16,
    site: Site,
    child: Option<Child>,
    /// The running postmaster's identity, when `/proc` showed it.
    postmaster: Option<ProcessId>,
}

impl Server {
    /// Its name, which is also its `application_name` as a standby.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its loopback port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Its data directory.
    pub fn data_dir(&self) -> &Path {
        &self.data
    }

    /// Whether its postmaster is running (started here and not stopped or killed).
    pub fn is_running(&mut self) -> bool {
        self.child.as_mut().is_some_and(|child| matches!(child.try_wait(), Ok(None)))
    }

    /// A libpq connection string for it, as user `postgres`.
    pub fn conninfo(&self) -> String {
        format!("host=127.0.0.1 port={} user=postgres dbname=postgres connect_timeout=5", self.port)
    }

    /// Appends `settings` to its `postgresql.conf` (later lines win).
    pub fn configure(&self, settings: &str) -> Result<(), LocalError> {
        let path = self.data.join("postgresql.conf");
        let mut file = open_no_follow(OpenOptions::new().append(true), &path)?;
        file.write_all(settings.as_bytes()).map_err(io_error("could not write", &path))
    }

    /// Configures it as a standby of `primary`: its own port, `primary_conninfo` naming it
    /// (`application_name` = its name), no synchronous standbys of its own, `standby.signal`.
    pub fn follow(&self, primary: &Server) -> Result<(), LocalError> {
        self.configure(&format!(
            "port = {}\nprimary_conninfo = '{} application_name={}'\nsynchronous_standby_names = ''\n",
            self.port,
            primary.conninfo(),
            self.name
        ))?;
        let signal = self.data.join("standby.signal");
        let file = open_no_follow(OpenOptions::new().write(true).create(true).truncate(true), &signal)?;
        self.site.programs.give_file(&file, &signal)
    }

    /// Starts the postmaster in its own process group, logging to `<name>.log`, and waits
    /// until it accepts connections.
    pub fn start(&mut self) -> Result<(), LocalError> {
        if self.is_running() {
            return Ok(());
        }
        let log = open_no_follow(OpenOptions::new().create(true).append(true), &self.log)?;
        let log_err = log.try_clone().map_err(io_error("could not open", &self.log))?;
        let mut postgres = self.site.programs.command("postgres", &self.site.root);
        postgres.arg("-D").arg(&self.data).process_group(0);
        postgres.stdin(Stdio::null()).stdout(log).stderr(log_err);
        let (child, postmaster) = spawn_registered(&mut postgres, &self.data)?;
        self.child = Some(child);
        self.postmaster = postmaster;
        let deadline = Instant::now() + STARTUP_LIMIT;
        loop {
            if !self.is_running() {
                self.child = None;
                return Err(self.failure("exited during startup"));
            }
            if self.connect().is_ok_and(|mut client| client.simple_query("SELECT 1").is_ok()) {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(self.failure("did not accept connections within 60 s"));
            }
            std::thread::sleep(POLL);
        }
    }

    /// A connection to it.
    pub fn connect(&self) -> Result<Client, LocalError> {
        self.conninfo()
            .parse::<postgres::Config>()
            .and_then(|config| config.connect(NoTls))
            .map_err(|error| LocalError::Query { name: self.name.clone(), error })
    }

    /// Kills it with SIGKILL, postmaster and every process of it one by one (and its process
    /// group), as a host crash would, and returns once none of its processes is left running:
    /// confirmed stopped.
    pub fn kill(&mut self) -> Result<(), LocalError> {
        let mut registry = registry();
        self.kill_registered(&mut registry, Vec::new())
    }

    /// [`Server::kill`], the registry held; `seen` are processes of it read earlier.
    fn kill_registered(
        &mut self,
        registry: &mut Registry,
        mut seen: Vec<ProcessId>,
    ) -> Result<(), LocalError> {
        let Some(mut child) = self.child.take() else { return Ok(()) };
        let postmaster = self.postmaster.take();
        let found = postmaster.as_ref().map_or(Ok(Vec::new()), procs::kill_server);
        let group = Pid::from_child(&child);
        // Only the group this server leads: never pid 1's, which would be every process.
        if group != Pid::INIT {
            let _ = kill_process_group(group, Signal::KILL);
        }
        let _ = child.kill();
        let waited = child.wait();
        registry.forget(postmaster);
        seen.extend(found.map_err(io_error("could not read /proc for", &self.data))?);
        waited.map_err(io_error("could not wait for postgres of", &self.data))?;
        procs::wait_gone(&seen, STOP_LIMIT)
            .map_err(|left| self.failure(&format!("left processes running after SIGKILL: {left}")))
    }

    /// Stops it cleanly (fast shutdown: SIGINT), or kills it if that takes over 60 s (or its
    /// processes cannot be read), and returns once none of its processes is left running.
    pub fn stop(&mut self) -> Result<(), LocalError> {
        let mut registry = registry();
        let Some(child) = self.child.as_mut() else { return Ok(()) };
        let pid = Pid::from_child(child);
        let _ = kill_process(pid, Signal::INT);
        let deadline = Instant::now() + STOP_LIMIT;
        // Every process of it seen while the postmaster runs: once it has exited, its
        // children (if any were left) can no longer be found by parent.
        let mut seen = Vec::new();
        while Instant::now() < deadline {
            // Unreadable, they are read again (and the error reported) by the kill.
            let Ok(found) = procs::server_processes(pid) else { break };
            for process in found {
                if !seen.contains(&process) {
                    seen.push(process);
                }
            }
            if let Ok(Some(_)) = child.try_wait() {
                self.child = None;
                let gone = procs::wait_gone(&seen, deadline.saturating_duration_since(Instant::now()));
                registry.forget(self.postmaster.take());
                return gone.map_err(|left| {
                    self.failure(&format!("left processes running after it stopped: {left}"))
                });
            }
            std::thread::sleep(POLL);
        }
        self.kill_registered(&mut registry, seen)
    }

    /// An error about this server, with the end of its log.
    fn failure(&self, problem: &str) -> LocalError {
        let mut text = String::new();
        if let Ok(mut log) = open_no_follow(OpenOptions::new().read(true), &self.log) {
            let _ = log.read_to_string(&mut text);
        }
        let lines: Vec<&str> = text.lines().collect();
        let tail = lines[lines.len().saturating_sub(20)..].join("\n");
        LocalError::Server {
            name: self.name.clone(),
            problem: problem.to_owned(),
            log: self.log.clone(),
            tail,
        }
    }
}

impl Drop for Server {
    /// A server never outlives the process that started it.
    fn drop(&mut self) {
        let _ = self.kill();
    }
}

/// What this process started and has not yet seen gone, for a signal to stop, and the
/// directories a signal removes.
struct Registry {
    /// Set once a signal is stopping everything: nothing new is started.
    closing: bool,
    /// The postmasters and server programs running.
    running: Vec<ProcessId>,
    /// The directories to remove.
    dirs: Vec<PathBuf>,
    /// Data directories of servers others started (node agents): killed by their postmaster.pid.
    data_dirs: Vec<PathBuf>,
}

impl Registry {
    fn forget(&mut self, process: Option<ProcessId>) {
        self.running.retain(|running| Some(*running) != process);
    }
}

static REGISTRY: Mutex<Registry> =
    Mutex::new(Registry { closing: false, running: Vec::new(), dirs: Vec::new(), data_dirs: Vec::new() });

fn registry() -> MutexGuard<'static, Registry> {
    REGISTRY.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Spawns `command` and registers it, unless a signal is stopping everything.
fn spawn_registered(command: &mut Command, what: &Path) -> Result<(Child, Option<ProcessId>), LocalError> {
    let mut registry = registry();
    if registry.closing {
        return Err(LocalError::ShuttingDown { program: what.display().to_string() });
    }
    let child = command.spawn().map_err(io_error("could not start", what))?;
    // None if it already exited, or /proc was unreadable (a kill then has its process group).
    let id = ProcessId::of(Pid::from_child(&child)).ok().flatten();
    registry.running.extend(id);
    Ok((child, id))
}

/// Installs, once per process, a thread that on SIGTERM or SIGINT kills every server and
/// server program this process started, waits until all their processes are gone (at most
/// 60 s), removes the directories given to [`remove_on_signal`], and exits with status
/// 128 + the signal's number. For examples and tests; a library never does this by itself.
pub fn stop_all_on_signals() -> Result<(), LocalError> {
    static INSTALLED: AtomicBool = AtomicBool::new(false);
    if INSTALLED.swap(true, Ordering::SeqCst) {
        return Ok(());
    }
    let installed = signal_hook::iterator::Signals::new([SIGTERM, SIGINT]).and_then(|mut signals| {
        std::thread::Builder::new().name("aerodb-postgres-signals".to_owned()).spawn(move || {
            if let Some(signal) = signals.forever().next() {
                stop_everything(signal);
            }
        })
    });
    installed.map(drop).map_err(|error| {
        INSTALLED.store(false, Ordering::SeqCst);
        LocalError::Io {
            what: "could not install the signal handler",
            path: PathBuf::from("SIGTERM, SIGINT"),
            error,
        }
    })
}

/// What a signal does: stop everything, remove the directories, exit with 128 + `signal`.
fn stop_everything(signal: i32) -> ! {
    let name = if signal == SIGTERM { "SIGTERM" } else { "SIGINT" };
    let mut registry = registry();
    registry.closing = true;
    let mut processes = Vec::new();
    let started_elsewhere = registry.data_dirs.iter().filter_map(|dir| postmaster_of(dir));
    for root in registry.running.iter().copied().chain(started_elsewhere).collect::<Vec<_>>().iter() {
        match procs::kill_server(root) {
            Ok(found) => processes.extend(found),
            Err(error) => eprintln!("{name}: could not read /proc for process {root}: {error}"),
        }
    }
    if let Err(left) = procs::wait_gone(&processes, STOP_LIMIT) {
        eprintln!("{name}: {left}");
    }
    for dir in &registry.dirs {
        if let Err(error) = fs::remove_dir_all(dir)
            && error.kind() != io::ErrorKind::NotFound
        {
            eprintln!("{name}: could not remove {}: {error}", dir.display());
        }
    }
    eprintln!("{name}: stopped {} process(es) of the local servers; exiting", processes.len());
    std::process::exit(128 + signal)
}

/// The running postmaster of the data directory `dir`, from its `postmaster.pid`.
fn postmaster_of(dir: &Path) -> Option<ProcessId> {
    let text = fs::read_to_string(dir.join("postmaster.pid")).ok()?;
    let pid = text.lines().next()?.trim().parse::<i32>().ok().and_then(Pid::from_raw)?;
    ProcessId::of(pid).ok().flatten()
}

/// Registers `process` (a child this process started, e.g. a node agent) to be killed, with
/// every process it started, by a signal caught by [`stop_all_on_signals`].
pub fn kill_on_signal(process: ProcessId) {
    registry().running.push(process);
}

/// Forgets a process registered with [`kill_on_signal`] (it was stopped).
pub fn forget_on_signal(process: ProcessId) {
    registry().forget(Some(process));
}

/// Registers the data directory `dir` of a server started by another process (a node agent
/// with `pg_ctl`): a signal caught by [`stop_all_on_signals`] kills its postmaster, found by
/// its `postmaster.pid`, and every process of it.
pub fn kill_server_on_signal(dir: &Path) {
    registry().data_dirs.push(dir.to_owned());
}

/// Has a signal caught by [`stop_all_on_signals`] remove `dir` (with everything in it) after
/// the servers are gone, for as long as the returned guard lives.
pub fn remove_on_signal(dir: &Path) -> RemoveOnSignal {
    registry().dirs.push(dir.to_owned());
    RemoveOnSignal { dir: dir.to_owned() }
}

/// While it lives, a signal removes its directory ([`remove_on_signal`]).
#[derive(Debug)]
#[must_use = "the directory is removed on a signal only while the guard lives"]
pub struct RemoveOnSignal {
    dir: PathBuf,
}

impl Drop for RemoveOnSignal {
    fn drop(&mut self) {
        let mut registry = registry();
        if let Some(index) = registry.dirs.iter().position(|dir| *dir == self.dir) {
            registry.dirs.remove(index);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A symbolic link planted where the harness writes is refused, never followed.
    #[test]
    fn planted_links_are_refused() {
        let dir = std::env::temp_dir().join(format!("aerodb-links-{}", std::process::id()));
        fs::create_dir(&dir).unwrap();
        let target = dir.join("elsewhere");
        fs::write(&target, b"untouched").unwrap();
        let link = dir.join("postgresql.conf");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let refused = open_no_follow(OpenOptions::new().append(true), &link).unwrap_err();
        assert!(refused.to_string().contains("symbolic link"), "{refused}");
        assert_eq!(fs::read(&target).unwrap(), b"untouched");
        fs::remove_dir_all(&dir).unwrap();
    }

    /// Only an empty directory is handed to the server's user, never one holding anything.
    #[test]
    fn a_site_needs_an_empty_directory() {
        let programs = Programs { bindir: PathBuf::from("/nonexistent"), user: None };
        let root = std::env::temp_dir().join(format!("aerodb-site-{}", std::process::id()));
        fs::create_dir(&root).unwrap();
        fs::write(root.join("keep"), b"mine").unwrap();
        let refused = Site::new(programs.clone(), &root).unwrap_err();
        assert!(refused.to_string().contains("not empty"), "{refused}");
        fs::remove_file(root.join("keep")).unwrap();
        assert!(Site::new(programs, &root).is_ok());
        fs::remove_dir(&root).unwrap();
    }

    /// A missing installation is named, with how to get one.
    #[test]
    fn missing_server_programs_say_what_to_install() {
        let error = LocalError::NotInstalled { searched: "/usr/lib/postgresql/*/bin".to_owned() };
        assert!(error.to_string().contains("apt-get install postgresql"), "{error}");
    }
}
