//! An enum of commands with a mistake: the mistake is its one error.

use eventsmith::prelude::*;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Opened { pub id: u32 }
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Closed { pub id: u32 }

#[derive(Event, Debug, Clone, PartialEq)]
pub enum DoorEvent { Opened(Opened), Closed(Closed) }

#[derive(Command, Debug, Clone)]
#[command(aggregate = Door)]
pub struct Open { #[command(id)] pub id: u32 }

#[derive(Command, Debug, Clone)]
#[command(aggregate = Door)]
pub struct OpenWide { #[command(id)] pub id: u32 }

#[derive(Command, Debug, Clone)]
pub enum DoorCommand {
    Open(Open),
    #[command(name = "Open")]
    OpenWide(OpenWide),
}

#[derive(Debug, thiserror::Error)]
#[error("door error")]
pub struct DoorError;

#[derive(Debug, Default)]
pub struct Door { open: bool }

#[aggregate(event = DoorEvent, error = DoorError)]
impl Door {
    #[command]
    fn open(&self, c: Open) -> Result<Opened, DoorError> { Ok(Opened { id: c.id }) }
    #[command]
    fn open_wide(&self, c: OpenWide) -> Result<Opened, DoorError> { Ok(Opened { id: c.id }) }
    #[apply]
    fn opened(&mut self, _: &Opened) { self.open = true; }
    #[apply]
    fn closed(&mut self, _: &Closed) { self.open = false; }
}

/// The enum with the mistake is still usable, so its uses report nothing more.
async fn run(app: App) {
    let _ = DoorCommand::from_json(br#"{"type": "Open", "data": {"id": 1}}"#).unwrap().dispatch(&app).await;
}

fn main() {
    let _ = run;
}
