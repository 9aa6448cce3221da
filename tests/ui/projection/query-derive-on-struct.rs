use eventsmith::prelude::*;

#[derive(QueryEnvelope, Debug)]
pub struct OpenCount;

fn main() {}
