//! `candidates`: for generated clusters (synchronous rules ANY/FIRST of various k and n, named
//! standbys observed or not, the old primary unknown, stopped, fenced or known active, histories
//! behind, caught up, diverged or unknown), each refused node's stated missing evidence, applied
//! here independently of the library, approves it, and leaving out any one item does not; a node
//! stated unfixable stays refused under every single addition generated here. Seeded: replay a
//! failure with `AERODB_QC_SEED=<seed>`.

mod common;

use aerodb_core::testing::check;
use aerodb_core::*;
use aerodb_promotion::*;
use common::*;
use quickcheck::{Arbitrary, Gen};

const NODES: [&str; 4] = ["pg2", "pg3", "pg4", "pg5"];
const LSNS: [u64; 7] = [40, 80, 100, 120, 150, 180, 220];

fn pick<T: Copy>(g: &mut Gen, from: &[T]) -> T {
    *g.choose(from).unwrap()
}

fn position(g: &mut Gen, epochs: u64) -> WalPosition {
    pos(1 + u64::arbitrary(g) % epochs, pick(g, &LSNS))
}

/// A generated cluster: the authority (epoch 1, or epoch 2 from LSN 100) led by pg1, and what
/// was observed of it.
#[derive(Debug, Clone)]
struct Cluster {
    inputs: ValidationInputs,
}

fn node_view(g: &mut Gen, name: &str, authority: &EpochHistory) -> NodeView {
    let epochs = authority.latest().epoch.get();
    let at = position(g, epochs);
    let role = match u8::arbitrary(g) % 12 {
        0 => ReplicationState::ReplicationHalted { reason: HaltReason::WalGap },
        1 => ReplicationState::Uninitialized,
        2 => ReplicationState::PrimaryActive,
        _ => ReplicationState::ReplicaActive,
    };
    let mut view = NodeView::new(id(name), role, at);
    view.history = match u8::arbitrary(g) % 6 {
        0 => None,
        1 => Some(history(&[(1, 0)])),
        2 => Some(history(&[(1, 0), (2, 80)])),
        _ => Some(authority.clone()),
    };
    view.mvcc = match u8::arbitrary(g) % 8 {
        0 => None,
        1 => Some(MvccBoundary::at_rest(Lsn::new(at.lsn.get() + 10))),
        2 => Some(MvccBoundary {
            visible_commit: Lsn::new(at.lsn.get().saturating_sub(5)),
            applying: Some(PartialCommit { commit_lsn: at.lsn, applied: 1, total: 2 }),
        }),
        _ => Some(MvccBoundary::at_rest(at.lsn)),
    };
    view
}

fn rule(g: &mut Gen) -> SyncRule {
    let n = 1 + usize::arbitrary(g) % NODES.len();
    let mut names: Vec<NodeId> = NODES.iter().map(|s| id(s)).collect();
    // A shuffle by repeated picks, so which standbys are named and their order vary.
    let mut standbys = Vec::new();
    while standbys.len() < n {
        let i = usize::arbitrary(g) % names.len();
        standbys.push(names.remove(i));
    }
    let k = 1 + usize::arbitrary(g) % n;
    let method = if bool::arbitrary(g) { SyncMethod::Any } else { SyncMethod::First };
    SyncRule::new(method, k, standbys).unwrap()
}

