//! The compile-fail spec suite: one batched trybuild run over every forbidden transition and misuse.

#[test]
fn forbidden_transitions_and_misuse_do_not_compile() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/forbidden/*.rs");
    cases.compile_fail("tests/ui/misuse/*.rs");
}
