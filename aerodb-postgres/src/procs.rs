//! A server's processes, read one by one from `/proc`: what "confirmed stopped" checks.
//!
//! A PostgreSQL server is its postmaster and every process it forked. Its children call
//! `setsid()`, so its process group does not hold them: an empty group proves nothing. Here a
//! server's processes are the postmaster and its descendants (each one's parent read from
//! `/proc/<pid>/stat`), each identified by pid *and* start time, so a pid the kernel hands to
//! a new process is never taken for the old one. Linux only.

use std::collections::BTreeSet;
use std::fs;
use std::io;
use std::time::{Duration, Instant};

use rustix::process::{Pid, Signal, kill_process, kill_process_group};

/// How often [`wait_gone`] looks again: reading `/proc` is cheap, and a switchover's write
/// outage waits on it (the old primary confirmed stopped).
const POLL: Duration = Duration::from_millis(2);

/// One process: its pid and its start time (clock ticks after boot), which together name it
/// even after the pid is reused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ProcessId {
    pid: i32,
    start: u64,
}

impl ProcessId {
    /// The process `pid` is now, unless there is none or it has exited (a zombie).
    pub fn of(pid: Pid) -> io::Result<Option<ProcessId>> {
        let pid = pid.as_raw_nonzero().get();
        Ok(read_stat(pid)?.filter(Stat::running).map(|stat| ProcessId { pid, start: stat.start }))
    }

    /// Its pid.
    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// Its start time in clock ticks after boot (field 22 of `/proc/<pid>/stat`).
    pub fn start_time(&self) -> u64 {
        self.start
    }
}

impl std::fmt::Display for ProcessId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.pid)
    }
}

/// Processes still running when [`wait_gone`] gave up.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{} process(es) still running after {} s: pid {}", left.len(), limit.as_secs_f32(), pids(left))]
pub struct StillRunning {
    /// The processes still running.
    pub left: Vec<ProcessId>,
    /// How long they were waited for.
    pub limit: Duration,
}

fn pids(processes: &[ProcessId]) -> String {
    processes.iter().map(ProcessId::to_string).collect::<Vec<_>>().join(", ")
}

/// The fields of `/proc/<pid>/stat` used here.
#[derive(Debug, Clone, Copy)]
struct Stat {
    state: char,
    ppid: i32,
    start: u64,
}

impl Stat {
    /// Not exited: a zombie (`Z`) or a dead task (`X`, `x`) runs nothing any more.
    fn running(&self) -> bool {
        !matches!(self.state, 'Z' | 'X' | 'x')
    }
}

/// `/proc/<pid>/stat`, or `None` when there is no such process.
fn read_stat(pid: i32) -> io::Result<Option<Stat>> {
    let text = match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(text) => text,
        // ESRCH: the process went away while being read.
        Err(error) if error.kind() == io::ErrorKind::NotFound || error.raw_os_error() == Some(3) => {
            return Ok(None);
        }
        Err(error) => return Err(error),
    };
    parse_stat(&text).map(Some).ok_or_else(|| {
        io::Error::new(io::ErrorKind::InvalidData, format!("unreadable /proc/{pid}/stat: {text}"))
    })
}

/// "pid (comm) state ppid pgrp ... starttime ...": comm may hold spaces and parentheses, so
/// the fields are counted from the last `)`; starttime is field 22, the 20th after it.
fn parse_stat(text: &str) -> Option<Stat> {
    let (_, fields) = text.rsplit_once(')')?;
    let fields: Vec<&str> = fields.split_whitespace().collect();
    let mut state = fields.first()?.chars();
    let state = state.next().filter(|_| state.next().is_none())?;
    Some(Stat { state, ppid: fields.get(1)?.parse().ok()?, start: fields.get(19)?.parse().ok()? })
}

/// Whether `process` is still running: its pid names a process with the same start time that
/// has not exited.
pub fn alive(process: &ProcessId) -> bool {
    // An unreadable /proc counts as alive: "gone" must be seen, never assumed.
    read_stat(process.pid).map_or(true, |stat| stat.is_some_and(|s| s.running() && s.start == process.start))
}

