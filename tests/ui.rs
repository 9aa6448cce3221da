//! Compile-fail cases (one mistake each, grouped per macro) and pass cases for the macros.
//! Regenerate a `.stderr` with `TRYBUILD=overwrite cargo test --test ui`, then read it.

/// Runs with the default features only: rustc's messages list other types implementing a
/// trait (serde's, for instance), and that list changes with the crates the store features
/// link in. The default-feature `cargo test` (the README's command, run by CI) runs it.
#[cfg(not(any(feature = "postgres", feature = "nats")))]
#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/event/*.rs");
    cases.compile_fail("tests/ui/command/*.rs");
    cases.compile_fail("tests/ui/aggregate/*.rs");
    cases.compile_fail("tests/ui/projection/*.rs");
    cases.compile_fail("tests/ui/evolution/*.rs");
    cases.pass("tests/ui/pass/*.rs");
}