impl Arbitrary for Cluster {
    fn arbitrary(g: &mut Gen) -> Self {
        let authority = if bool::arbitrary(g) { history(&[(1, 0)]) } else { history(&[(1, 0), (2, 100)]) };
        let epoch = authority.latest().epoch;
        let mut inputs = ValidationInputs::new(Some(AuthorityView::new(id("pg1"), authority.clone())));
        match u8::arbitrary(g) % 4 {
            0 => inputs.nodes.push(node_view(g, "pg1", &authority)),
            1 => {
                let mut primary = node_view(g, "pg1", &authority);
                primary.replication = ReplicationState::PrimaryActive;
                inputs.nodes.push(primary);
            }
            _ => {}
        }
        for name in NODES {
            // pg5 is seldom observed: a named standby nobody reached.
            let observed = if name == "pg5" { u8::arbitrary(g) % 4 == 0 } else { u8::arbitrary(g) % 5 != 0 };
            if observed {
                inputs.nodes.push(node_view(g, name, &authority));
            }
        }
        inputs.old_primary = pick(
            g,
            &[
                OldPrimary::Unknown,
                OldPrimary::Unknown,
                OldPrimary::ConfirmedStopped,
                OldPrimary::Fenced,
                OldPrimary::KnownActive,
            ],
        );
        if u8::arbitrary(g) % 3 == 0 {
            inputs.acknowledged = Some(position(g, epoch.get()));
        }
        if u8::arbitrary(g) % 4 != 0 {
            let rules: Vec<SyncRule> = (0..u8::arbitrary(g) % 3).map(|_| rule(g)).collect();
            let report_epoch = if u8::arbitrary(g) % 8 == 0 { Epoch::new(epoch.get() + 1) } else { epoch };
            let mut report = PrimaryReport::new(report_epoch, id("pg1")).with_synchronous(rules).unwrap();
            if u8::arbitrary(g) % 4 == 0 {
                report = report.with_stopped(Stopped {
                    checkpoint: position(g, epoch.get()),
                    clean: bool::arbitrary(g),
                });
            }
            inputs.report = Some(report);
        }
        Cluster { inputs }
    }
}

/// The evidence added to `inputs`, as the documentation of each [`Missing`] says — written here
/// apart from the library's own.
fn with_evidence(inputs: &ValidationInputs, evidence: &[&Missing]) -> ValidationInputs {
    let mut inputs = inputs.clone();
    for item in evidence {
        match item {
            Missing::OldPrimaryStopped { .. } => inputs.old_primary = OldPrimary::ConfirmedStopped,
            Missing::CleanStop { primary, at_most } => {
                let authority = inputs.authority.as_ref().unwrap();
                let epoch = authority.history.latest().epoch;
                let report = match &inputs.report {
                    Some(r) if r.epoch() == epoch && r.primary() == authority.primary => r.clone(),
                    _ => PrimaryReport::new(epoch, *primary),
                };
                inputs.report = Some(report.with_stopped(Stopped { checkpoint: *at_most, clean: true }));
            }
            Missing::Acknowledged { at_most } => inputs.acknowledged = Some(*at_most),
            Missing::Observed { node, at_most } => {
                assert!(inputs.node(*node).is_none(), "{node} was observed already");
                inputs.nodes.push(NodeView::new(*node, ReplicationState::ReplicaActive, *at_most));
            }
            Missing::WalReaches { node, position } => {
                let view = inputs.nodes.iter_mut().find(|n| n.id == *node).unwrap();
                assert!(position.lsn > view.position.lsn, "{item}: the WAL already reaches it");
                view.position = *position;
            }
            Missing::HistoryKnown { node, history } | Missing::HistoryHasEpoch { node, history, .. } => {
                inputs.nodes.iter_mut().find(|n| n.id == *node).unwrap().history = Some(history.clone());
            }
            Missing::MvccKnown { node, visible_commit } => {
                inputs.nodes.iter_mut().find(|n| n.id == *node).unwrap().mvcc =
                    Some(MvccBoundary::at_rest(*visible_commit))
            }
            other => panic!("evidence this test does not know: {other}"),
        }
    }
    inputs
}

fn approved(inputs: &ValidationInputs, node: NodeId) -> bool {
    let request = PromotionRequest::builder(node.as_str()).build().unwrap();
    matches!(assess(PromotionPolicy::Enabled, &request, inputs).verdict, Verdict::Approve(_))
}

