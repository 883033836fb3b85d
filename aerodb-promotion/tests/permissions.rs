//! Only the controller's user can touch the authority on disk (P6-A1): the store creates
//! `0700` directories and `0600` files whatever the umask, and refuses a `metadata/` directory
//! or record that group or others may write, or that another user owns, before it locks,
//! reads or writes anything. One test, because the umask is per process.

mod common;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use aerodb_promotion::file_store::{
    DIR_MODE, FILE_MODE, Ownership, check_permissions, judge_permissions, read_record,
};
use aerodb_promotion::*;
use common::*;

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().mode() & 0o7777
}

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// Every file and directory below `root`, with its mode.
fn tree(root: &Path) -> Vec<(String, u32)> {
    let mut out = vec![(root.display().to_string(), mode(root))];
    for entry in std::fs::read_dir(root).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(tree(&path));
        } else {
            out.push((path.display().to_string(), mode(&path)));
        }
    }
    out
}

/// The bytes and modes of `root`'s tree: what "nothing changed" compares.
fn snapshot(root: &Path) -> Vec<(String, u32, Option<Vec<u8>>)> {
    tree(root)
        .into_iter()
        .map(|(p, m)| {
            let bytes = std::fs::read(&p).ok();
            (p, m, bytes)
        })
        .collect()
}

#[test]
fn the_store_is_private_to_its_owner_whatever_the_umask() {
    let previous = rustix::process::umask(rustix::fs::Mode::empty()); // umask 000
    let dir = temp_dir("perm");
    let data = dir.path().join("data");

    // Created under umask 000: nothing anyone but the owner can write.
    let mut store = FileAuthorityStore::open(&data).unwrap();
    let first = store.bootstrap(id("primary-0")).unwrap();
    let inputs = aerodb_promotion::testing::caught_up_inputs(&first, id("replica-1"), 10);
    let _ = approve(&store, "replica-1", &inputs).begin_transition().commit(&mut store).unwrap().complete();
    drop(store);
    for (path, found) in tree(&data) {
        let expected = if Path::new(&path).is_dir() { DIR_MODE } else { FILE_MODE };
        assert_eq!(found, expected, "{path} has mode {found:04o} under umask 000");
    }
    assert!(check_permissions(&data).unwrap().is_empty());

    // A chmod of metadata/ or of the record afterwards is refused on the next open, naming the
    // path, the mode found and the mode required, with nothing changed.
    let metadata = data.join("metadata");
    let record = metadata.join("authority.record");
    for (path, bad, required) in
        [(&metadata, 0o777, DIR_MODE), (&record, 0o666, FILE_MODE), (&record, 0o620, FILE_MODE)]
    {
        chmod(path, bad);
        let before = snapshot(&data);
        let refused = FileAuthorityStore::open(&data).unwrap_err();
        let StoreError::Insecure(PermissionProblem::Writable { path: named, mode, required: wanted }) =
            &refused
        else {
            panic!("{}: expected a permission refusal, got {refused}", path.display())
        };
        assert_eq!((named, *mode, *wanted), (path, bad, required));
        let message = refused.to_string();
        assert!(message.contains(&path.display().to_string()), "{message}");
        assert!(
            message.contains(&format!("{bad:04o}")) && message.contains(&format!("{required:04o}")),
            "{message}"
        );
        assert_eq!(snapshot(&data), before, "a refused open changes nothing");
        // Inspection warns and still reads.
        assert_eq!(check_permissions(&data).unwrap().len(), 1);
        assert_eq!(read_record(&data).unwrap().map(|r| r.epoch()), Some(aerodb_core::Epoch::new(2)));
        chmod(path, required);
    }
    // Group or other read is allowed: reading grants nothing.
    chmod(&metadata, 0o750);
    chmod(&record, 0o640);
    FileAuthorityStore::open(&data).unwrap();

    // Another owner: a real case where this test runs as root.
    if rustix::process::geteuid().is_root() {
        std::os::unix::fs::chown(&record, Some(65534), None).unwrap();
        let refused = FileAuthorityStore::open(&data).unwrap_err();
        assert!(
            matches!(
                &refused,
                StoreError::Insecure(PermissionProblem::ForeignOwner { owner: 65534, euid: 0, .. })
            ),
            "{refused}"
        );
        std::os::unix::fs::chown(&record, Some(0), None).unwrap();
        FileAuthorityStore::open(&data).unwrap();
    }
    rustix::process::umask(previous);
}

/// The decision as a pure function of what `stat` reports.
#[test]
fn the_permission_rule_as_a_function_of_owner_and_mode() {
    let path = Path::new("/d/metadata");
    let judge = |mode, uid, euid| judge_permissions(path, DIR_MODE, Ownership { mode, uid }, euid);
    for ok in [0o700, 0o750, 0o755, 0o500, 0o600, 0o644, 0o400] {
        assert_eq!(judge(ok, 1000, 1000), None, "{ok:04o}");
    }
    for bad in [0o720, 0o702, 0o777, 0o722, 0o1777, 0o760, 0o706] {
        assert!(
            matches!(judge(bad, 1000, 1000), Some(PermissionProblem::Writable { mode, .. }) if mode == bad),
            "{bad:04o}"
        );
    }
    assert_eq!(
        judge(0o700, 0, 1000),
        Some(PermissionProblem::ForeignOwner { path: path.to_owned(), owner: 0, euid: 1000 })
    );
    assert!(
        matches!(judge(0o700, 1000, 0), Some(PermissionProblem::ForeignOwner { .. })),
        "root owns nothing it did not create"
    );
}
