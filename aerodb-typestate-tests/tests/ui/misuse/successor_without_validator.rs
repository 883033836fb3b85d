//! P6-A1: the successor record is computed only by the commit edge from an approval.
use aerodb_core::NodeId;
use aerodb_promotion::{AuthorityPlan, AuthorityRecord, RequestSummary};

fn main() {
    let record = AuthorityRecord::bootstrap(NodeId::new("primary-0").unwrap());
    let plan: AuthorityPlan = todo!();
    let summary: RequestSummary = todo!();
    let _ = record.succeeded_by(&plan, summary);
}