/// Every single addition this test can make for `node`, with several values each.
fn single_additions(inputs: &ValidationInputs, node: NodeId) -> Vec<Missing> {
    let authority = inputs.authority.as_ref().unwrap();
    let primary = authority.primary;
    let epochs = authority.history.latest().epoch.get();
    let view = inputs.node(node).unwrap();
    let mut positions: Vec<WalPosition> =
        (1..=epochs).flat_map(|e| LSNS.iter().map(move |&l| pos(e, l))).collect();
    positions.push(view.position);
    let mut all = Vec::new();
    // An addition, not a contradiction: a primary known active is not also confirmed stopped.
    if inputs.old_primary != OldPrimary::KnownActive {
        all.push(Missing::OldPrimaryStopped { primary });
    }
    let current = inputs.report.as_ref().filter(|r| r.epoch() == authority.history.latest().epoch);
    let stated = current.is_some_and(|r| r.stopped().is_some());
    // A report of a newer epoch is what tells that the record went back: no statement of this
    // epoch's primary replaces it.
    let newer = inputs.report.as_ref().is_some_and(|r| r.epoch() > authority.history.latest().epoch);
    for &p in &positions {
        if !stated && !newer {
            all.push(Missing::CleanStop { primary, at_most: p });
        }
        if inputs.acknowledged.is_none() {
            all.push(Missing::Acknowledged { at_most: p });
        }
        // The WAL moves forward from a position that is on the node's own history: a position
        // that contradicts its history (P6-F1) has no "forward" to go.
        let consistent = view.history.as_ref().is_none_or(|h| h.place(view.position).is_ok());
        if consistent && p.lsn > view.position.lsn {
            all.push(Missing::WalReaches { node, position: p });
        }
        for other in NODES.iter().map(|s| id(s)).filter(|n| inputs.node(*n).is_none()) {
            all.push(Missing::Observed { node: other, at_most: p });
        }
    }
    // Additions only: an unknown history or boundary made known, a known history extended
    // along the authority's; what was observed is not replaced.
    let auth = &authority.history;
    match &view.history {
        None => {
            for h in [history(&[(1, 0)]), auth.clone()] {
                all.push(Missing::HistoryKnown { node, history: h });
            }
        }
        Some(h) if h.entries().len() < auth.entries().len() && auth.entries().starts_with(h.entries()) => {
            all.push(Missing::HistoryHasEpoch { node, epoch: auth.latest().epoch, history: auth.clone() });
        }
        Some(_) => {}
    }
    if view.mvcc.is_none() {
        for lsn in [view.position.lsn, Lsn::ZERO] {
            all.push(Missing::MvccKnown { node, visible_commit: lsn });
        }
    }
    all
}

/// The property, for one cluster: every node's remedy is exact, and unfixable means unfixable.
fn remedies_are_exact(cluster: Cluster) -> bool {
    let inputs = &cluster.inputs;
    let found = candidates(PromotionPolicy::Enabled, inputs);
    assert_eq!(found, candidates(PromotionPolicy::Enabled, inputs), "deterministic");
    let mut ids: Vec<NodeId> = inputs.nodes.iter().map(|n| n.id).filter(|n| n.as_str() != "pg1").collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(
        found.nodes.iter().map(|c| c.node).collect::<Vec<_>>(),
        ids,
        "every node but the primary, sorted"
    );
    for c in &found.nodes {
        assert_eq!(c.approved(), approved(inputs, c.node), "{}: the verdict is assess's", c.node);
        match &c.remedy {
            None => assert!(c.approved(), "{}: refused without a remedy", c.node),
            Some(Remedy::Missing { evidence }) => {
                assert!(!c.approved() && !evidence.is_empty(), "{}: {evidence:?}", c.node);
                let all: Vec<&Missing> = evidence.iter().collect();
                assert!(
                    approved(&with_evidence(inputs, &all), c.node),
                    "{}: adding {evidence:?} does not approve it\n{inputs:#?}",
                    c.node
                );
                for left_out in 0..all.len() {
                    let mut some = all.clone();
                    some.remove(left_out);
                    assert!(
                        !approved(&with_evidence(inputs, &some), c.node),
                        "{}: approved without {} of {evidence:?}\n{inputs:#?}",
                        c.node,
                        all[left_out]
                    );
                }
            }
            Some(Remedy::Unfixable { blocker }) => {
                assert!(!c.approved());
                for addition in single_additions(inputs, c.node) {
                    assert!(
                        !approved(&with_evidence(inputs, &[&addition]), c.node),
                        "{}: stated unfixable ({blocker}) but {addition} approves it\n{inputs:#?}",
                        c.node
                    );
                }
            }
        }
    }
    true
}

