//! Prints the authority record of a data directory, read-only.
//!
//! ```sh
//! cargo run --example inspect -- DATA_DIR [--json]
//! ```
//! Exit 0 with the record; 3 with "no authority record"; 1 naming the failed check for any
//! invalid record; 2 for bad usage. A `metadata/` directory or record that group or others may
//! write, or that another user owns, is reported as a warning on stderr and still read, so an
//! operator can look at a store before fixing it (a controller's open refuses it).

use std::process::ExitCode;

use aerodb::promotion::{AuthorityRecord, Force, StoreError, check_permissions, read_record};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let json = args.iter().any(|a| a == "--json");
    let dirs: Vec<&String> = args.iter().filter(|a| *a != "--json").collect();
    let [dir] = dirs.as_slice() else {
        eprintln!("usage: inspect DATA_DIR [--json]");
        return ExitCode::from(2);
    };
    match check_permissions(dir) {
        Ok(problems) => problems.iter().for_each(|p| eprintln!("warning: {p}")),
        Err(error) => eprintln!("warning: cannot check permissions: {error}"),
    }
    match read_record(dir) {
        Ok(Some(record)) => {
            if json {
                println!("{}", as_json(&record));
            } else {
                print!("{}", as_text(&record));
            }
            ExitCode::SUCCESS
        }
        Ok(None) => {
            eprintln!("no authority record in {dir}/metadata/authority.record");
            ExitCode::from(3)
        }
        Err(error @ StoreError::Corrupt { .. }) => {
            eprintln!("invalid authority record: {error}");
            ExitCode::from(1)
        }
        Err(error) => {
            eprintln!("cannot read authority record: {error}");
            ExitCode::from(1)
        }
    }
}

fn as_text(record: &AuthorityRecord) -> String {
    let request = record.request();
    let mut out = format!(
        "epoch:            {}\nprimary:          {}\nprevious primary: {}\nstart position:   {}\nforce:            {}\nreason:           {}\nhistory:\n",
        record.epoch(),
        record.primary(),
        record.previous_primary().map_or_else(|| "none".to_owned(), |p| p.to_string()),
        record.start(),
        request.map_or(Force::NotRequested, |r| r.force),
        request.and_then(|r| r.reason.as_deref()).unwrap_or("none"),
    );
    if record.history().is_empty() {
        out.push_str("  (none)\n");
    }
    for past in record.history() {
        out.push_str(&format!("  epoch {} primary {} from {}", past.epoch, past.primary, past.start));
        if let Some(r) = &past.request {
            out.push_str(&format!(", force {}, reason {}", r.force, r.reason.as_deref().unwrap_or("none")));
        }
        out.push('\n');
    }
    out
}

fn as_json(record: &AuthorityRecord) -> serde_json::Value {
    let request = record.request();
    serde_json::json!({
        "epoch": record.epoch().get(),
        "primary": record.primary().to_string(),
        "previous_primary": record.previous_primary().map(|p| p.to_string()),
        "start": { "epoch": record.start().epoch.get(), "lsn": record.start().lsn.get() },
        "force": request.map_or(Force::NotRequested, |r| r.force),
        "reason": request.and_then(|r| r.reason.clone()),
        "request_id": request.and_then(|r| r.request_id.clone()),
        "history": record.history().iter().map(|p| serde_json::json!({
            "epoch": p.epoch.get(),
            "primary": p.primary.to_string(),
            "start": { "epoch": p.start.epoch.get(), "lsn": p.start.lsn.get() },
            "request": p.request,
        })).collect::<Vec<_>>(),
    })
}
