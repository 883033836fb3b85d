//! One PostgreSQL server run by its node agent: started with `pg_ctl` (so it outlives the agent),
//! stopped, rewound, and read from its `postmaster.pid`. A root agent runs the server programs as
//! the owner of the data directory, never as root.
//!
//! A server is started either *public* (its own `listen_addresses`) or *private* (no TCP at
//! all, its socket in a directory only its owner can enter): the agent starts a
//! server privately whenever it cannot yet know that the server may accept writes, and opens it
//! only once what the server says it is matches the authority.

use std::fs;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use aerodb_core::NodeId;
use rustix::process::{Pid, geteuid};

use crate::procs::{self, ProcessId, StillRunning};

/// How long a server may take to stop once signalled: its shutdown checkpoint, then its last
/// processes exiting (`pg_ctl`'s own limit was 120 s).
const STOP_LIMIT: std::time::Duration = std::time::Duration::from_secs(120);

/// Why a server could not be controlled.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ControlError {
    /// A file could not be read.
    #[error("{what} {path}: {error}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// The path.
        path: PathBuf,
        /// The failure.
        error: std::io::Error,
    },
    /// A server program failed.
    #[error("{program} failed ({status}):\n{output}")]
    Program {
        /// The program and its arguments.
        program: String,
        /// Its exit status.
        status: String,
        /// What it printed.
        output: String,
    },
    /// Processes of the server still ran after it was stopped.
    #[error("the server is not confirmed stopped: {0}")]
    StillRunning(#[from] StillRunning),
    /// The data directory is owned by root: PostgreSQL refuses to run as root.
    #[error("the data directory {0} is owned by root; PostgreSQL runs as the directory's owner, never root")]
    RootOwned(PathBuf),
}

fn proc_error(error: std::io::Error) -> ControlError {
    ControlError::Io { what: "could not read the server's processes", path: PathBuf::from("/proc"), error }
}

/// What the server's `postmaster.pid` says of a running server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Postmaster {
    /// The postmaster's process id.
    pub pid: i32,
    /// Its port.
    pub port: u16,
    /// Its first Unix socket directory (empty: none).
    pub socket_dir: String,
    /// Its first listen address (empty: no TCP, a private server).
    pub listen: String,
    /// `starting`, `ready`, `stopping` or `standby`.
    pub status: String,
}

impl Postmaster {
    /// Whether it listens on no TCP address: only its owner can reach it.
    pub fn is_private(&self) -> bool {
        self.listen.is_empty()
    }

    /// A connection to it as `user`: over its socket when it has one, else `host` (from the
    /// cluster file).
    pub fn config(&self, user: &str, host: &str) -> postgres::Config {
        let mut config = postgres::Config::new();
        let host = if self.socket_dir.is_empty() { host } else { self.socket_dir.as_str() };
        config.host(host).port(self.port).user(user).dbname("postgres");
        config.connect_timeout(std::time::Duration::from_secs(5));
        config
    }
}

/// A server's data directory, programs and log, as its agent runs it.
#[derive(Debug, Clone)]
pub struct ServerControl {
    bindir: PathBuf,
    data: PathBuf,
    log: PathBuf,
    /// The data directory owner's `(uid, gid)` when this process is root.
    user: Option<(u32, u32)>,
}

impl ServerControl {
    /// The server in `data`, run with the programs in `bindir`, logging to `log`.
    pub fn new(bindir: &Path, data: &Path, log: &Path) -> Result<ServerControl, ControlError> {
        // `pg_ctl -o` passes options through a shell: refuse what would need quoting there.
        for path in [data, log] {
            let text = path.to_string_lossy();
            if text.chars().any(|c| matches!(c, '\'' | '"' | '\\' | '$' | '`' | '\n')) {
                return Err(ControlError::Io {
                    what: "refusing a path with quotes, backslashes, $ or backticks:",
                    path: path.to_owned(),
                    error: std::io::ErrorKind::InvalidInput.into(),
                });
            }
        }
        let meta = fs::metadata(data).map_err(|error| ControlError::Io {
            what: "could not read",
            path: data.to_owned(),
            error,
        })?;
        let user = if geteuid().is_root() {
            if meta.uid() == 0 {
                return Err(ControlError::RootOwned(data.to_owned()));
            }
            Some((meta.uid(), meta.gid()))
        } else {
            None
        };
        Ok(ServerControl { bindir: bindir.to_owned(), data: data.to_owned(), log: log.to_owned(), user })
    }

