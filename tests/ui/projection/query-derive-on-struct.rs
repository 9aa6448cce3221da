use eventsmith::prelude::*;

#[derive(Query, Debug)]
pub struct OpenCount;

fn main() {}