/// Every running process of the server whose postmaster is `postmaster`: the postmaster and
/// its descendants (children, and theirs), in pid order; empty once the postmaster has exited.
///
/// The children of a postmaster that has already exited belong to another parent and cannot
/// be found this way: read them while it runs.
pub fn server_processes(postmaster: Pid) -> io::Result<Vec<ProcessId>> {
    let Some(root) = ProcessId::of(postmaster)? else { return Ok(Vec::new()) };
    let mut table = Vec::new();
    for entry in fs::read_dir("/proc")? {
        let Some(pid) = entry?.file_name().to_str().and_then(|name| name.parse::<i32>().ok()) else {
            continue;
        };
        if let Some(stat) = read_stat(pid)?.filter(Stat::running) {
            table.push((pid, stat));
        }
    }
    let mut found = BTreeSet::from([root]);
    let mut parents = BTreeSet::from([root.pid]);
    // Each round adds one generation; a process table cannot be deeper than it is long.
    for _ in 0..table.len() {
        let next: Vec<ProcessId> = table
            .iter()
            .filter(|(pid, stat)| parents.contains(&stat.ppid) && !parents.contains(pid))
            .map(|&(pid, stat)| ProcessId { pid, start: stat.start })
            .collect();
        if next.is_empty() {
            break;
        }
        parents.extend(next.iter().map(|p| p.pid));
        found.extend(next);
    }
    Ok(found.into_iter().collect())
}

/// SIGKILLs the server whose postmaster is `postmaster` and returns the processes to wait
/// for ([`wait_gone`]): the postmaster is stopped (SIGSTOP) first so it forks nothing more,
/// then its processes are read and each one is killed, and its process group too.
pub fn kill_server(postmaster: &ProcessId) -> io::Result<Vec<ProcessId>> {
    let Some(pid) = Pid::from_raw(postmaster.pid) else { return Ok(Vec::new()) };
    if !alive(postmaster) {
        return Ok(Vec::new());
    }
    let _ = kill_process(pid, Signal::STOP);
    let processes = server_processes(pid)?;
    if !processes.contains(postmaster) {
        // The pid was reused between the two reads: that process is not this server.
        let _ = kill_process(pid, Signal::CONT);
        return Ok(Vec::new());
    }
    for process in &processes {
        signal(process, Signal::KILL);
    }
    // Only a group this server leads: never pid 1's, which would be every process.
    if pid != Pid::INIT {
        let _ = kill_process_group(pid, Signal::KILL);
    }
    Ok(processes)
}

/// Sends `signal` to `process` if it is still that process.
fn signal(process: &ProcessId, signal: Signal) {
    if let Some(pid) = Pid::from_raw(process.pid).filter(|_| alive(process)) {
        let _ = kill_process(pid, signal);
    }
}

