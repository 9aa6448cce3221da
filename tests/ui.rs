//! Compile-fail cases (one mistake each, grouped per macro) and pass cases for the macros.
//! Regenerate a `.stderr` with `TRYBUILD=overwrite cargo test --test ui`, then read it.

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/event/*.rs");
    cases.compile_fail("tests/ui/command/*.rs");
    cases.compile_fail("tests/ui/aggregate/*.rs");
    cases.compile_fail("tests/ui/projection/*.rs");
    cases.pass("tests/ui/pass/*.rs");
}
