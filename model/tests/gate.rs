//! The model's gate value against the library's real `WriteGate`: every sequence of up to
//! three observations and WAL admissions, from a replica's gate and from a primary's, leaves
//! both in the same state with the same answers.

use aerodb_core::{Epoch, NodeId};
use aerodb_model::gate::Gate;
use aerodb_promotion::testing::detached_primary_gate_for_tests;
use aerodb_promotion::{GateRole, WriteGate};

#[derive(Clone, Copy, Debug)]
enum Op {
    Observe(u64),
    AdmitWal(u64),
}

fn same(real: &WriteGate, mirror: &Gate) -> bool {
    real.epoch().get() == mirror.epoch
        && (real.role() == GateRole::Primary) == mirror.primary
        && real.is_fenced() == mirror.fenced
        && real.observed_epoch().get() == mirror.observed
        && real.admit_write().ok().map(Epoch::get) == mirror.admit_write()
}

#[test]
fn gate_mirror_agrees_with_the_real_gate() {
    let ops: Vec<Op> = (0..4).flat_map(|e| [Op::Observe(e), Op::AdmitWal(e)]).collect();
    // Every sequence of length 0 to 3, shortest first.
    let mut sequences: Vec<Vec<Op>> = vec![Vec::new()];
    let mut layer = sequences.clone();
    for _ in 0..3 {
        layer =
            layer.iter().flat_map(|s| ops.iter().map(move |op| [s.as_slice(), &[*op]].concat())).collect();
        sequences.extend(layer.iter().cloned());
    }
    let node = NodeId::new("n0").unwrap();
    let mut checked = 0;
    for sequence in &sequences {
        for primary in [false, true] {
            let real = if primary {
                detached_primary_gate_for_tests(node)
            } else {
                WriteGate::replica(node, None).unwrap()
            };
            let mut mirror = if primary {
                Gate { epoch: 1, primary: true, fenced: false, observed: 1 }
            } else {
                Gate::replica(0)
            };
            assert!(same(&real, &mirror), "start, primary {primary}");
            for op in sequence {
                match *op {
                    Op::Observe(e) => {
                        real.observe_epoch(Epoch::new(e));
                        mirror.observe_epoch(e);
                    }
                    Op::AdmitWal(e) => {
                        assert_eq!(real.admit_wal(Epoch::new(e)).is_ok(), mirror.admit_wal(e), "{sequence:?}")
                    }
                }
                assert!(same(&real, &mirror), "{sequence:?} from primary {primary}: {real:?} vs {mirror:?}");
            }
            checked += 1;
        }
    }
    assert_eq!(checked, 2 * (1 + 8 + 64 + 512));
}
