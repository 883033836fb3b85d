//! A cluster run the way a deployment runs it, on one machine, for examples and tests: servers
//! under one directory, a cluster file, the authority where the tools' store options say, one
//! node agent process per server, the controller as tool processes. Nothing is in-process: the
//! programs are started through a [`Launcher`], so a test runs the built binaries and an
//! example runs itself as them.
//!
//! Every agent and every server is stopped on drop, and on SIGTERM / SIGINT once
//! [`harness::stop_all_on_signals`] is installed.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use postgres::NoTls;
use rustix::process::Pid;

use crate::control::ServerControl;
use crate::harness::{self, LocalError, Programs, Site};
use crate::observe::{ServerState, observe};
use crate::procs::ProcessId;

/// How long a deployment may take to reach a state [`wait_for`] waits for.
pub const WAIT_LIMIT: Duration = Duration::from_secs(90);

/// How the tools are started: each call gives a command to which arguments are added.
pub struct Launcher {
    tool: Box<dyn Fn() -> Command + Send + Sync>,
    agent: Box<dyn Fn() -> Command + Send + Sync>,
}

impl Launcher {
    /// `aerodb-promote` and `aerodb-pg-agent` as `tool()` and `agent()` start them.
    pub fn new(
        tool: impl Fn() -> Command + Send + Sync + 'static,
        agent: impl Fn() -> Command + Send + Sync + 'static,
    ) -> Launcher {
        Launcher { tool: Box::new(tool), agent: Box::new(agent) }
    }
}

impl std::fmt::Debug for Launcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Launcher")
    }
}

/// A node agent process and the lines it printed.
#[derive(Debug)]
struct AgentProcess {
    child: Child,
    id: Option<ProcessId>,
    lines: Arc<Mutex<Vec<String>>>,
}