#[test]
fn stated_evidence_is_exactly_what_approves() {
    check("candidates_remedies_are_exact", 1500, remedies_are_exact as fn(Cluster) -> bool);
}

/// Regression (seed 2925583110): a standby observed at the candidate's own point is not always
/// the most favourable. Under `ANY 4 (pg2, pg5, pg4, pg3)` the lowest observed standby bounds
/// what was acknowledged; pg2 at 1/180 is on a branch epoch 2 left at 1/100, so pg4 (at 2/180 on
/// the authority's history) does not hold it. pg5 observed at 2/180 leaves that bound; pg5 at or
/// before 1/100 replaces it with one pg4 holds. The remedy names the highest such value.
#[test]
fn a_standby_observed_lower_can_move_the_bound_onto_the_candidates_branch() {
    let h = history(&[(1, 0), (2, 100)]);
    let mut inputs = ValidationInputs::new(Some(AuthorityView::new(id("pg1"), h.clone())));
    let mut pg2 = replica("pg2", pos(1, 180), h.clone());
    pg2.mvcc = None;
    let mut pg3 = replica("pg3", pos(1, 220), h.clone());
    pg3.replication = ReplicationState::Uninitialized;
    inputs.nodes = vec![pg2, pg3, replica("pg4", pos(2, 180), h)];
    inputs.old_primary = OldPrimary::Fenced;
    inputs.acknowledged = Some(pos(1, 40));
    let rule: SyncRule = "ANY 4 (pg2, pg5, pg4, pg3)".parse().unwrap();
    inputs.report = Some(PrimaryReport::new(Epoch::new(2), id("pg1")).with_synchronous(vec![rule]).unwrap());

    let found = candidates(PromotionPolicy::Enabled, &inputs);
    let pg4 = found.nodes.iter().find(|c| c.node == id("pg4")).unwrap();
    let expected = Missing::Observed { node: id("pg5"), at_most: pos(1, 100) };
    assert_eq!(pg4.remedy, Some(Remedy::Missing { evidence: vec![expected.clone()] }), "{found}");
    assert!(approved(&with_evidence(&inputs, &[&expected]), id("pg4")));
    // Higher, or at the candidate's own point (the single value offered before): refused.
    for at_most in [pos(1, 180), pos(2, 100), pos(2, 180)] {
        let higher = Missing::Observed { node: id("pg5"), at_most };
        assert!(!approved(&with_evidence(&inputs, &[&higher]), id("pg4")), "{higher}");
    }
    assert!(remedies_are_exact(Cluster { inputs }));
}

/// A WAL end that contradicts the node's own history (1/120 when its epoch 1 ended at 100) is
/// not moved forward to approve it: more WAL does not undo a contradiction (P6-F1).
#[test]
fn a_wal_end_off_its_own_history_is_not_moved_forward() {
    let h = history(&[(1, 0), (2, 100)]);
    let mut inputs = ValidationInputs::new(Some(AuthorityView::new(id("pg1"), h.clone())));
    inputs.nodes = vec![replica("pg2", pos(1, 120), h.clone()), replica("pg3", pos(2, 190), h)];
    inputs.old_primary = OldPrimary::ConfirmedStopped;
    inputs.acknowledged = Some(pos(2, 190));
    let found = candidates(PromotionPolicy::Enabled, &inputs);
    let pg2 = found.nodes.iter().find(|c| c.node == id("pg2")).unwrap();
    match &pg2.remedy {
        Some(Remedy::Unfixable {
            blocker: Blocker::Denied { reason: DenialReason::PositionOffHistory { .. } },
        }) => {}
        other => panic!("{other:?}\n{found}"),
    }
    assert!(remedies_are_exact(Cluster { inputs }));
}

