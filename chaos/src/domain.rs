//! The domain the chaos run drives: deposits into accounts, and a ledger projection that
//! records what it applied and notices any position it sees out of order.

use std::collections::BTreeMap;

use eventsmith::prelude::*;

/// Money arrived in an account. `op` is unique per command, so a doubled command shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Deposited {
    pub account: u32,
    pub cents: u64,
    pub op: String,
}

#[derive(Event, Debug, Clone, PartialEq)]
#[event(namespace = "chaos")]
pub enum LedgerEvent {
    Deposited(Deposited),
}

#[derive(Command, Debug, Clone)]
#[command(aggregate = Account)]
pub struct Deposit {
    #[command(id)]
    pub account: u32,
    pub cents: u64,
    pub op: String,
}

#[derive(Debug, thiserror::Error)]
#[error("never")]
pub struct Never;

#[derive(Debug, Default, Clone)]
pub struct Account {
    pub balance: u64,
}

#[aggregate(event = LedgerEvent, error = Never)]
impl Account {
    #[command]
    fn deposit(&self, command: &Deposit) -> Result<Deposited, Never> {
        Ok(Deposited { account: command.account, cents: command.cents, op: command.op.clone() })
    }

    #[apply]
    fn deposited(&mut self, event: &Deposited) {
        self.balance += event.cents;
    }
}

/// What a follower's projection has applied: the balances, how many deposits, and every
/// position it saw that was not after the one before (none, if the store keeps its order).
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ledger {
    pub balances: BTreeMap<u32, u64>,
    pub deposits: u64,
    pub last_position: u64,
    pub out_of_order: Vec<(u64, u64)>,
}

impl Ledger {
    /// Applies one deposit at `position`, as the projection and the rebuild both do.
    pub fn add(&mut self, position: u64, deposit: &Deposited) {
        if position <= self.last_position {
            self.out_of_order.push((self.last_position, position));
        }
        self.last_position = position;
        *self.balances.entry(deposit.account).or_default() += deposit.cents;
        self.deposits += 1;
    }
}

/// The query that gives a follower's whole ledger.
#[derive(Debug)]
pub struct WholeLedger;

#[projection(name = "chaos-ledger", events = LedgerEvent, persist)]
impl Ledger {
    #[apply]
    fn deposited(&mut self, event: &Recorded<Deposited>) {
        self.add(event.position, event);
    }

    #[query]
    fn whole(&self, _: WholeLedger) -> Ledger {
        self.clone()
    }
}
