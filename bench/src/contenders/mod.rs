pub mod codec;
pub mod cqrs;
pub mod disintegrate;
pub mod eventsmith;
pub mod hand_written;
pub mod raw_postgres;
pub mod raw_sqlite;