/// The generator reaches every kind of outcome: approvals, each kind of missing evidence, and
/// unfixable nodes, so the property above is not vacuous.
#[test]
fn the_generated_space_reaches_every_remedy() {
    let mut g = Gen::from_size_and_seed(64, 7);
    let mut kinds = std::collections::BTreeSet::new();
    for _ in 0..3000 {
        let cluster = Cluster::arbitrary(&mut g);
        for c in candidates(PromotionPolicy::Enabled, &cluster.inputs).nodes {
            let kind = match &c.remedy {
                None => vec!["approved".to_owned()],
                Some(Remedy::Unfixable { .. }) => vec!["unfixable".to_owned()],
                Some(Remedy::Missing { evidence }) => evidence
                    .iter()
                    .map(|m| serde_json::to_value(m).unwrap()["kind"].as_str().unwrap().to_owned())
                    .collect(),
            };
            kinds.extend(kind);
        }
    }
    let expected = [
        "acknowledged",
        "approved",
        "clean_stop",
        "history_has_epoch",
        "history_known",
        "mvcc_known",
        "observed",
        "old_primary_stopped",
        "unfixable",
        "wal_reaches",
    ];
    assert_eq!(kinds.iter().map(String::as_str).collect::<Vec<_>>(), expected);
}

/// The operator's words for each kind, and its JSON.
#[test]
fn each_missing_item_reads_in_operator_words_and_serializes_in_snake_case() {
    let item = Missing::WalReaches { node: id("pg2"), position: pos(1, 3_000_060) };
    assert_eq!(item.to_string(), "flush ≥ 1/3000060 on pg2");
    let json = serde_json::to_value(&item).unwrap();
    assert_eq!(
        json,
        serde_json::json!({"kind": "wal_reaches", "node": "pg2", "position": {"epoch": 1, "lsn": 3000060}})
    );
    let history_item = Missing::HistoryHasEpoch {
        node: id("pg3"),
        epoch: Epoch::new(2),
        history: history(&[(1, 0), (2, 100)]),
    };
    assert_eq!(history_item.to_string(), "pg3's history has epoch 2: [1@0, 2@100] (the authority's)");
    let back: Missing = serde_json::from_value(serde_json::to_value(&history_item).unwrap()).unwrap();
    assert_eq!(back, history_item);
}

/// Epoch 1 led by pg1 (history `[1@0]`), its old primary confirmed stopped, acknowledged through
/// 1/100; pg2 caught up at 1/100, pg3 behind at 1/80.
fn two_replicas() -> ValidationInputs {
    let h = history(&[(1, 0)]);
    let mut inputs = ValidationInputs::new(Some(AuthorityView::new(id("pg1"), h.clone())));
    inputs.nodes = vec![replica("pg2", pos(1, 100), h.clone()), replica("pg3", pos(1, 80), h)];
    inputs.old_primary = OldPrimary::ConfirmedStopped;
    inputs.acknowledged = Some(pos(1, 100));
    inputs
}