impl AgentProcess {
    fn printed(&self) -> Vec<String> {
        self.lines.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// SIGKILL, then reaped; what it printed.
    fn kill(mut self) -> Vec<String> {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(id) = self.id {
            harness::forget_on_signal(id);
        }
        self.printed()
    }
}

/// Servers with their agents, a cluster file and an authority; see the module documentation.
#[derive(Debug)]
pub struct Deployment {
    dir: PathBuf,
    bindir: PathBuf,
    ports: BTreeMap<String, u16>,
    store: Vec<OsString>,
    launcher: Launcher,
    agents: BTreeMap<String, AgentProcess>,
    freeze_hold: u32,
    agent_args: Vec<OsString>,
}

/// Polls `done` every 50 ms until it holds, for at most [`WAIT_LIMIT`].
pub fn wait_for(what: &str, mut done: impl FnMut() -> bool) -> Result<(), LocalError> {
    let deadline = Instant::now() + WAIT_LIMIT;
    while !done() {
        if Instant::now() >= deadline {
            return Err(LocalError::Gave { what: format!("{what} within {} s", WAIT_LIMIT.as_secs()) });
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}

/// The conninfo of a local server on `port`.
pub fn conninfo(port: u16) -> String {
    format!("host=127.0.0.1 port={port} user=postgres dbname=postgres connect_timeout=5")
}

impl Deployment {
    /// Sets up `nodes` under `dir` (which must exist and be empty): `nodes[0]` by `initdb` with
    /// a table `acked (id bigint PRIMARY KEY)`, the others its standbys by `pg_basebackup`,
    /// `nodes[1]` synchronous (`FIRST 1`). Every server is stopped again, the authority is
    /// bootstrapped for `nodes[0]` by `aerodb-promote` (with the `store` options), and an agent
    /// is started per node (lifting a freeze after `freeze_hold` seconds); the agents start the
    /// servers.
    pub fn start(
        dir: &Path,
        nodes: &[&str],
        store: Vec<OsString>,
        launcher: Launcher,
        freeze_hold: u32,
    ) -> Result<Deployment, LocalError> {
        Deployment::start_with(dir, nodes, store, launcher, freeze_hold, Vec::new())
    }

    /// [`start`](Deployment::start), every agent given `agent_args` too (e.g.
    /// `--synchronous RULE`).
    pub fn start_with(
        dir: &Path,
        nodes: &[&str],
        store: Vec<OsString>,
        launcher: Launcher,
        freeze_hold: u32,
        agent_args: Vec<OsString>,
    ) -> Result<Deployment, LocalError> {
        let (Some(first), Some(second)) = (nodes.first(), nodes.get(1)) else {
            return Err(LocalError::Gave { what: "a deployment of fewer than two nodes".to_owned() });
        };
        let root = dir.join("site");
        std::fs::create_dir(&root).map_err(|error| LocalError::Io {
            what: "could not create",
            path: root.clone(),
            error,
        })?;
        let programs = Programs::locate()?;
        let bindir = programs.bindir().to_owned();
        let site = Site::new(programs, &root)?;
        let mut primary = site.initdb(first)?;
        primary.start()?;
        primary
            .connect()?
            .batch_execute("CREATE TABLE acked (id bigint PRIMARY KEY)")
            .map_err(|error| LocalError::Query { name: (*first).to_owned(), error })?;
        let mut ports = BTreeMap::from([((*first).to_owned(), primary.port())]);
        for node in &nodes[1..] {
            let standby = site.base_backup(&primary, node)?;
            ports.insert((*node).to_owned(), standby.port());
        }
        primary.configure(&format!("synchronous_standby_names = 'FIRST 1 ({second})'\n"))?;
        primary.stop()?;
        let cluster: String =
            ports.iter().map(|(node, port)| format!("{node} {}\n", conninfo(*port))).collect();
        let cluster_file = dir.join("cluster");
        std::fs::write(&cluster_file, cluster).map_err(|error| LocalError::Io {
            what: "could not write",
            path: cluster_file,
            error,
        })?;
        let mut deployment = Deployment {
            dir: dir.to_owned(),
            bindir,
            ports,
            store,
            launcher,
            agents: BTreeMap::new(),
            freeze_hold,
            agent_args,
        };
        for node in nodes {
            harness::kill_server_on_signal(&deployment.data_dir(node));
        }
        let out = deployment.tool(&["bootstrap", first])?;
        if !out.status.success() {
            return Err(LocalError::Gave {
                what: format!("aerodb-promote bootstrap: {}", String::from_utf8_lossy(&out.stderr)),
            });
        }
        for node in nodes {
            deployment.start_agent(node, None)?;
        }
        Ok(deployment)
    }

    /// The cluster file the agents and `aerodb-promote observe` read.
    pub fn cluster_file(&self) -> PathBuf {
        self.dir.join("cluster")
    }

    /// The data directory of `node`'s server.
    pub fn data_dir(&self, node: &str) -> PathBuf {
        self.dir.join("site").join(node)
    }

    /// The loopback port of `node`'s server.
    pub fn port(&self, node: &str) -> Option<u16> {
        self.ports.get(node).copied()
    }

    /// A connection's settings for `node`'s server.
    pub fn config(&self, node: &str) -> postgres::Config {
        let mut config = postgres::Config::new();
        config.host("127.0.0.1").port(self.port(node).unwrap_or(0)).user("postgres").dbname("postgres");
        config.connect_timeout(Duration::from_secs(5));
        config
    }

    /// `aerodb-promote STORE-OPTIONS ARGS`, run to completion.
    pub fn tool(&self, args: &[&str]) -> Result<Output, LocalError> {
        let mut command = (self.launcher.tool)();
        command.args(&self.store).args(args).stdin(Stdio::null());
        command.output().map_err(|error| LocalError::Io {
            what: "could not run",
            path: "aerodb-promote".into(),
            error,
        })
    }

    /// Starts `node`'s agent (a running one is killed first), printing into a log
    /// this deployment keeps; with `pause_after`, it stops acting after that many actions and
    /// waits to be killed.
    pub fn start_agent(&mut self, node: &str, pause_after: Option<u32>) -> Result<(), LocalError> {
        // The running one first: an agent holds its data directory's lock for its life.
        if let Some(old) = self.agents.remove(node) {
            old.kill();
        }
        let mut command = (self.launcher.agent)();
        command.args(["--node", node, "--interval-ms", "50", "--freeze-hold", &self.freeze_hold.to_string()]);
        command.arg("--pgdata").arg(self.data_dir(node)).arg("--bindir").arg(&self.bindir);
        command.arg("--cluster").arg(self.cluster_file()).args(&self.store).args(&self.agent_args);
        if let Some(n) = pause_after {
            command.args(["--pause-after", &n.to_string()]);
        }
        command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::inherit());
        let mut child = command.spawn().map_err(|error| LocalError::Io {
            what: "could not start",
            path: "aerodb-pg-agent".into(),
            error,
        })?;
        let id = ProcessId::of(Pid::from_child(&child)).ok().flatten();
        if let Some(id) = id {
            harness::kill_on_signal(id);
        }
        let lines = Arc::new(Mutex::new(Vec::new()));
        if let Some(out) = child.stdout.take() {
            let sink = Arc::clone(&lines);
            std::thread::spawn(move || {
                for line in BufReader::new(out).lines().map_while(Result::ok) {
                    sink.lock().unwrap_or_else(PoisonError::into_inner).push(line);
                }
            });
        }
        self.agents.insert(node.to_owned(), AgentProcess { child, id, lines });
        Ok(())
    }

    /// What `node`'s agent printed so far.
    pub fn printed(&self, node: &str) -> Vec<String> {
        self.agents.get(node).map(AgentProcess::printed).unwrap_or_default()
    }

    /// The process id of `node`'s agent, while it runs.
    pub fn agent_pid(&self, node: &str) -> Option<u32> {
        self.agents.get(node).map(|agent| agent.child.id())
    }

    /// Waits for `node`'s agent to exit (after a signal sent to it); its exit status.
    pub fn wait_agent(&mut self, node: &str) -> Option<std::process::ExitStatus> {
        let mut agent = self.agents.remove(node)?;
        let status = agent.child.wait().ok();
        if let Some(id) = agent.id {
            harness::forget_on_signal(id);
        }
        status
    }

    /// SIGKILL of `node`'s agent; what it printed.
    pub fn kill_agent(&mut self, node: &str) -> Vec<String> {
        self.agents.remove(node).map(AgentProcess::kill).unwrap_or_default()
    }

    /// SIGKILL of `node`'s server, postmaster and every process of it, as a host crash would;
    /// returns once every one is gone.
    pub fn kill_server(&self, node: &str) -> Result<(), LocalError> {
        self.control(node)?.kill().map_err(|e| LocalError::Gave { what: e.to_string() })
    }

    fn control(&self, node: &str) -> Result<ServerControl, LocalError> {
        ServerControl::new(&self.bindir, &self.data_dir(node), Path::new("/dev/null"))
            .map_err(|e| LocalError::Gave { what: e.to_string() })
    }

    /// `node`'s server as it reports itself, if it can be read.
    pub fn state(&self, node: &str) -> Option<ServerState> {
        observe(&self.config(node)).ok()
    }

    /// `(application_name, sync_state)` of each standby streaming from `node`'s server.
    pub fn streaming(&self, node: &str) -> Vec<(String, String)> {
        let Ok(mut client) = self.config(node).connect(NoTls) else { return Vec::new() };
        let Ok(rows) = client.query(
            "SELECT application_name, sync_state FROM pg_stat_replication WHERE state = 'streaming' ORDER BY 1",
            &[],
        ) else {
            return Vec::new();
        };
        rows.iter().filter_map(|row| Some((row.try_get(0).ok()?, row.try_get(1).ok()?))).collect()
    }

    /// Stops every agent (SIGKILL) and every server (SIGKILL, confirmed gone).
    pub fn stop(&mut self) -> Result<(), LocalError> {
        for agent in std::mem::take(&mut self.agents).into_values() {
            agent.kill();
        }
        let nodes: Vec<String> = self.ports.keys().cloned().collect();
        let mut first_error = None;
        for node in nodes {
            if let Err(error) = self.kill_server(&node) {
                first_error.get_or_insert(error);
            }
        }
        first_error.map_or(Ok(()), Err)
    }
}

impl Drop for Deployment {
    /// Nothing outlives the deployment: agents and servers are stopped.
    fn drop(&mut self) {
        let _ = self.stop();
    }
}