    /// Takes `<data directory>.agent.lock` exclusively for as long as the returned file lives:
    /// one agent per server, or two could rewind and start the same data directory at once.
    /// The kernel releases it when the process ends, however it ends.
    pub fn lock_for_agent(&self) -> Result<fs::File, ControlError> {
        let mut path = self.data.clone().into_os_string();
        path.push(".agent.lock");
        let path = PathBuf::from(path);
        let io =
            |error| ControlError::Io { what: "could not take the agent lock", path: path.clone(), error };
        let file = open_private(&path).map_err(io)?;
        match rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => Ok(file),
            Err(rustix::io::Errno::WOULDBLOCK) => {
                Err(io(std::io::Error::other("another agent already manages this data directory")))
            }
            Err(error) => Err(io(error.into())),
        }
    }

    /// The data directory.
    pub fn data_dir(&self) -> &Path {
        &self.data
    }

    /// The running postmaster, from `postmaster.pid`, if its process is alive.
    pub fn postmaster(&self) -> Option<Postmaster> {
        let text = fs::read_to_string(self.data.join("postmaster.pid")).ok()?;
        let lines: Vec<&str> = text.lines().collect();
        let pid: i32 = lines.first()?.trim().parse().ok()?;
        // A live process of that id whose working directory is this data directory, as a
        // postmaster's is: not a pid reused since by another process (another server's backend).
        let cwd = fs::read_link(format!("/proc/{pid}/cwd")).ok()?;
        if pid <= 1 || fs::canonicalize(&self.data).ok()? != cwd {
            return None;
        }
        let field = |index: usize| lines.get(index).map_or("", |line| line.trim()).to_owned();
        Some(Postmaster {
            pid,
            port: field(3).parse().ok()?,
            socket_dir: field(4),
            listen: field(5),
            status: field(7),
        })
    }

    /// Sets the stopped server up as a standby (`standby.signal`, owned like the data
    /// directory): its next start recovers and follows, never accepts writes.
    pub fn make_standby(&self) -> Result<(), ControlError> {
        let path = self.data.join("standby.signal");
        let io = |error| ControlError::Io { what: "could not create", path: path.clone(), error };
        let file = open_private(&path).map_err(io)?;
        if let Some((uid, gid)) = self.user {
            rustix::fs::fchown(
                &file,
                Some(rustix::fs::Uid::from_raw(uid)),
                Some(rustix::fs::Gid::from_raw(gid)),
            )
            .map_err(|e| io(e.into()))?;
        }
        file.sync_all().map_err(io)
    }

    /// Whether the data directory is set up as a standby (`standby.signal`).
    pub fn is_standby(&self) -> bool {
        self.data.join("standby.signal").exists()
    }

    /// Starts the server as node `node` (a [`NodeId`]: its characters need no quoting in the
    /// options `pg_ctl` hands a shell) and waits until it accepts connections: public, or
    /// private (no TCP, only its socket in [`socket_dir`](Self::socket_dir); no archive either,
    /// so a frozen position holds). Its socket is there either way, so the agent reaches it the
    /// same way. The command line overrides what the configuration files may carry (`pg_rewind`
    /// copies the source's): the port; no recovery target or trigger file that would end
    /// recovery on its own; the latest timeline followed; `aerodb.node`, which observers check.
    pub fn start(&self, private: bool, port: u16, node: &NodeId) -> Result<(), ControlError> {
        self.clear_stale_lock()?;
        self.own_log()?;
        let sockets = self.socket_dir()?;
        let mut options = format!(
            "-c port={port} -c unix_socket_directories='{}' -c aerodb.node='{node}' \
             -c recovery_target='' -c recovery_target_lsn='' -c recovery_target_name='' \
             -c recovery_target_time='' -c recovery_target_xid='' -c recovery_target_timeline=latest \
             -c promote_trigger_file=''",
            sockets.display()
        );
        if private {
            options.push_str(" -c listen_addresses='' -c restore_command=''");
        }
        let mut command = self.command("pg_ctl");
        command.arg("start").arg("-D").arg(&self.data).arg("-l").arg(&self.log);
        command.args(["-w", "-t", "120", "-o", &options]);
        self.run(command).map(drop).map_err(|error| match error {
            // pg_ctl says only "examine the log": the log's end is the reason.
            ControlError::Program { program, status, output } => {
                let log = fs::read_to_string(&self.log).unwrap_or_default();
                let lines: Vec<&str> = log.lines().collect();
                let tail = lines[lines.len().saturating_sub(8)..].join("\n");
                ControlError::Program {
                    program,
                    status,
                    output: format!("{output}the end of the server's log:\n{tail}"),
                }
            }
            other => other,
        })
    }

    /// The server's private socket directory, `<data directory>.sock`, made (mode 0700, the
    /// server's user's) when missing. Never inside the data directory: `pg_rewind` copies every
    /// file of its source's data directory, and fails on a socket.
    pub fn socket_dir(&self) -> Result<PathBuf, ControlError> {
        let mut path = self.data.clone().into_os_string();
        path.push(".sock");
        let path = PathBuf::from(path);
        let io = |error| ControlError::Io {
            what: "could not prepare the socket directory",
            path: path.clone(),
            error,
        };
        match fs::DirBuilder::new().mode(0o700).create(&path) {
            Ok(()) => {}
            Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(error) => return Err(io(error)),
        }
        // The parent may belong to the server's user, who could swap the path for a link: the
        // directory is opened without following one, and the descriptor is what gets chowned.
        let dir = rustix::fs::open(
            &path,
            rustix::fs::OFlags::DIRECTORY
                | rustix::fs::OFlags::NOFOLLOW
                | rustix::fs::OFlags::RDONLY
                | rustix::fs::OFlags::CLOEXEC,
            rustix::fs::Mode::empty(),
        )
        .map_err(|e| io(e.into()))?;
        if let Some((uid, gid)) = self.user {
            rustix::fs::fchown(
                &dir,
                Some(rustix::fs::Uid::from_raw(uid)),
                Some(rustix::fs::Gid::from_raw(gid)),
            )
            .map_err(|e| io(e.into()))?;
        }
        let stat = rustix::fs::fstat(&dir).map_err(|e| io(e.into()))?;
        let owner = self.user.map_or_else(|| geteuid().as_raw(), |(uid, _)| uid);
        if stat.st_uid != owner || stat.st_mode & 0o077 != 0 {
            return Err(io(std::io::Error::other(
                "not a directory of the server's user that only it may enter",
            )));
        }
        Ok(path)
    }

    /// Removes a `postmaster.pid`, and the socket files in the server's own socket directory,
    /// when no postmaster of this data directory runs (it died; its pid may since name another
    /// live process, which PostgreSQL would take for a running postmaster and refuse to start or
    /// recover). Never while one of this data directory runs.
    fn clear_stale_lock(&self) -> Result<(), ControlError> {
        let lock = self.data.join("postmaster.pid");
        if self.postmaster().is_some() {
            return Ok(());
        }
        // The socket directory is this server's alone: a socket or its lock file left there by
        // a killed postmaster is stale too (PostgreSQL checks only that its pid is alive).
        let sockets = self.socket_dir()?;
        let entries = fs::read_dir(&sockets).map_err(|error| ControlError::Io {
            what: "could not read",
            path: sockets.clone(),
            error,
        })?;
        for entry in entries.flatten() {
            if entry.file_name().to_string_lossy().starts_with(".s.PGSQL.") {
                let path = entry.path();
                fs::remove_file(&path).map_err(|error| ControlError::Io {
                    what: "could not remove the stale socket file",
                    path,
                    error,
                })?;
            }
        }
        if !lock.exists() {
            return Ok(());
        }
        match fs::remove_file(&lock) {
            Ok(()) => Ok(()),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(error) => {
                Err(ControlError::Io { what: "could not remove the stale lock file", path: lock, error })
            }
        }
    }

    /// The log file exists and belongs to the server's user (a root agent may have made it).
    /// Opened without following a symbolic link: a link planted there would hand any file of
    /// the machine to that user.
    fn own_log(&self) -> Result<(), ControlError> {
        let io = |error| ControlError::Io {
            what: "could not prepare the server log",
            path: self.log.clone(),
            error,
        };
        let file = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
            .open(&self.log)
            .map_err(io)?;
        // A hard link planted there would hand over another file: only a file of one name.
        if file.metadata().map_err(io)?.nlink() != 1 {
            return Err(io(std::io::Error::other("the log file has other names (hard links): refused")));
        }
        if let Some((uid, gid)) = self.user {
            std::os::unix::fs::fchown(&file, Some(uid), Some(gid)).map_err(io)?;
        }
        Ok(())
    }

    /// Every process of the running server (postmaster and descendants), read now.
    fn processes(&self) -> Result<Vec<ProcessId>, ControlError> {
        let Some(postmaster) = self.postmaster().and_then(|p| Pid::from_raw(p.pid)) else {
            return Ok(Vec::new());
        };
        procs::server_processes(postmaster).map_err(proc_error)
    }

    /// Stops the server: `immediate` (at once, no checkpoint: a fence) or `fast` (clean), and
    /// returns once every process it had is gone, each checked in /proc (confirmed stopped).
    /// `pg_ctl` only signals (`-W`): its own wait polls every 100 ms, which a switchover's
    /// write outage would pay; /proc is read every 2 ms instead.
    pub fn stop(&self, immediate: bool) -> Result<(), ControlError> {
        let processes = self.processes()?;
        let mut command = self.command("pg_ctl");
        command.arg("stop").arg("-D").arg(&self.data);
        command.args(["-W", "-m", if immediate { "immediate" } else { "fast" }]);
        self.run(command)?;
        procs::wait_gone(&processes, STOP_LIMIT).map_err(ControlError::StillRunning)
    }

    /// Kills the server with SIGKILL, postmaster and every other process of it, as a host crash
    /// would, and returns once every one is gone.
    pub fn kill(&self) -> Result<(), ControlError> {
        let Some(postmaster) = self.postmaster().and_then(|p| Pid::from_raw(p.pid)) else { return Ok(()) };
        let Some(root) = ProcessId::of(postmaster).map_err(proc_error)? else { return Ok(()) };
        let processes = procs::kill_server(&root).map_err(proc_error)?;
        procs::wait_gone(&processes, STOP_LIMIT).map_err(ControlError::StillRunning)
    }

    /// Rewinds the stopped server onto `source`'s timeline (`pg_rewind`, which finishes a
    /// killed server's crash recovery first) and configures it to follow `source`
    /// (`--write-recovery-conf`). Returns what `pg_rewind` printed.
    pub fn rewind(&self, source: &str) -> Result<String, ControlError> {
        self.clear_stale_lock()?;
        let mut command = self.command("pg_rewind");
        command.arg("--target-pgdata").arg(&self.data).arg("--source-server").arg(source);
        command.arg("--write-recovery-conf");
        self.run(command)
    }

    /// The stopped server's last checkpoint from `pg_controldata`: its timeline, its LSN, and
    /// whether the server shut down cleanly (state `shut down`: nothing was written after it).
    pub fn last_checkpoint(&self) -> Result<Checkpoint, ControlError> {
        let mut command = self.command("pg_controldata");
        command.arg("-D").arg(&self.data);
        let text = self.run(command)?;
        let field = |name: &str| {
            text.lines().find_map(|line| line.strip_prefix(name)?.strip_prefix(':').map(str::trim))
        };
        let unreadable = |what: &str| ControlError::Program {
            program: "pg_controldata".to_owned(),
            status: "exit status: 0".to_owned(),
            output: format!("no {what} in its output:\n{text}"),
        };
        let lsn = field("Latest checkpoint location")
            .and_then(|t| t.parse::<postgres::types::PgLsn>().ok())
            .ok_or_else(|| unreadable("latest checkpoint location"))?;
        let timeline = field("Latest checkpoint's TimeLineID")
            .and_then(|t| t.parse::<u32>().ok())
            .ok_or_else(|| unreadable("latest checkpoint timeline"))?;
        let state = field("Database cluster state").ok_or_else(|| unreadable("cluster state"))?;
        Ok(Checkpoint { timeline, lsn: aerodb_core::Lsn::new(u64::from(lsn)), clean: state == "shut down" })
    }

    /// `program` from the server's directory, as the data directory's owner, with a plain C
    /// locale and none of libpq's `PG*` variables leaking in.
    fn command(&self, program: &str) -> Command {
        server_program(&self.bindir, program, Path::new("/"), self.user)
    }

    fn run(&self, mut command: Command) -> Result<String, ControlError> {
        let program = format!(
            "{} {}",
            command.get_program().to_string_lossy(),
            command.get_args().map(|a| a.to_string_lossy()).collect::<Vec<_>>().join(" ")
        );
        // pg_ctl's server inherits stdout/stderr: closed here, so nothing waits on a pipe the
        // server keeps open.
        let output = command.stdin(Stdio::null()).output().map_err(|error| ControlError::Io {
            what: "could not run",
            path: program.clone().into(),
            error,
        })?;
        printed(&output).map_err(|text| ControlError::Program {
            program,
            status: output.status.to_string(),
            output: text,
        })
    }
}