/// Waits until none of `processes` is running (gone, or a zombie), polling every 20 ms for
/// at most `limit`.
pub fn wait_gone(processes: &[ProcessId], limit: Duration) -> Result<(), StillRunning> {
    let deadline = Instant::now() + limit;
    loop {
        let left: Vec<ProcessId> = processes.iter().copied().filter(alive).collect();
        if left.is_empty() {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(StillRunning { left, limit });
        }
        std::thread::sleep(POLL);
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::process::CommandExt;
    use std::process::{Child, Command};

    use super::*;

    fn pid_of(child: &Child) -> Pid {
        Pid::from_child(child)
    }

    /// A shell in its own process group with two `sleep`s that each call `setsid()`, as
    /// PostgreSQL's children do; returns once all three are running.
    fn like_a_postmaster() -> (Child, Vec<ProcessId>) {
        let mut shell = Command::new("sh")
            .args(["-c", "setsid sleep 30 & setsid sleep 30 & wait"])
            .process_group(0)
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        let processes = loop {
            let processes = server_processes(pid_of(&shell)).unwrap();
            if processes.iter().filter(|p| comm(p) == "sleep").count() == 2 {
                break processes;
            }
            if Instant::now() >= deadline {
                if let Ok(Some(root)) = ProcessId::of(pid_of(&shell)) {
                    let _ = kill_server(&root);
                }
                shell.wait().unwrap();
                panic!("the sleeps did not start: {processes:?}");
            }
            std::thread::sleep(POLL);
        };
        (shell, processes)
    }

    fn comm(process: &ProcessId) -> String {
        fs::read_to_string(format!("/proc/{}/comm", process.pid)).unwrap_or_default().trim().to_owned()
    }

    fn group_of(process: &ProcessId) -> i32 {
        let text = fs::read_to_string(format!("/proc/{}/stat", process.pid)).unwrap();
        text.rsplit_once(')').unwrap().1.split_whitespace().nth(2).unwrap().parse().unwrap()
    }

    /// The children that left the postmaster's process group are found by parent and killed
    /// one by one; killing the group alone would leave them running.
    #[test]
    fn children_outside_the_group_are_found_and_killed() {
        let (mut shell, processes) = like_a_postmaster();
        let root = ProcessId::of(pid_of(&shell)).unwrap().unwrap();
        assert_eq!(processes.len(), 3);
        assert!(processes.contains(&root));
        let outside: Vec<ProcessId> = processes.iter().copied().filter(|p| group_of(p) != root.pid).collect();
        assert_eq!(outside.len(), 2, "the sleeps are in groups of their own");

        // The group alone: the shell dies, the sleeps run on.
        kill_process_group(pid_of(&shell), Signal::KILL).unwrap();
        shell.wait().unwrap();
        assert!(!alive(&root));
        std::thread::sleep(Duration::from_millis(100));
        assert!(outside.iter().all(alive), "killing the group reached a setsid child");
        for process in &outside {
            signal(process, Signal::KILL);
        }
        wait_gone(&outside, Duration::from_secs(10)).unwrap();

        // kill_server reaches every one of them.
        let (mut shell, processes) = like_a_postmaster();
        let root = ProcessId::of(pid_of(&shell)).unwrap().unwrap();
        let killed = kill_server(&root).unwrap();
        assert_eq!(killed, processes);
        wait_gone(&killed, Duration::from_secs(10)).unwrap();
        assert!(processes.iter().all(|p| !alive(p)));
        shell.wait().unwrap();
    }

    /// A pid whose start time differs is another process; a zombie is not running.
    #[test]
    fn a_process_is_its_pid_and_start_time() {
        let mut sleeper = Command::new("sleep").arg("30").spawn().unwrap();
        let me = ProcessId::of(pid_of(&sleeper)).unwrap().unwrap();
        assert!(alive(&me));
        assert!(!alive(&ProcessId { start: me.start + 1, ..me }));
        sleeper.kill().unwrap();
        wait_gone(&[me], Duration::from_secs(10)).unwrap();
        // Not reaped yet: a zombie, which runs nothing.
        assert_eq!(read_stat(me.pid).unwrap().map(|s| s.state), Some('Z'));
        assert_eq!(ProcessId::of(pid_of(&sleeper)).unwrap(), None);
        assert_eq!(server_processes(pid_of(&sleeper)).unwrap(), Vec::new());
        sleeper.wait().unwrap();
        assert!(!alive(&me));
    }

    /// Waiting is bounded, and says which processes are left.
    #[test]
    fn waiting_gives_up_naming_what_is_left() {
        let mut sleeper = Command::new("sleep").arg("30").spawn().unwrap();
        let me = ProcessId::of(pid_of(&sleeper)).unwrap().unwrap();
        let error = wait_gone(&[me], Duration::from_millis(100)).unwrap_err();
        assert_eq!(error.left, [me]);
        assert!(error.to_string().contains(&format!("pid {}", me.pid)), "{error}");
        sleeper.kill().unwrap();
        sleeper.wait().unwrap();
    }

    /// A command name with spaces and parentheses does not shift the fields.
    #[test]
    fn stat_fields_count_from_the_last_parenthesis() {
        let text = "42 (postgres: a) b) S 7 42 42 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 98765 1000 10";
        let stat = parse_stat(text).unwrap();
        assert_eq!((stat.state, stat.ppid, stat.start), ('S', 7, 98765));
        assert!(parse_stat("42 (x) S 7").is_none());
    }
}
