//! `aerodb-pg-agent`: one per PostgreSQL server, beside it. Converges the server to the durable
//! authority one idempotent step at a time (see [`plan`](mod@plan)), from whatever state it finds.

pub mod plan;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::store_args::{Place, StoreArgs};
use aerodb_core::NodeId;
use aerodb_postgres::cluster::Cluster;
use aerodb_postgres::control::{Postmaster, ServerControl};
use aerodb_postgres::observe::observe;
use clap::Parser;
use postgres::NoTls;
use postgres::config::Host;

use aerodb_core::{Epoch, WalPosition};
use aerodb_promotion::{PrimaryReport, Stopped, SyncRule};
use plan::{Authority, Duties, FENCE_RULE, Running, Seen, Step, Sync, plan_with};

const AFTER_HELP: &str = "\
Exit codes: 0 stopped by SIGTERM or SIGINT (the server is left as it is), or --once converged;
1 could not start (cluster file, store options, data directory, another agent already manages
it), with its cause; 2 usage error; 3 --once did not converge within 32 looks; 4 --once found
something only an operator can resolve (printed as `step: hold: ...`). A failed action is
retried after a back-off that doubles up to 5 s.

Every step is printed on stdout as `step: ...`. The server acknowledges no write unless the
authority names this node at exactly the timeline the server is on, with the same history: a
primary the authority does not name is stopped at once (immediate shutdown), then rewound and
restarted as a standby of the named primary; a server that may come up writable is started
privately (no TCP, its socket in DATA-DIR.sock, mode 0700) and opened only once it checks out; a
standby the authority names is frozen and promoted only from exactly the record's switch point,
fenced until it checks out, and stopped (then kept private) if PostgreSQL runs another timeline.
The fence: with --synchronous, every standby carries synchronous_standby_names = 'FIRST 1
(\"aerodb fence\")', which no standby satisfies, so a promoted standby (by its agent, or by hand)
acknowledges no commit until its agent has checked it and set its rule; without --synchronous,
the standby is restarted privately before it is promoted. A session that lowers
synchronous_commit below on, or cancels its commit's wait, passes the fence as it passes the
acknowledged bound; so a standby is promoted only if PostgreSQL will name its new timeline the
record's epoch (no later history file in pg_wal, no restore_command).

While a stop of the primary stands (a switchover; at most 30 s), and for 5 s after the
authority moves to a new epoch, the agent looks every 5 ms instead of every --interval-ms.

A standby frozen for an observation (aerodb-promote observe) stays frozen while the authority
is the one it was frozen under, for at most --freeze-hold seconds, then streams again.

As the authority's primary, the agent keeps the primary report beside the authority: with
--synchronous, the rule is recorded there before PostgreSQL applies it (so an acknowledged bound
can be derived from it at failover), and a primary whose synchronous_commit is below on is not
opened; when a controller asks the primary to stop (aerodb-promote stop-primary), the agent
shuts the server down, states durably that it stopped (with pg_controldata's last
checkpoint) and never starts it again at that epoch unless the stop is withdrawn
(aerodb-promote resume-primary).

The server programs run as the owner of the data directory.";

/// Keep one PostgreSQL server converged to the durable authority.
#[derive(Debug, Parser)]
#[command(name = "aerodb-pg-agent", version, after_help = AFTER_HELP)]
struct Args {
    /// This node's id, as the authority and the cluster file name it.
    #[arg(long, value_name = "NODE")]
    node: String,
    /// The server's data directory.
    #[arg(long, value_name = "DIR")]
    pgdata: PathBuf,
    /// The directory of PostgreSQL's server programs (pg_ctl, pg_rewind), e.g.
    /// /usr/lib/postgresql/15/bin.
    #[arg(long, value_name = "DIR")]
    bindir: PathBuf,
    /// The server's log file (default: the data directory's path with `.log` appended).
    #[arg(long, value_name = "FILE")]
    server_log: Option<PathBuf>,
    /// The cluster file: one `NODE CONNINFO` line per node, this one included.
    #[arg(long, value_name = "FILE")]
    cluster: PathBuf,
    /// Where the authority is kept.
    #[command(flatten)]
    store: StoreArgs,
    /// Milliseconds between two looks when there is nothing to do.
    #[arg(long, value_name = "MS", default_value_t = 200, value_parser = clap::value_parser!(u64).range(10..=60_000))]
    interval_ms: u64,
    /// How long a freeze for an observation is kept while the authority does not change.
    #[arg(long, value_name = "SECONDS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=3600))]
    freeze_hold: u64,
    /// The synchronous standby rule to apply when this node is the primary, in PostgreSQL's
    /// syntax over node ids (e.g. "ANY 1 (pg1, pg2, pg3)"; this node is left out of it, its
    /// count capped at the standbys left). Without it synchronous_standby_names is left alone
    /// and no rule is reported.
    #[arg(long, value_name = "RULE")]
    synchronous: Option<SyncRule>,
    /// Take steps until there is nothing to do, then exit.
    #[arg(long)]
    once: bool,
    /// Test hook: after this many actions, print `paused after N actions` and wait to be killed.
    #[arg(long, value_name = "N", hide = true)]
    pause_after: Option<u64>,
}

/// How long a freeze may take to see its WAL receiver gone.
const FREEZE_LIMIT: Duration = Duration::from_secs(10);

/// How long a promotion may take to end recovery.
const PROMOTE_LIMIT: Duration = Duration::from_secs(60);

/// How many looks `--once` takes at most before giving up.
const ONCE_LIMIT: usize = 32;

struct Agent {
    /// One agent per data directory, for this process's life.
    _lock: std::fs::File,
    /// The authority the last plan was made under.
    planned: Option<Authority>,
    me: NodeId,
    place: Place,
    cluster: Cluster,
    server: ServerControl,
    /// The user and host of this node's server, from the cluster file.
    user: String,
    host: String,
    /// The port its server listens on: the cluster file's, given to every start.
    port: u16,
    /// The highest authority epoch seen: a lower one later is refused (never backwards).
    highest: u64,
    /// When a freeze under this epoch was first seen.
    frozen_since: Option<(u64, Instant)>,
    freeze_hold: Duration,
    /// The synchronous rule this node applies as primary.
    sync: Sync,
    /// The postmaster (its start time) whose checkpointer this agent saw take up
    /// [`FENCE_RULE`]: what makes commits wait is the checkpointer's copy.
    fence_confirmed: Option<String>,
    /// Since when a stop of the primary has been seen standing: a switchover under way, when
    /// the agent looks every [`HURRY`] instead of `--interval-ms`, for at most [`HURRY_LIMIT`].
    hurry_since: Option<Instant>,
    /// When this agent last saw the authority move to a newer epoch: it looks every [`HURRY`]
    /// for [`HURRY_AFTER_EPOCH`] after, while the nodes converge on the new primary.
    new_epoch_at: Option<Instant>,
}

/// How often an agent looks while a switchover is under way: the write outage waits on the
/// candidate's look and on the one of the standby that will acknowledge its first commit.
const HURRY: Duration = Duration::from_millis(5);

/// How long an agent keeps looking every [`HURRY`] after it first saw a stop standing.
const HURRY_LIMIT: Duration = Duration::from_secs(30);

/// How long an agent keeps looking every [`HURRY`] after it saw a newer epoch.
const HURRY_AFTER_EPOCH: Duration = Duration::from_secs(5);

/// `rule` as node `me` applies it when primary: `me` left out (up to ASCII case, as PostgreSQL
/// matches names, P6-S1), the count capped at the standbys left; none left: asynchronous.
fn rule_for(rule: &SyncRule, me: NodeId) -> Option<SyncRule> {
    let standbys: Vec<NodeId> =
        rule.standbys().iter().copied().filter(|s| !s.as_str().eq_ignore_ascii_case(me.as_str())).collect();
    let count = rule.count().min(standbys.len());
    SyncRule::new(rule.method(), count, standbys).ok()
}

/// Runs `aerodb-pg-agent` with the command line `args` (the program's name first).
pub fn main(args: impl IntoIterator<Item = std::ffi::OsString>) -> ExitCode {
    let args = match Args::try_parse_from(args) {
        Ok(args) => args,
        Err(error) => {
            let _ = error.print();
            return ExitCode::from(if error.use_stderr() { 2 } else { 0 });
        }
    };
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        if let Err(error) = signal_hook::flag::register(signal, Arc::clone(&stop)) {
            eprintln!("aerodb-pg-agent: cannot handle signal {signal}: {error}");
            return ExitCode::from(1);
        }
    }
    let mut agent = match Agent::new(&args) {
        Ok(agent) => agent,
        Err(error) => {
            eprintln!("aerodb-pg-agent: {error}");
            return ExitCode::from(1);
        }
    };
    let mut actions = 0u64;
    let mut looks = 0usize;
    let mut failures = 0u32;
    let mut last = String::new();
    loop {
        if stop.load(Ordering::Relaxed) {
            break ExitCode::SUCCESS;
        }
        let step = agent.next_step();
        let text = describe(&step);
        if text != last {
            say(&format!("step: {text}"));
            last = text;
        }
        looks += 1;
        let acts = !matches!(step, Step::Leads | Step::Follows | Step::Wait(_) | Step::Hold(_));
        let mut pause = Duration::from_millis(args.interval_ms);
        if agent.hurry_since.is_some_and(|since| since.elapsed() < HURRY_LIMIT)
            || agent.new_epoch_at.is_some_and(|at| at.elapsed() < HURRY_AFTER_EPOCH)
        {
            pause = pause.min(HURRY);
        }
        if acts {
            match agent.take(&step) {
                Ok(()) => failures = 0,
                Err(error) => {
                    say(&format!("step failed: {error}"));
                    // Back off: a failing action is not retried in a tight loop (at most 5 s).
                    failures = failures.saturating_add(1);
                    pause = (pause * 2u32.saturating_pow(failures.min(8))).min(Duration::from_secs(5));
                }
            }
            actions += 1;
            if args.pause_after == Some(actions) {
                say(&format!("paused after {actions} actions"));
                sleep_unless(&stop, Duration::from_secs(600));
                break ExitCode::SUCCESS;
            }
            if failures == 0 && !args.once {
                continue;
            }
        }
        if args.once {
            match step {
                Step::Leads | Step::Follows => break ExitCode::SUCCESS,
                Step::Hold(_) => break ExitCode::from(exit::HOLD),
                _ if looks >= ONCE_LIMIT => break ExitCode::from(exit::NOT_CONVERGED),
                _ if acts && failures == 0 => continue,
                _ => {}
            }
        }
        sleep_unless(&stop, pause);
    }
}

