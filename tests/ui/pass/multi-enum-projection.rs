use eventsmith::prelude::*;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Opened { pub id: u32 }
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Closed { pub id: u32 }

#[derive(Event, Debug, Clone, PartialEq)]
pub enum DoorEvent { Opened(Opened), Closed(Closed), Slammed }

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Painted { pub colour: String }
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scratched;

#[derive(Event, Debug, Clone, PartialEq)]
pub enum PaintEvent { Painted(Painted), Scratched(Scratched) }

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct DoorsView { open: u32, colours: Vec<String>, slams: u32 }

#[derive(Debug, Deserialize)]
pub struct OpenCount;

#[derive(Debug, Deserialize)]
pub struct Colours { pub limit: usize }

#[projection(name = "doors", events(DoorEvent, PaintEvent), persist)]
impl DoorsView {
    #[apply]
    fn opened(&mut self, _: &Recorded<Opened>) { self.open += 1; }

    #[apply]
    fn painted(&mut self, event: &Recorded<Painted>) -> Result<(), String> {
        if event.colour.is_empty() { return Err("no colour".into()); }
        self.colours.push(event.colour.clone());
        Ok(())
    }

    #[apply(DoorEvent::Slammed)]
    fn slammed(&mut self, _: &Recorded<()>) { self.slams += 1; }

    #[query]
    fn count(&self, _: OpenCount) -> u32 { self.open + self.slams }

    #[query]
    fn colours(&self, query: &Colours) -> Vec<String> { self.colours.iter().take(query.limit).cloned().collect() }
}

#[derive(QueryEnvelope, Debug)]
pub enum DoorQuery {
    OpenCount(OpenCount),
    #[query(name = "ListColours")]
    Colours(Colours),
}

fn main() {
    assert_eq!(<DoorsView as Projection>::event_types(), ["Opened", "Painted", "Slammed"]);
}