/// What the operator reads and what the tool's exit status rests on: `any_approved` says
/// whether some node would be approved now, and the text lists each node's verdict, each
/// missing item, an unfixable node's blocker and the summary line (P6-O2). Pins
/// `Candidates::any_approved` and the `Display` of `Candidates` and `Blocker`.
#[test]
fn the_candidates_text_and_summary_say_what_each_node_needs() {
    let inputs = two_replicas();
    let found = candidates(PromotionPolicy::Enabled, &inputs);
    assert!(found.any_approved(), "{found}");
    let text = found.to_string();
    assert!(text.starts_with("pg2: WOULD APPROVE: epoch 1 to 2 with pg2 as primary, from 1/100 ("), "{text}");
    let pg3 = found.nodes.iter().find(|c| c.node == id("pg3")).unwrap();
    let Verdict::Deny(behind) = &pg3.verdict else { panic!("{text}") };
    assert!(text.contains(&format!("\npg3: DENIED: {behind}\n  missing: flush ≥ 1/100 on pg3\n")), "{text}");
    assert!(text.ends_with("\nwould be approved: pg2\n"), "{text}");

    // The old primary known active: no node approvable, nor any evidence that would change it.
    let mut active = inputs;
    active.old_primary = OldPrimary::KnownActive;
    let found = candidates(PromotionPolicy::Enabled, &active);
    assert!(!found.any_approved(), "{found}");
    let reason = DenialReason::OldPrimaryActive { primary: id("pg1") };
    let blocker = Blocker::Denied { reason };
    assert_eq!(blocker.to_string(), reason.to_string());
    let text = found.to_string();
    assert!(text.contains(&format!("\n  no evidence changes this: {reason}\n")), "{text}");
    assert!(text.ends_with("\nno node would be approved\n"), "{text}");
    let rejected = Blocker::Rejected { rejection: Rejection::Disabled };
    assert_eq!(rejected.to_string(), Rejection::Disabled.to_string());
}

/// An old primary that stated an unclean stop is not offered a clean stop as evidence: its
/// agent has said how it stopped, and a clean-stop statement beside it would contradict that
/// (P6-F1); the remedy is the evidence the stated rules need, the standby observed (P6-S1).
/// Pins the `&&` of `pool`'s `!active && !stated`: `||` offered the clean stop first.
#[test]
fn a_stated_unclean_stop_is_not_remedied_by_a_clean_one() {
    let inputs = stated_unclean_stop();
    let found = candidates(PromotionPolicy::Enabled, &inputs);
    let pg2 = found.nodes.iter().find(|c| c.node == id("pg2")).unwrap();
    assert_eq!(
        pg2.remedy,
        Some(Remedy::Missing { evidence: vec![Missing::Observed { node: id("pg9"), at_most: pos(1, 100) }] }),
        "{found}"
    );
    assert!(remedies_are_exact(Cluster { inputs }));
}

/// The smallest remedy over all, not the first found: pg9 observed at pg4's 1/300 (the most
/// lenient value, tried first) approves pg2 only with its WAL brought to 1/300 too, two items;
/// pg9 observed at 1/100 alone does (P6-O2: nothing listed that is not needed). Pins the `<=`
/// of the search's early stop: `>` stopped at the first, larger remedy.
#[test]
fn the_smallest_remedy_is_found_past_a_larger_first_one() {
    let mut inputs = stated_unclean_stop();
    let h = history(&[(1, 0)]);
    inputs.nodes.push(replica("pg4", pos(1, 300), h));
    let found = candidates(PromotionPolicy::Enabled, &inputs);
    let pg2 = found.nodes.iter().find(|c| c.node == id("pg2")).unwrap();
    assert_eq!(
        pg2.remedy,
        Some(Remedy::Missing { evidence: vec![Missing::Observed { node: id("pg9"), at_most: pos(1, 100) }] }),
        "{found}"
    );
    assert!(remedies_are_exact(Cluster { inputs }));
}

