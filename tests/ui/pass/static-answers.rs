//! A `#[query]` may answer with data that borrows nothing from the read model: `&'static str`
//! or `Cow<'static, str>`. The answers are checked at run time, through `app.query`.

use std::borrow::Cow;

use eventsmith::prelude::*;
use eventsmith::store::NewEvent;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Opened { pub id: u32 }

#[derive(Event, Debug, Clone, PartialEq)]
pub enum DoorEvent { Opened(Opened) }

#[derive(Debug, Default)]
pub struct DoorsView { open: u32 }

#[derive(Debug)]
pub struct State;

#[derive(Debug)]
pub struct Label;

#[projection(name = "doors", events = DoorEvent)]
impl DoorsView {
    #[apply]
    fn opened(&mut self, _: &Recorded<Opened>) { self.open += 1; }

    #[query]
    fn state(&self, _: State) -> &'static str { if self.open > 0 { "open" } else { "closed" } }

    #[query]
    fn label(&self, _: Label) -> Cow<'static, str> {
        if self.open == 0 { Cow::Borrowed("never opened") } else { Cow::Owned(format!("opened {} times", self.open)) }
    }
}

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread().build().expect("a runtime");
    runtime.block_on(async {
        let app = App::builder().store(MemoryStore::new()).projection::<DoorsView>().build().await.expect("an app");
        assert_eq!(app.query(State).await.expect("an answer"), "closed");
        assert_eq!(app.query(Label).await.expect("an answer"), "never opened");
        let opened = NewEvent::encode(&DoorEvent::Opened(Opened { id: 1 })).expect("it encodes");
        app.store().append("Door-1", ExpectedVersion::NoStream, vec![opened]).await.expect("it appends");
        app.rebuild::<DoorsView>().await.expect("it rebuilds");
        assert_eq!(app.query(State).await.expect("an answer"), "open");
        assert_eq!(app.query(Label).await.expect("an answer"), "opened 1 times");
    });
}
