//! Trace validation: the events the real library emits through a promotion, a controller crash
//! with recovery from a file store, and a second promotion, replayed through the model, which
//! must allow every step; a doctored log must be refused at the step that was changed.

use std::error::Error;

use aerodb_core::{Epoch, EpochHistory, Lsn, MvccBoundary, NodeId, ReplicationState, WalPosition};
use aerodb_model::trace::{Forbidden, Step, step_of, validate};
use aerodb_model::{Config, ProtocolModel};
use aerodb_promotion::testing::events::Capture;
use aerodb_promotion::{
    AuthorityStore, Decision, FileAuthorityStore, NodeView, OldPrimary, PromotionPolicy, PromotionRequest,
    ValidationInputs, recover,
};

type Result<T> = std::result::Result<T, Box<dyn Error>>;

/// A configuration wide enough for the logged run: no client writes, crashes enough to stop
/// each old primary.
const TRACED: Config = Config {
    controllers: 2,
    nodes: 3,
    max_epoch: 4,
    max_writes: 0,
    node_crashes: 2,
    controller_crashes: 1,
    message_loss: false,
    mutant: None,
    blocked_reads_as_fenced: false,
};

/// How many environment steps may separate two logged steps.
const DEPTH: usize = 2;

/// One attempt to promote `candidate`, its WAL empty, the recorded primary confirmed stopped
/// and the acknowledged position `known` (unknown denies).
fn attempt(store: &mut FileAuthorityStore, candidate: &str, known: bool) -> Result<bool> {
    let recovered = recover(&*store)?;
    let authority = recovered.authority.as_ref().ok_or("no authority")?.view();
    let at = WalPosition::new(Epoch::INITIAL, Lsn::ZERO);
    let view = NodeView::new(NodeId::new(candidate)?, ReplicationState::ReplicaActive, at)
        .with_history(EpochHistory::initial(Epoch::INITIAL))
        .with_mvcc(MvccBoundary::at_rest(at.lsn));
    let mut inputs =
        ValidationInputs::new(Some(authority)).with_node(view).with_old_primary(OldPrimary::ConfirmedStopped);
    if known {
        inputs = inputs.with_acknowledged(at);
    }
    let request = PromotionRequest::builder(candidate).build()?;
    let validating = recovered.steady.request(request).begin_validation(PromotionPolicy::Enabled, &inputs)?;
    Ok(match validating.decide(&inputs) {
        Decision::Approved(approved) => {
            let (_steady, _committed) =
                approved.begin_transition().commit(store).map_err(|f| f.error().to_string())?.complete();
            true
        }
        Decision::Denied(denied) => {
            let (_steady, _denial) = denied.conclude();
            false
        }
    })
}

/// The steps of the real run's events: bootstrap n0; promote n1; a denied attempt; the
/// controller crashes (its store handle dropped) and a new one recovers from the file store;
/// promote n2.
fn recorded() -> Result<Vec<Step>> {
    let dir = tempfile::Builder::new().prefix("aerodb-model-trace-").tempdir()?;
    let capture = Capture::default();
    tracing::subscriber::with_default(capture.clone(), || -> Result<()> {
        let mut store = FileAuthorityStore::open(dir.path())?;
        store.bootstrap(NodeId::new("n0")?)?;
        assert!(attempt(&mut store, "n1", true)?);
        assert!(!attempt(&mut store, "n2", false)?);
        drop(store);
        let mut store = FileAuthorityStore::open(dir.path())?;
        assert!(attempt(&mut store, "n2", true)?);
        Ok(())
    })?;
    let mut steps = Vec::new();
    for event in capture.take() {
        if let Some(step) = step_of(&event.name, &event.fields)? {
            steps.push(step);
        }
    }
    Ok(steps)
}

#[test]
fn the_real_event_log_is_a_path_of_the_model() -> Result<()> {
    let steps = recorded()?;
    let expected = [
        Step::Started { candidate: 1 },
        Step::Committed { epoch: 2, primary: 1 },
        Step::Started { candidate: 2 },
        Step::Committed { epoch: 3, primary: 2 },
    ];
    assert_eq!(steps, expected);
    let states = validate(&ProtocolModel::new(TRACED), &steps, DEPTH).map_err(|f| format!("{f:?}"))?;
    assert!(states > 0);
    Ok(())
}

#[test]
fn a_doctored_log_is_refused_at_the_doctored_step() -> Result<()> {
    let model = ProtocolModel::new(TRACED);
    // The second commit claims epoch 2 again: the store holds epoch 2, so no commit can.
    let mut twice = recorded()?;
    twice[3] = Step::Committed { epoch: 2, primary: 2 };
    assert_eq!(validate(&model, &twice, DEPTH), Err(Forbidden { index: 3, step: twice[3].clone() }));
    // The first commit names a node no controller was asked to promote.
    let mut other = recorded()?;
    other[1] = Step::Committed { epoch: 2, primary: 0 };
    assert_eq!(validate(&model, &other, DEPTH), Err(Forbidden { index: 1, step: other[1].clone() }));
    // A commit no approved attempt sent.
    let unsent = [Step::Committed { epoch: 2, primary: 1 }];
    assert_eq!(validate(&model, &unsent, DEPTH), Err(Forbidden { index: 0, step: unsent[0].clone() }));
    Ok(())
}