/// [`two_replicas`] with the old primary's report: the rule `ANY 1 (pg2, pg9)`, pg9 not
/// observed, and a stop requested and stated unclean at 1/50; nothing given of the old primary
/// or of what was acknowledged.
fn stated_unclean_stop() -> ValidationInputs {
    let mut inputs = two_replicas();
    let report = PrimaryReport::new(Epoch::new(1), id("pg1"))
        .with_synchronous(vec!["ANY 1 (pg2, pg9)".parse().unwrap()])
        .unwrap()
        .with_stop_requested()
        .with_stopped(Stopped { checkpoint: pos(1, 50), clean: false });
    inputs.report = Some(report);
    inputs.old_primary = OldPrimary::Unknown;
    inputs.acknowledged = None;
    inputs
}

/// A remedy of two pieces, which only the search of pairs finds: pg2 at 1/80 is short of
/// epoch 2 (begun at 100), the old primary unknown and nothing bounds what was acknowledged. A
/// clean stop at pg2's point (1/80) lies before epoch 2 began, which contradicts the authority
/// (P6-F1), so it cannot be the one piece that both stops the old primary and bounds what was
/// acknowledged; the stop confirmed and the acknowledged position given do, with pg2's WAL
/// brought to the switch point (P6-A1, P6-S1, P6-S2). Pins the search budget (`1 << 12`): with
/// none, the pairs go untried and pg2 is called unfixable.
#[test]
fn a_remedy_of_two_pieces_is_found_by_the_search_of_pairs() {
    let authority = history(&[(1, 0), (2, 100)]);
    let mut inputs = ValidationInputs::new(Some(AuthorityView::new(id("pg1"), authority)));
    inputs.nodes = vec![replica("pg2", pos(1, 80), history(&[(1, 0)]))];
    inputs.old_primary = OldPrimary::Unknown;
    inputs.acknowledged = None;
    let found = candidates(PromotionPolicy::Enabled, &inputs);
    let pg2 = found.nodes.iter().find(|c| c.node == id("pg2")).unwrap();
    let evidence = vec![
        Missing::OldPrimaryStopped { primary: id("pg1") },
        Missing::Acknowledged { at_most: pos(1, 80) },
        Missing::WalReaches { node: id("pg2"), position: pos(1, 100) },
    ];
    assert_eq!(pg2.remedy, Some(Remedy::Missing { evidence }), "{found}");
    assert!(remedies_are_exact(Cluster { inputs }));
}

/// What no evidence touches is named as the blocker: a second primary visible (check 2, P6-A1)
/// refuses pg2 whatever is added, and that is what the operator reads, not the later failure
/// the remaining evidence would leave (pg2's history diverged from the authority's, check 6).
/// Pins `remedy`'s early answer for a settled denial: without it the search runs and the blocker
/// shown is the prefix's.
#[test]
fn a_settled_denial_is_the_blocker_shown() {
    let authority = history(&[(1, 0), (2, 100)]);
    let mut inputs = ValidationInputs::new(Some(AuthorityView::new(id("pg1"), authority.clone())));
    let active =
        NodeView::new(id("pg3"), ReplicationState::PrimaryActive, pos(2, 120)).with_history(authority);
    inputs.nodes = vec![replica("pg2", pos(1, 150), history(&[(1, 0)])), active];
    inputs.old_primary = OldPrimary::ConfirmedStopped;
    inputs.acknowledged = Some(pos(1, 100));
    let found = candidates(PromotionPolicy::Enabled, &inputs);
    let pg2 = found.nodes.iter().find(|c| c.node == id("pg2")).unwrap();
    let reason = DenialReason::SecondPrimary { node: id("pg3"), primary: id("pg1") };
    assert_eq!(pg2.remedy, Some(Remedy::Unfixable { blocker: Blocker::Denied { reason } }), "{found}");
}