/// Opens `path` for writing, created with mode 0600 when missing, never through a symbolic link
/// (the server's user may own the directory and plant one).
fn open_private(path: &Path) -> std::io::Result<fs::File> {
    fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
        .open(path)
}

/// A stopped server's last checkpoint, as `pg_controldata` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Checkpoint {
    /// The timeline it was written on.
    pub timeline: u32,
    /// Where the checkpoint record is.
    pub lsn: aerodb_core::Lsn,
    /// The server shut down cleanly after it (`Database cluster state: shut down`).
    pub clean: bool,
}

/// `program` from `bindir`, in `dir`, as `user` when given (a root process never runs the
/// server programs as root), with a plain C locale, none of libpq's `PG*` variables or the etcd
/// password leaking in, in a process group of its own (a Ctrl-C meant for its caller never
/// interrupts a `pg_rewind`).
pub(crate) fn server_program(bindir: &Path, program: &str, dir: &Path, user: Option<(u32, u32)>) -> Command {
    let mut command = Command::new(bindir.join(program));
    command.current_dir(dir).env("LC_ALL", "C").env("LANG", "C");
    command.env_remove("AERODB_ETCD_PASSWORD"); // aerodb_etcd::PASSWORD_VAR (no dependency here)
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("PG") {
            command.env_remove(name);
        }
    }
    if let Some((uid, gid)) = user {
        command.uid(uid).gid(gid);
    }
    command.process_group(0);
    command
}

/// What a finished program printed (stdout, then stderr): `Ok` if it succeeded, else `Err`.
pub(crate) fn printed(output: &std::process::Output) -> Result<String, String> {
    let text =
        format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    if output.status.success() { Ok(text) } else { Err(text) }
}
