pub mod cqrs;
pub mod disintegrate;
pub mod eventsmith;
pub mod raw;