/// Among remedies of one size, the first found: pg2's MVCC boundary unknown, every remedy also
/// carries its own `MvccKnown`, so the search goes on through every value of pg9 after the
/// first that approves; pg9 observed at 1/100 (the most lenient that does without moving pg2's
/// WAL) stays the answer, not a lower value found later (P6-D1, P6-O2). Pins the `<` that keeps
/// the first of equal remedies: `<=` ended on the last.
#[test]
fn among_equal_remedies_the_first_found_is_kept() {
    let mut inputs = stated_unclean_stop();
    inputs.nodes.push(replica("pg4", pos(1, 300), history(&[(1, 0)])));
    inputs.nodes[0].mvcc = None;
    let found = candidates(PromotionPolicy::Enabled, &inputs);
    let pg2 = found.nodes.iter().find(|c| c.node == id("pg2")).unwrap();
    let evidence = vec![
        Missing::Observed { node: id("pg9"), at_most: pos(1, 100) },
        Missing::MvccKnown { node: id("pg2"), visible_commit: Lsn::new(100) },
    ];
    assert_eq!(pg2.remedy, Some(Remedy::Missing { evidence }), "{found}");
    assert!(remedies_are_exact(Cluster { inputs }));
}

/// An unfixable node's blocker is its WAL off the authority's history (check 6) before a bound
/// it does not hold (check 5), since no WAL it gains reaches that bound (P6-S2): pg2 switched
/// to epoch 2 at 90 where the authority did at 100, so the acknowledged 1/95 lies past the end
/// of epoch 1 on pg2's history. Pins the `==` that finds the prefix check in `blocker`: `!=`
/// showed the first failure, check 5's.
#[test]
fn an_unfixable_nodes_blocker_is_its_diverged_wal_before_a_bound() {
    let authority = history(&[(1, 0), (2, 100)]);
    let mut inputs = ValidationInputs::new(Some(AuthorityView::new(id("pg1"), authority.clone())));
    inputs.nodes = vec![
        replica("pg2", pos(2, 120), history(&[(1, 0), (2, 90)])),
        replica("pg3", pos(2, 150), authority),
    ];
    inputs.old_primary = OldPrimary::ConfirmedStopped;
    inputs.acknowledged = Some(pos(1, 95));
    let found = candidates(PromotionPolicy::Enabled, &inputs);
    let pg2 = found.nodes.iter().find(|c| c.node == id("pg2")).unwrap();
    let Verdict::Deny(first) = pg2.verdict else { panic!("{found}") };
    let Some(Remedy::Unfixable { blocker: Blocker::Denied { reason } }) = pg2.remedy else {
        panic!("{found}")
    };
    assert_ne!(first, reason, "{found}");
    assert_eq!(reason, DenialReason::HistoryDiverged { epoch: Epoch::new(2), at: Lsn::new(90) }, "{found}");
    assert!(remedies_are_exact(Cluster { inputs }));
}

/// A diverged history is not papered over with the authority's: pg2 switched to epoch 2 at 90
/// where the authority did at 100, and the acknowledged 3/250 lies in epoch 3, which pg2 has
/// not learnt. Gaining epoch 3 would continue pg2's own history, not the authority's, so no
/// history shown for it approves it (P6-S2, P6-F1). Pins the `&&` of `extended_to`: `||`
/// extended any shorter history, a diverged one too, and listed it as missing evidence.
#[test]
fn a_diverged_history_is_not_extended_along_the_authoritys() {
    let authority = history(&[(1, 0), (2, 100), (3, 200)]);
    let mut inputs = ValidationInputs::new(Some(AuthorityView::new(id("pg1"), authority.clone())));
    inputs.nodes = vec![
        replica("pg2", pos(2, 150), history(&[(1, 0), (2, 90)])),
        replica("pg3", pos(3, 250), authority),
    ];
    inputs.old_primary = OldPrimary::ConfirmedStopped;
    inputs.acknowledged = Some(pos(3, 250));
    let found = candidates(PromotionPolicy::Enabled, &inputs);
    let pg2 = found.nodes.iter().find(|c| c.node == id("pg2")).unwrap();
    assert!(matches!(pg2.remedy, Some(Remedy::Unfixable { .. })), "{found}");
    assert!(remedies_are_exact(Cluster { inputs }));
}
