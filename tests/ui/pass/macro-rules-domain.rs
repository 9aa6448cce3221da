// Items that come out of the user's own `macro_rules!` expansion: two similar counters, each
// an event enum, a command, a command envelope, an aggregate, a persisted projection, a query
// and a query envelope; both run.
use eventsmith::prelude::*;

macro_rules! counter {
    ($module:ident, $aggregate:ident, $event:ident, $bumped:ident, $bump:ident, $view:ident, $count:ident, $envelope:ident, $queries:ident, $name:literal) => {
        mod $module {
            use eventsmith::prelude::*;

            #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
            pub struct $bumped {
                pub by: u32,
            }

            #[derive(Event, Debug, Clone, PartialEq)]
            pub enum $event {
                $bumped($bumped),
                Reset,
            }

            #[derive(Command, Debug, Clone, Deserialize)]
            #[command(aggregate = $aggregate)]
            pub struct $bump {
                #[command(id)]
                pub id: u32,
                pub by: u32,
            }

            #[derive(CommandEnvelope, Debug)]
            pub enum $envelope {
                $bump($bump),
            }

            #[derive(Debug, thiserror::Error)]
            #[error("never")]
            pub struct Never;

            #[derive(Debug, Default, Clone)]
            pub struct $aggregate {
                pub total: u32,
            }

            #[aggregate(event = $event, error = Never)]
            impl $aggregate {
                #[command]
                fn bump(&self, command: $bump) -> Result<$bumped, Never> {
                    Ok($bumped { by: command.by + self.total * 0 })
                }

                #[apply]
                fn bumped(&mut self, event: &$bumped) {
                    self.total += event.by;
                }

                #[apply($event::Reset)]
                fn reset(&mut self) {
                    self.total = 0;
                }
            }

            #[derive(Debug, Default, Serialize, Deserialize)]
            pub struct $view {
                pub total: u32,
            }

            #[derive(Debug, Deserialize)]
            pub struct $count;

            #[derive(QueryEnvelope, Debug)]
            pub enum $queries {
                $count($count),
            }

            #[projection(name = $name, events = $event, persist)]
            impl $view {
                #[apply]
                fn bumped(&mut self, event: &Recorded<$bumped>) {
                    self.total += event.by;
                }

                #[query]
                fn count(&self, _: $count) -> u32 {
                    self.total
                }
            }
        }
    };
}

counter!(first, FirstCounter, FirstEvent, FirstBumped, BumpFirst, FirstView, CountFirst, FirstCommand, FirstQuery, "first");
counter!(second, SecondCounter, SecondEvent, SecondBumped, BumpSecond, SecondView, CountSecond, SecondCommand, SecondQuery, "second");

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    runtime.block_on(async {
        let app = App::builder()
            .store(MemoryStore::new())
            .aggregate::<first::FirstCounter>()
            .aggregate::<second::SecondCounter>()
            .projection::<first::FirstView>()
            .projection::<second::SecondView>()
            .build()
            .await
            .unwrap();
        app.execute(first::BumpFirst { id: 1, by: 2 }).await.unwrap();
        let json = br#"{"type": "BumpSecond", "data": {"id": 1, "by": 5}}"#;
        second::SecondCommand::from_json(json).unwrap().dispatch(&app).await.unwrap();
        assert_eq!(app.query(first::CountFirst).await.unwrap(), 2);
        let answer = second::SecondQuery::from_json(br#"{"type": "CountSecond", "data": null}"#).unwrap();
        assert_eq!(answer.answer(&app).await.unwrap(), "5");
        assert_eq!(app.load::<first::FirstCounter>(1).await.unwrap().state.total, 2);
    });
}
