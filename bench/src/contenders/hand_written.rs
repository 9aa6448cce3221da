//! The in-memory baseline: a hand-written log (encoded events in a vector, an index per
//! stream, one lock), doing by hand what a command, a load or a catch-up needs: encode, a
//! version check under the lock, decode and fold. It keeps no ids, envelopes or metadata.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::codec::{Balances, decode, deposit, encode, opened};
use crate::cases::{Case, Sizes};
use crate::contender::{BoxFuture, Contender, Outcome, Result, Role, Session};
use crate::domain::read_models::ByHand;
use crate::domain::{Account, AccountEvent};

#[derive(Default)]
pub struct HandWritten;

impl Contender for HandWritten {
    fn name(&self) -> String {
        "hand-written loop".to_owned()
    }

    fn role(&self) -> Role {
        Role::Baseline
    }

    fn prepare<'a>(&'a mut self, case: Case, _: &'a Sizes) -> BoxFuture<'a, Result<Arc<dyn Session>>> {
        Box::pin(async move {
            let session: Arc<dyn Session> = Arc::new(Log {
                state: Mutex::new(State::default()),
                read_models: (case == Case::Projections).then(|| Mutex::new(ByHand::default())),
            });
            Ok(session)
        })
    }
}

struct Log {
    state: Mutex<State>,
    read_models: Option<Mutex<ByHand>>,
}

#[derive(Default)]
struct State {
    rows: Vec<Row>,
    streams: HashMap<String, Vec<usize>>,
    snapshots: HashMap<String, (usize, Vec<u8>)>,
}

struct Row {
    stream: String,
    event_type: &'static str,
    payload: Vec<u8>,
}

impl State {
    /// Appends `events` if the stream is at `expected`; returns the position of the last.
    fn append(&mut self, stream: &str, expected: usize, events: &[AccountEvent]) -> Result<Option<u64>> {
        let indexes = self.streams.entry(stream.to_owned()).or_default();
        if indexes.len() != expected {
            return Ok(None);
        }
        for event in events {
            let (event_type, payload) = encode(event)?;
            indexes.push(self.rows.len());
            self.rows.push(Row { stream: stream.to_owned(), event_type, payload });
        }
        Ok(Some(self.rows.len() as u64))
    }

    fn fold(&self, stream: &str, after: usize, mut state: Account) -> Result<Account> {
        for &index in self.streams.get(stream).map_or(&[][..], |indexes| &indexes[after..]) {
            let row = &self.rows[index];
            state.fold(&decode(row.event_type, &row.payload)?);
        }
        Ok(state)
    }

    fn version(&self, stream: &str) -> usize {
        self.streams.get(stream).map_or(0, Vec::len)
    }
}

impl Log {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap()
    }

    fn append_next(&self, account: &str, event: &AccountEvent) -> Result<Outcome> {
        let mut state = self.lock();
        let version = state.version(account);
        let Some(position) = state.append(account, version, std::slice::from_ref(event))? else {
            return Ok(Outcome::Conflict);
        };
        drop(state);
        if let Some(read_models) = &self.read_models {
            read_models.lock().unwrap().apply(account, position, event);
        }
        Ok(Outcome::Committed)
    }
}

impl Session for Log {
    fn open<'a>(&'a self, account: &'a str) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            self.append_next(account, &opened(account))?;
            Ok(())
        })
    }

    fn append<'a>(&'a self, account: &'a str, version: u64, events: &'a [AccountEvent]) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            match self.lock().append(account, version as usize, events)? {
                Some(_) => Ok(()),
                None => Err(format!("`{account}` is not at version {version}").into()),
            }
        })
    }

    fn deposit<'a>(&'a self, account: &'a str) -> BoxFuture<'a, Result<Outcome>> {
        Box::pin(async move { self.append_next(account, &deposit()) })
    }

    fn deposit_and_snapshot<'a>(&'a self, account: &'a str) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            self.append_next(account, &deposit())?;
            let mut state = self.lock();
            let snapshot = serde_json::to_vec(&state.fold(account, 0, Account::default())?)?;
            let version = state.version(account);
            state.snapshots.insert(account.to_owned(), (version, snapshot));
            Ok(())
        })
    }

    fn load<'a>(&'a self, account: &'a str) -> BoxFuture<'a, Result<Account>> {
        Box::pin(async move { self.lock().fold(account, 0, Account::default()) })
    }

    fn load_from_snapshot<'a>(&'a self, account: &'a str) -> BoxFuture<'a, Result<Account>> {
        Box::pin(async move {
            let state = self.lock();
            let (version, snapshot) = state.snapshots.get(account).ok_or("no snapshot")?;
            state.fold(account, *version, serde_json::from_slice(snapshot)?)
        })
    }

    fn catch_up(&self) -> BoxFuture<'_, Result<(u64, i64)>> {
        Box::pin(async move {
            let state = self.lock();
            let mut balances = Balances::default();
            for row in &state.rows {
                balances.apply(&row.stream, &decode(row.event_type, &row.payload)?);
            }
            Ok(balances.totals())
        })
    }

    fn projected(&self) -> BoxFuture<'_, Result<Option<Vec<u64>>>> {
        Box::pin(async move {
            let read_models = self.read_models.as_ref().ok_or("no read models in this case")?;
            Ok(Some(read_models.lock().unwrap().counted()))
        })
    }
}
