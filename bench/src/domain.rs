//! The benchmark's domain, a bank account (opened, deposits, withdrawals in its history; the
//! commands open and deposit, one event each),
//! written with eventsmith's macros. The peers write the same domain their own way in
//! `peers/`; the raw baselines reuse these event types for their typed decode.

use std::collections::HashMap;

use eventsmith::prelude::*;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Opened {
    pub account: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Deposited {
    pub amount: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Withdrawn {
    pub amount: i64,
}

#[derive(Event, Debug, Clone, PartialEq)]
pub enum AccountEvent {
    Opened(Opened),
    Deposited(Deposited),
    Withdrawn(Withdrawn),
}

#[derive(Command, Debug, Clone)]
#[command(aggregate = Account, expect = new)]
pub struct Open {
    #[command(id)]
    pub account: String,
}

#[derive(Command, Debug, Clone)]
#[command(aggregate = Account, expect = existing)]
pub struct Deposit {
    #[command(id)]
    pub account: String,
    pub amount: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BankError {
    #[error("amounts must be positive")]
    NotPositive,
}

/// The account's state: what every library folds, and what the checks compare.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Account {
    pub balance: i64,
    pub transactions: u64,
}

impl Account {
    /// The one fold every contender runs, by hand or through its library.
    pub fn fold(&mut self, event: &AccountEvent) {
        match event {
            AccountEvent::Opened(_) => {}
            AccountEvent::Deposited(event) => self.deposit(event.amount),
            AccountEvent::Withdrawn(event) => self.deposit(-event.amount),
        }
    }

    pub fn deposit(&mut self, amount: i64) {
        self.balance += amount;
        self.transactions += 1;
    }

    pub fn decide_deposit(amount: i64) -> Result<i64, BankError> {
        if amount <= 0 {
            return Err(BankError::NotPositive);
        }
        Ok(amount)
    }
}

#[aggregate(event = AccountEvent, error = BankError)]
impl Account {
    #[command]
    fn open(&self, command: Open) -> Result<Opened, BankError> {
        Ok(Opened { account: command.account })
    }

    #[command]
    fn deposit_money(&self, command: &Deposit) -> Result<Deposited, BankError> {
        Ok(Deposited { amount: Self::decide_deposit(command.amount)? })
    }

    #[apply]
    fn opened(&mut self, _: &Opened) {}

    #[apply]
    fn deposited(&mut self, event: &Deposited) {
        self.deposit(event.amount);
    }

    #[apply]
    fn withdrawn(&mut self, event: &Withdrawn) {
        self.deposit(-event.amount);
    }
}

/// The same account, snapshotted every 100 events: case (e).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SnapshottedAccount(pub Account);

#[derive(Command, Debug, Clone)]
#[command(aggregate = SnapshottedAccount, expect = existing)]
pub struct DepositSnapshotted {
    #[command(id)]
    pub account: String,
    pub amount: i64,
}

#[aggregate(event = AccountEvent, error = BankError, snapshot_every = 100)]
impl SnapshottedAccount {
    #[command]
    fn deposit_money(&self, command: &DepositSnapshotted) -> Result<Deposited, BankError> {
        Ok(Deposited { amount: Account::decide_deposit(command.amount)? })
    }

    #[apply]
    fn opened(&mut self, _: &Opened) {}

    #[apply]
    fn deposited(&mut self, event: &Deposited) {
        self.0.deposit(event.amount);
    }

    #[apply]
    fn withdrawn(&mut self, event: &Withdrawn) {
        self.0.deposit(-event.amount);
    }
}

/// Every account's balance: the projection of case (g).
#[derive(Debug, Default)]
pub struct Balances {
    pub by_stream: HashMap<String, i64>,
}

#[derive(Debug)]
pub struct TotalBalance;

#[projection(name = "balances", events = AccountEvent)]
impl Balances {
    /// Adds `amount` to the stream's balance, allocating its key only the first time (as the
    /// baselines do).
    fn add(&mut self, stream_id: &str, amount: i64) {
        match self.by_stream.get_mut(stream_id) {
            Some(balance) => *balance += amount,
            None => {
                self.by_stream.insert(stream_id.to_owned(), amount);
            }
        }
    }

    #[apply]
    fn deposited(&mut self, event: &Recorded<Deposited>) {
        self.add(&event.stream_id, event.amount);
    }

    #[apply]
    fn withdrawn(&mut self, event: &Recorded<Withdrawn>) {
        self.add(&event.stream_id, -event.amount);
    }

    #[apply]
    fn opened(&mut self, event: &Recorded<Opened>) {
        self.add(&event.stream_id, 0);
    }

    #[query]
    fn total(&self, _: TotalBalance) -> (usize, i64) {
        (self.by_stream.len(), self.by_stream.values().sum())
    }
}

/// The events of a seeded history: an opening, then deposits of 1 to 5 and, every tenth
/// event, a withdrawal of 3 (never below zero).
pub fn history_event(account: &str, index: u64) -> AccountEvent {
    match index {
        0 => Opened { account: account.to_owned() }.into(),
        _ if index.is_multiple_of(10) => Withdrawn { amount: 3 }.into(),
        _ => Deposited { amount: (index % 5) as i64 + 1 }.into(),
    }
}

/// The state `count` events of [`history_event`] fold to.
pub fn history_state(count: u64) -> Account {
    let mut state = Account::default();
    for index in 0..count {
        state.fold(&history_event("", index));
    }
    state
}