/// Exit codes, as `--help` documents them.
mod exit {
    /// `--once`: a step the operator must take (printed).
    pub const HOLD: u8 = 4;
    /// `--once`: not converged within its bound of looks.
    pub const NOT_CONVERGED: u8 = 3;
}

fn say(line: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

fn sleep_unless(stop: &AtomicBool, pause: Duration) {
    let until = Instant::now() + pause;
    while let Some(left) =
        until.checked_duration_since(Instant::now()).filter(|_| !stop.load(Ordering::Relaxed))
    {
        std::thread::sleep(left.min(Duration::from_millis(10)));
        if left.is_zero() {
            break;
        }
    }
}

fn describe(step: &Step) -> String {
    match step {
        Step::Leads => "primary at the authority's epoch: writable".to_owned(),
        Step::Follows => "standby of the authority's primary".to_owned(),
        Step::Wait(why) => format!("wait: {why}"),
        Step::Hold(why) => format!("hold: {why}"),
        Step::Fence => "fence: stop the server at once (immediate shutdown)".to_owned(),
        Step::StartPrivate => "start the server privately (no TCP) to check it".to_owned(),
        Step::StartPublic => "start the standby".to_owned(),
        Step::OpenUp => "restart the server publicly".to_owned(),
        Step::GoPrivate => "restart the standby privately to promote it".to_owned(),
        Step::ArmFence => format!(
            "arm the fence: synchronous_standby_names = '{FENCE_RULE}' (a standby: no effect until promoted)"
        ),
        Step::Freeze => "freeze: stop the standby's WAL receiver".to_owned(),
        Step::Promote => "promote (pg_promote)".to_owned(),
        Step::Rewind(source) => format!("pg_rewind from {source}, then follow it"),
        Step::Resync(source) => {
            format!(
                "stop the standby (it holds WAL the authority's history does not), pg_rewind from {source}"
            )
        }
        Step::Follow(primary) => format!("stream from {primary}"),
        Step::Shutdown => "shut down cleanly: a controller asked this primary to stop".to_owned(),
        Step::StateStopped => "state durably that the server stopped for good at this epoch".to_owned(),
        Step::RecordRules(rules) => {
            let rules: Vec<String> = rules.iter().map(ToString::to_string).collect();
            format!("record the synchronous rules [{}] in the primary report", rules.join("; "))
        }
        Step::ApplyRule(Some(rule)) => format!("set synchronous_standby_names = '{rule}'"),
        Step::ApplyRule(None) => "set synchronous_standby_names = '' (asynchronous)".to_owned(),
        Step::Checkpoint => {
            "checkpoint: the latest checkpoint is on an earlier timeline (pg_rewind reads it)".to_owned()
        }
        Step::Rejoin(primary) => {
            format!(
                "stopped cleanly before the next epoch began: set up as a standby of {primary}, no pg_rewind"
            )
        }
    }
}

impl Agent {
    fn new(args: &Args) -> Result<Agent, String> {
        let me = NodeId::new(&args.node).map_err(|e| format!("--node {:?}: {e}", args.node))?;
        let cluster = Cluster::read(&args.cluster).map_err(|e| e.to_string())?;
        let config =
            cluster.config(&me).ok_or_else(|| format!("the cluster file does not name node {me}"))?;
        let host = match config.get_hosts().first() {
            Some(Host::Tcp(host)) => host.clone(),
            Some(Host::Unix(dir)) => dir.display().to_string(),
            None => return Err(format!("the cluster file's conninfo of {me} names no host")),
        };
        let user = config.get_user().unwrap_or("postgres").to_owned();
        let port = config.get_ports().first().copied().unwrap_or(5432);
        let place = args.store.place().map_err(|e| e.to_string())?;
        let log = args.server_log.clone().unwrap_or_else(|| {
            let mut path = args.pgdata.clone().into_os_string();
            path.push(".log");
            PathBuf::from(path)
        });
        let server = ServerControl::new(&args.bindir, &args.pgdata, &log).map_err(|e| e.to_string())?;
        let lock = server.lock_for_agent().map_err(|e| e.to_string())?;
        Ok(Agent {
            _lock: lock,
            planned: None,
            me,
            place,
            cluster,
            server,
            user,
            host,
            port,
            highest: 0,
            frozen_since: None,
            freeze_hold: Duration::from_secs(args.freeze_hold),
            sync: args.synchronous.as_ref().map_or(Sync::Unmanaged, |rule| Sync::Apply(rule_for(rule, me))),
            fence_confirmed: None,
            hurry_since: None,
            new_epoch_at: None,
        })
    }

    /// Reads the authority and the server, and asks the plan.
    fn next_step(&mut self) -> Step {
        let record = match self.place.read(|problem| say(&format!("warning: {problem}"))) {
            Ok(record) => record,
            Err(error) => return Step::Wait(format!("the authority cannot be read: {error}")),
        };
        if let Some(record) = &record {
            let epoch = record.epoch().get();
            if epoch < self.highest {
                return Step::Hold(format!(
                    "the authority went back from epoch {} to {epoch}: nothing is changed",
                    self.highest
                ));
            }
            if epoch > self.highest && self.highest > 0 {
                self.new_epoch_at = Some(Instant::now());
            }
            self.highest = epoch;
        }
        // Unread, a stop requested of this primary could be missed: nothing is done.
        let report = match self.place.read_report() {
            Ok(report) => report,
            Err(error) => return Step::Wait(format!("the primary report cannot be read: {error}")),
        };
        let seen = self.seen();
        let expired = self.freeze_expired(&seen);
        let wanted = record.as_ref().and_then(|r| self.conninfo_of(r.primary()));
        let authority = record.as_ref().map(Authority::of);
        // A stopped former primary's last checkpoint: whether it can follow without pg_rewind.
        let checkpoint = match seen {
            Seen::Down { standby: false } => self.server.last_checkpoint().ok(),
            _ => None,
        };
        let stop_stands = report.as_ref().is_some_and(|r| {
            record.as_ref().is_some_and(|a| r.is_for(a.epoch(), a.primary()))
                && (r.stop_requested() || r.stopped().is_some())
        });
        self.hurry_since = if stop_stands { self.hurry_since.or_else(|| Some(Instant::now())) } else { None };
        let duties = Duties { report, sync: self.sync.clone(), checkpoint };
        let step = plan_with(self.me, authority.as_ref(), &seen, wanted.as_deref(), expired, &duties);
        // An expired freeze is lifted whatever the named primary is: it holds at most so long.
        let step = match (step, &authority) {
            (Step::Follow(primary), Some(authority)) if !expired => {
                self.once_promoted(primary, authority.epoch)
            }
            (step, _) => step,
        };
        self.planned = authority;
        step
    }

    fn freeze_expired(&mut self, seen: &Seen) -> bool {
        let frozen = match seen {
            Seen::Up(running) => running.frozen_at,
            _ => None,
        };
        match (frozen, self.frozen_since) {
            (None, _) => {
                self.frozen_since = None;
                false
            }
            (Some(epoch), Some((since_epoch, since))) if since_epoch == epoch => {
                since.elapsed() >= self.freeze_hold
            }
            (Some(epoch), _) => {
                self.frozen_since = Some((epoch, Instant::now()));
                false
            }
        }
    }

    /// What a standby of the record's primary streams from: its conninfo, with this node's
    /// name as `application_name` (what `synchronous_standby_names` lists).
    fn conninfo_of(&self, primary: NodeId) -> Option<String> {
        let conninfo = self.cluster.conninfo(&primary)?;
        Some(format!("{conninfo} application_name={}", self.me))
    }

    fn postmaster(&self) -> Option<Postmaster> {
        self.server.postmaster()
    }

    fn seen(&self) -> Seen {
        let Some(postmaster) = self.postmaster() else {
            return Seen::Down { standby: self.server.is_standby() };
        };
        // Public and not in recovery as far as its files tell (PostgreSQL removes
        // standby.signal before it ends recovery): it may be accepting writes — a primary
        // stopping smartly still serves its sessions.
        let may_write = !postmaster.is_private() && !self.server.is_standby();
        let unreadable = |why: String| Seen::Unreadable { why, may_write };
        if !matches!(postmaster.status.as_str(), "ready" | "standby") {
            return unreadable(format!("postmaster {} is {:?}", postmaster.pid, postmaster.status));
        }
        let config = postmaster.config(&self.user, &self.host);
        let state = match observe(&config) {
            Ok(state) => state,
            Err(error) => return unreadable(error.to_string()),
        };
        let in_recovery = state.in_recovery;
        let settings = config.connect(NoTls).and_then(|mut client| {
            let row = client.query_one(
                "SELECT current_setting('primary_conninfo'), current_setting('aerodb.frozen_at', true), \
                 current_setting('synchronous_standby_names'), current_setting('synchronous_commit'), \
                 EXISTS (SELECT 1 FROM pg_db_role_setting, unnest(setconfig) c \
                         WHERE lower(c) LIKE 'synchronous\\_commit=%' \
                           AND lower(split_part(c, '=', 2)) NOT IN ('on', 'true', 'yes', '1', 'remote_apply'))",
                &[],
            )?;
            // A primary's standbys that have flushed all it has (none asked of a standby).
            let caught_up: Vec<String> = if in_recovery {
                Vec::new()
            } else {
                client
                    .query(
                        "SELECT application_name FROM pg_stat_replication \
                         WHERE flush_lsn >= pg_current_wal_flush_lsn() ORDER BY application_name",
                        &[],
                    )?
                    .iter()
                    .map(|row| row.try_get(0))
                    .collect::<Result<_, _>>()?
            };
            Ok((
                row.try_get::<_, String>(0)?,
                row.try_get::<_, Option<String>>(1)?,
                row.try_get::<_, String>(2)?,
                row.try_get::<_, String>(3)?,
                row.try_get::<_, bool>(4)?,
                caught_up,
                // Apart: unreadable, it is unknown (no checkpoint asked), not a reason to fence.
                client
                    .query_one("SELECT timeline_id FROM pg_control_checkpoint()", &[])
                    .and_then(|row| row.try_get::<_, i32>(0))
                    .ok(),
            ))
        });
        let (
            following,
            frozen,
            synchronous,
            synchronous_commit,
            lowered_for_sessions,
            caught_up,
            checkpoint_timeline,
        ) = match settings {
            Ok(settings) => settings,
            Err(error) => return unreadable(pg_error(&error)),
        };
        let frozen_at =
            frozen.filter(|text| !text.is_empty()).map(|text| text.parse::<u64>().unwrap_or(u64::MAX));
        Seen::Up(Running {
            private: postmaster.is_private(),
            state,
            following,
            frozen_at,
            synchronous,
            synchronous_commit,
            lowered_for_sessions,
            caught_up,
            // Unknown reads as the newest timeline: no checkpoint is asked on a guess.
            checkpoint_timeline: checkpoint_timeline.and_then(|t| u32::try_from(t).ok()).unwrap_or(u32::MAX),
        })
    }

    /// Refuses to promote unless the cluster file's line for this node reaches this very server
    /// (the same postmaster, started at the same instant): what observers validated is what
    /// gets promoted, not a server another line or a copied agent points at.
    fn cluster_line_reaches_me(&self) -> Result<(), String> {
        // Which server answers: the node id its agent started it as, and its postmaster's start.
        let which = |config: &postgres::Config| -> Result<(Option<String>, String), String> {
            let mut client = config.connect(NoTls).map_err(|e| pg_error(&e))?;
            let row = client
                .query_one(
                    "SELECT nullif(current_setting('aerodb.node', true), ''), pg_postmaster_start_time()::text",
                    &[],
                )
                .map_err(|e| pg_error(&e))?;
            Ok((row.try_get(0).map_err(|e| pg_error(&e))?, row.try_get(1).map_err(|e| pg_error(&e))?))
        };
        let mine = which(&self.own_config()?)?;
        let line = self.cluster.config(&self.me).ok_or("the cluster file does not name this node")?;
        let theirs = which(&line).map_err(|e| format!("the cluster file's line for {}: {e}", self.me))?;
        if mine == theirs {
            Ok(())
        } else {
            Err(format!(
                "the cluster file's line for {} reaches another server (node {:?} started {}), not this one \
                 (node {:?} started {}): not promoting",
                self.me, theirs.0, theirs.1, mine.0, mine.1
            ))
        }
    }

    /// How this agent reaches its own running server: over the socket its postmaster.pid names.
    fn own_config(&self) -> Result<postgres::Config, String> {
        let postmaster = self.postmaster().ok_or("the server is not running")?;
        Ok(postmaster.config(&self.user, &self.host))
    }

    fn own_client(&self) -> Result<postgres::Client, String> {
        self.own_config()?.connect(NoTls).map_err(|e| pg_error(&e))
    }

    /// `Follow(primary)`, unless `primary` answers that it is still in recovery: not promoted
    /// yet. A standby streaming from it then would reach the end of its timeline at its
    /// promotion and wait up to `wal_retrieve_retry_interval` (5 s by default) before asking
    /// for the new one. A primary that cannot be asked is followed anyway.
    fn once_promoted(&self, primary: NodeId, epoch: Epoch) -> Step {
        let in_recovery = self.cluster.config(&primary).and_then(|config| {
            scalar::<bool>(&mut config.connect(NoTls).ok()?, "SELECT pg_is_in_recovery()").ok()
        });
        if in_recovery == Some(true) {
            Step::Wait(format!("{primary} is not promoted to epoch {epoch} yet: following it then"))
        } else {
            Step::Follow(primary)
        }
    }

    /// Refuses to promote unless PostgreSQL will take the planned epoch as its new timeline: it
    /// takes the first timeline after the one it follows (epoch − 1, as the plan checked) that
    /// has no history file, in `pg_wal` or an archive (which must be off: `restore_command`
    /// empty). Promoted onto another, the
    /// server would be stopped at the next look — but a session that cancelled its wait for
    /// the fence, or lowered `synchronous_commit`, could have been acknowledged there first.
    fn promotes_onto_epoch(&self) -> Result<(), String> {
        let epoch = self.planned.as_ref().ok_or("no authority was planned on")?.epoch;
        let restore: String = scalar(&mut self.own_client()?, "SELECT current_setting('restore_command')")?;
        if !restore.is_empty() {
            return Err(format!(
                "restore_command is '{restore}': an archive could hold a history file of a later timeline; not promoted"
            ));
        }
        // The plan promotes only a standby following timeline epoch − 1: a history file of the
        // epoch's timeline or a later one would make PostgreSQL go past it.
        let wal = self.server.data_dir().join("pg_wal");
        let entries = std::fs::read_dir(&wal).map_err(|e| format!("{}: {e}", wal.display()))?;
        for entry in entries {
            let name = entry.map_err(|e| format!("{}: {e}", wal.display()))?.file_name();
            let name = name.to_string_lossy();
            let later = name
                .strip_suffix(".history")
                .and_then(|hex| u64::from_str_radix(hex, 16).ok())
                .filter(|timeline| *timeline >= epoch.get());
            if let Some(timeline) = later {
                return Err(format!(
                    "pg_wal holds {name} (timeline {timeline}): PostgreSQL would promote past it, not onto epoch {epoch}; not promoted (remove it if no server runs that timeline)"
                ));
            }
        }
        Ok(())
    }

    /// The authority now is the one this step was planned on (a step that opens a server
    /// refuses to act on a record that moved since).
    fn authority_unchanged(&self) -> Result<(), String> {
        let now = self.place.read(|_| ()).map_err(|e| e.to_string())?.as_ref().map(Authority::of);
        if now == self.planned {
            Ok(())
        } else {
            Err("the authority changed since this step was planned".to_owned())
        }
    }

    /// Refuses to rewind from `source` before its latest checkpoint is on the planned epoch's
    /// timeline: `pg_rewind` takes the source's timeline from that checkpoint, and from a
    /// primary promoted moments ago would find "no rewind required" where one is (the server
    /// then cannot start). The source's agent checkpoints once it leads.
    fn checkpointed_on_epoch(&self, source: &NodeId) -> Result<(), String> {
        let epoch = self.planned.as_ref().ok_or("no authority was planned on")?.epoch;
        let config =
            self.cluster.config(source).ok_or_else(|| format!("the cluster file does not name {source}"))?;
        let timeline: i32 = config
            .connect(NoTls)
            .map_err(|e| pg_error(&e))
            .and_then(|mut client| scalar(&mut client, "SELECT timeline_id FROM pg_control_checkpoint()"))
            .map_err(|e| format!("{source}: {e}"))?;
        if i64::from(timeline) < i64::try_from(epoch.get()).unwrap_or(i64::MAX) {
            return Err(format!(
                "{source}'s latest checkpoint is on timeline {timeline}, not yet on epoch {epoch}'s: not rewinding from it yet"
            ));
        }
        Ok(())
    }

    /// Refuses to follow a primary of another database system (P6-F1: not one cluster), when
    /// that primary can be asked.
    fn same_system(&self, primary: &NodeId) -> Result<(), String> {
        let identify = |config: &postgres::Config| {
            aerodb_postgres::walsender::identify(config)
                .map(|(id, _)| id.system_identifier)
                .map_err(|e| e.to_string())
        };
        let mine = identify(&self.own_config()?)?;
        let config = self
            .cluster
            .config(primary)
            .ok_or_else(|| format!("the cluster file does not name {primary}"))?;
        // A primary that cannot be asked now is followed anyway: its walreceiver compares the
        // identifiers itself when it connects, and refuses a different system.
        let Ok(theirs) = identify(&config) else { return Ok(()) };
        if mine == theirs {
            Ok(())
        } else {
            Err(format!(
                "not following {primary}: its database system identifier is {theirs}, this server's {mine} (not one cluster)"
            ))
        }
    }

    /// Runs one step's action.
    fn take(&mut self, step: &Step) -> Result<(), String> {
        let sql = |statements: &[&str]| -> Result<(), String> {
            let mut client = self.own_client()?;
            for statement in statements {
                client.batch_execute(statement).map_err(|e| format!("{statement}: {}", pg_error(&e)))?;
            }
            Ok(())
        };
        match step {
            Step::Leads | Step::Follows | Step::Wait(_) | Step::Hold(_) => Ok(()),
            Step::Fence => self.server.stop(true).map_err(|e| e.to_string()),
            Step::StartPrivate => self.server.start(true, self.port, &self.me).map_err(|e| e.to_string()),
            Step::StartPublic => self.server.start(false, self.port, &self.me).map_err(|e| e.to_string()),
            Step::OpenUp => {
                self.server.stop(false).map_err(|e| e.to_string())?;
                // The record may have moved while the server stopped: open only under the one
                // planned on, or leave it stopped for the next look.
                self.authority_unchanged().map_err(|e| format!("{e}: left stopped"))?;
                self.server.start(false, self.port, &self.me).map_err(|e| e.to_string())
            }
            Step::ArmFence => self.arm_fence(),
            Step::GoPrivate => {
                self.cluster_line_reaches_me()?;
                self.server.stop(false).map_err(|e| e.to_string())?;
                self.server.start(true, self.port, &self.me).map_err(|e| e.to_string())
            }
            // The one freeze an observation makes too: WAL receiver and archive recovery off.
            Step::Freeze => {
                let epoch = self.planned.as_ref().map_or(0, |authority| authority.epoch.get());
                aerodb_postgres::observe::freeze(&self.own_config()?, epoch, FREEZE_LIMIT)
                    .map_err(|e| e.to_string())
            }
            // pg_promote(wait => true) polls every 100 ms, which a switchover's write outage
            // would pay: signalled without waiting, then watched every 2 ms (at most 60 s).
            Step::Promote => {
                let private = self.postmaster().is_some_and(|p| p.is_private());
                if !private {
                    // What observers validated is what gets promoted; and the fence holds.
                    self.cluster_line_reaches_me()?;
                    self.confirm_fence()?;
                }
                self.promotes_onto_epoch()?;
                let mut client = self.own_client()?;
                if !scalar::<bool>(&mut client, "SELECT pg_promote(false)")? {
                    return Err("pg_promote could not signal the server".to_owned());
                }
                let deadline = Instant::now() + PROMOTE_LIMIT;
                while scalar::<bool>(&mut client, "SELECT pg_is_in_recovery()")? {
                    if Instant::now() >= deadline {
                        return Err(format!(
                            "pg_promote did not finish within {} s",
                            PROMOTE_LIMIT.as_secs()
                        ));
                    }
                    std::thread::sleep(Duration::from_millis(2));
                }
                Ok(())
            }
            Step::Resync(source) => {
                self.checkpointed_on_epoch(source)?;
                self.server.stop(false).map_err(|e| e.to_string())?;
                self.rewind_from(source)
            }
            Step::Rewind(source) => {
                self.checkpointed_on_epoch(source)?;
                self.rewind_from(source)
            }
            Step::Checkpoint => sql(&["CHECKPOINT"]),
            Step::Shutdown => self.server.stop(false).map_err(|e| e.to_string()),
            Step::Rejoin(_) => self.server.make_standby().map_err(|e| e.to_string()),
            Step::StateStopped => {
                let checkpoint = self.server.last_checkpoint().map_err(|e| e.to_string())?;
                let checkpoint = Stopped {
                    checkpoint: WalPosition::new(Epoch::new(checkpoint.timeline.into()), checkpoint.lsn),
                    clean: checkpoint.clean,
                };
                self.change_report(|report| Ok(report.with_stopped(checkpoint)))
            }
            Step::RecordRules(rules) => {
                self.change_report(|report| report.with_synchronous(rules.clone()).map_err(|e| e.to_string()))
            }
            // Asked only of a writable primary: its new rule may lift the fence, which opens it,
            // so only under the authority planned on, as OpenUp.
            Step::ApplyRule(rule) => {
                self.authority_unchanged()?;
                self.set_synchronous(&rule.as_ref().map(ToString::to_string).unwrap_or_default())?;
                // Commits made under the fence are released by a synchronous standby's next
                // reply, which new WAL brings: a commit of nothing, not itself waiting.
                sql(&["BEGIN; SET LOCAL synchronous_commit = local; SELECT txid_current(); COMMIT"])
            }
            Step::Follow(primary) => {
                self.same_system(primary)?;
                let wanted = self
                    .conninfo_of(*primary)
                    .ok_or_else(|| format!("the cluster file does not name {primary}"))?;
                alter_system(&mut self.own_client()?, "primary_conninfo", &wanted)?;
                sql(&[
                    "ALTER SYSTEM RESET restore_command",
                    FROZEN_PLACEHOLDER,
                    "ALTER SYSTEM SET aerodb.frozen_at = ''",
                    "SELECT pg_reload_conf()",
                ])
            }
        }
    }
}

impl Agent {
    /// `pg_rewind`s the stopped server from `source`, printing what it said. It writes its own
    /// `primary_conninfo`; the next look sets ours.
    fn rewind_from(&self, source: &NodeId) -> Result<(), String> {
        let conninfo = self
            .cluster
            .conninfo(source)
            .ok_or_else(|| format!("the cluster file does not name {source}"))?;
        let output = self.server.rewind(conninfo).map_err(|e| e.to_string())?;
        for line in output.lines().filter(|l| l.starts_with("pg_rewind:")) {
            say(&format!("  {line}"));
        }
        Ok(())
    }

    /// Sets [`FENCE_RULE`] on the standby, then confirms the checkpointer took it up (it keeps
    /// the copy commits consult): see [`confirm_fence`](Self::confirm_fence).
    fn arm_fence(&mut self) -> Result<(), String> {
        self.set_synchronous(FENCE_RULE)?;
        self.fence_confirmed = None;
        self.confirm_fence()
    }

    /// Sets `synchronous_standby_names` to `text` (quoted by the server) and reloads; returns
    /// once a new session sees it: the postmaster has reloaded, and signalled every process.
    fn set_synchronous(&self, text: &str) -> Result<(), String> {
        let mut client = self.own_client()?;
        let source: String =
            scalar(&mut client, "SELECT source FROM pg_settings WHERE name = 'synchronous_standby_names'")?;
        if !["default", "configuration file"].contains(&source.as_str()) {
            return Err(format!(
                "synchronous_standby_names is set by the {source}, which ALTER SYSTEM cannot override: \
                 remove it there and let this agent (--synchronous) set it"
            ));
        }
        alter_system(&mut client, "synchronous_standby_names", text)?;
        client.batch_execute("SELECT pg_reload_conf()").map_err(|e| pg_error(&e))?;
        let deadline = Instant::now() + FREEZE_LIMIT;
        loop {
            let seen: String =
                scalar(&mut self.own_client()?, "SELECT current_setting('synchronous_standby_names')")?;
            if seen == text {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "synchronous_standby_names is still '{seen}' {} s after a reload set it to '{text}'",
                    FREEZE_LIMIT.as_secs()
                ));
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// Confirms, once per postmaster, that the standby's checkpointer runs under
    /// [`FENCE_RULE`]: a new session sees the fence, so the postmaster had loaded it (and
    /// signalled the checkpointer) or started with it; a `CHECKPOINT` (on a standby, a
    /// restartpoint) runs only after the checkpointer has handled the reloads it was sent.
    fn confirm_fence(&mut self) -> Result<(), String> {
        let mut client = self.own_client()?;
        let row = client
            .query_one(
                "SELECT current_setting('synchronous_standby_names'), pg_postmaster_start_time()::text",
                &[],
            )
            .map_err(|e| pg_error(&e))?;
        let (rule, started): (String, String) =
            (row.try_get(0).map_err(|e| pg_error(&e))?, row.try_get(1).map_err(|e| pg_error(&e))?);
        if rule.trim() != FENCE_RULE {
            return Err(format!("synchronous_standby_names is '{rule}', not the fence: not promoted"));
        }
        // Twice: a reload signal landing between the checkpointer's handling of interrupts and
        // its taking up the first request is handled before the second. Once per postmaster:
        // later reloads (a freeze's) leave the rule as it is, and one that changes it is seen
        // by a look and armed again (`arm_fence` confirms anew); not in a switchover's outage,
        // where the first would be a full restartpoint.
        if self.fence_confirmed.as_deref() != Some(started.as_str()) {
            client.batch_execute("CHECKPOINT; CHECKPOINT").map_err(|e| pg_error(&e))?;
            self.fence_confirmed = Some(started);
        }
        Ok(())
    }
}

impl Agent {
    /// Replaces this primary's report for the planned epoch by `change` of it (a fresh one if
    /// the stored report is of another epoch or node), compare-and-swap against what was read.
    fn change_report(
        &self,
        change: impl FnOnce(PrimaryReport) -> Result<PrimaryReport, String>,
    ) -> Result<(), String> {
        let epoch = self.planned.as_ref().ok_or("no authority was planned on")?.epoch;
        let stored = self.place.read_report().map_err(|e| e.to_string())?;
        let base = stored
            .clone()
            .filter(|r| r.is_for(epoch, self.me))
            .unwrap_or_else(|| PrimaryReport::new(epoch, self.me));
        let report = change(base)?;
        let mut store = self.place.open(false).map_err(|e| e.to_string())?;
        store.swap_report(stored.as_ref(), &report).map_err(|e| e.to_string())
    }
}

/// The one value of `sql`'s one row, on `client`.
fn scalar<T: for<'a> postgres::types::FromSql<'a>>(
    client: &mut postgres::Client,
    sql: &str,
) -> Result<T, String> {
    client.query_one(sql, &[]).and_then(|row| row.try_get(0)).map_err(|e| pg_error(&e))
}

/// `ALTER SYSTEM SET name = value`, the value quoted by the server itself
/// (`standard_conforming_strings` either way).
fn alter_system(client: &mut postgres::Client, name: &str, value: &str) -> Result<(), String> {
    let set: String = client
        .query_one("SELECT format('ALTER SYSTEM SET %s = %L', $1::text, $2::text)", &[&name, &value])
        .and_then(|row| row.try_get(0))
        .map_err(|e| pg_error(&e))?;
    client.batch_execute(&set).map_err(|e| format!("{set}: {}", pg_error(&e)))
}

/// `aerodb.frozen_at` is a custom setting: the session must know it before ALTER SYSTEM may set it.
const FROZEN_PLACEHOLDER: &str = aerodb_postgres::observe::FROZEN_PLACEHOLDER;

use aerodb_postgres::observe::message as pg_error;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_primary_leaves_itself_out_of_its_rule_up_to_case() {
        let rule = |text: &str| text.parse::<SyncRule>().unwrap();
        let me = NodeId::new("pg1").unwrap();
        assert_eq!(rule_for(&rule("ANY 2 (PG1, pg2, pg3)"), me), Some(rule("ANY 2 (pg2, pg3)")));
        assert_eq!(rule_for(&rule("FIRST 2 (pg2, Pg1)"), me), Some(rule("FIRST 1 (pg2)")));
        assert_eq!(rule_for(&rule("ANY 1 (pg1)"), me), None);
    }
}
