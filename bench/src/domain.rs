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

/// Case (h): six read models a service might keep beside its accounts, each updated by every
/// deposit, each answering how many deposits it has seen.
pub mod read_models {
    use std::collections::{HashMap, VecDeque};

    use eventsmith::prelude::*;

    use super::{AccountEvent, Deposited};

    /// How many of the latest deposits `RecentDeposits` keeps.
    pub const RECENT: usize = 100;

    #[derive(Debug, Default)]
    pub struct BalancesByAccount {
        balances: HashMap<String, i64>,
    }

    #[derive(Debug)]
    pub struct BalancesCounted;

    #[projection(name = "h_balances", events = AccountEvent)]
    impl BalancesByAccount {
        #[apply]
        fn deposited(&mut self, event: &Recorded<Deposited>) {
            *self.balances.entry(event.stream_id.clone()).or_default() += event.amount;
        }

        #[query]
        fn counted(&self, _: BalancesCounted) -> u64 {
            self.balances.values().sum::<i64>() as u64
        }
    }

    #[derive(Debug, Default)]
    pub struct DepositCount {
        count: u64,
    }

    #[derive(Debug)]
    pub struct CountCounted;

    #[projection(name = "h_count", events = AccountEvent)]
    impl DepositCount {
        #[apply]
        fn deposited(&mut self, _: &Recorded<Deposited>) {
            self.count += 1;
        }

        #[query]
        fn counted(&self, _: CountCounted) -> u64 {
            self.count
        }
    }

    #[derive(Debug, Default)]
    pub struct TotalDeposited {
        total: i64,
    }

    #[derive(Debug)]
    pub struct TotalCounted;

    #[projection(name = "h_total", events = AccountEvent)]
    impl TotalDeposited {
        #[apply]
        fn deposited(&mut self, event: &Recorded<Deposited>) {
            self.total += event.amount;
        }

        #[query]
        fn counted(&self, _: TotalCounted) -> u64 {
            self.total as u64
        }
    }

    #[derive(Debug, Default)]
    pub struct LastActivity {
        last_position: HashMap<String, u64>,
        seen: u64,
    }

    #[derive(Debug)]
    pub struct ActivityCounted;

    #[projection(name = "h_activity", events = AccountEvent)]
    impl LastActivity {
        #[apply]
        fn deposited(&mut self, event: &Recorded<Deposited>) {
            self.last_position.insert(event.stream_id.clone(), event.position);
            self.seen += 1;
        }

        #[query]
        fn counted(&self, _: ActivityCounted) -> u64 {
            self.seen
        }
    }

    #[derive(Debug, Default)]
    pub struct DepositsPerAccount {
        counts: HashMap<String, u64>,
    }

    #[derive(Debug)]
    pub struct PerAccountCounted;

    #[projection(name = "h_per_account", events = AccountEvent)]
    impl DepositsPerAccount {
        #[apply]
        fn deposited(&mut self, event: &Recorded<Deposited>) {
            *self.counts.entry(event.stream_id.clone()).or_default() += 1;
        }

        #[query]
        fn counted(&self, _: PerAccountCounted) -> u64 {
            self.counts.values().sum()
        }
    }

    #[derive(Debug, Default)]
    pub struct RecentDeposits {
        recent: VecDeque<(String, i64)>,
        seen: u64,
    }

    #[derive(Debug)]
    pub struct RecentCounted;

    #[projection(name = "h_recent", events = AccountEvent)]
    impl RecentDeposits {
        #[apply]
        fn deposited(&mut self, event: &Recorded<Deposited>) {
            if self.recent.len() == RECENT {
                self.recent.pop_front();
            }
            self.recent.push_back((event.stream_id.clone(), event.amount));
            self.seen += 1;
        }

        #[query]
        fn counted(&self, _: RecentCounted) -> u64 {
            self.seen
        }
    }

    /// The same six read models by hand, for the contenders without projections of their own:
    /// applied to each deposit as it commits.
    #[derive(Debug, Default)]
    pub struct ByHand {
        balances: HashMap<String, i64>,
        count: u64,
        total: i64,
        last_position: HashMap<String, u64>,
        activity_seen: u64,
        counts: HashMap<String, u64>,
        recent: VecDeque<(String, i64)>,
        recent_seen: u64,
    }

    impl ByHand {
        pub fn apply(&mut self, account: &str, position: u64, event: &AccountEvent) {
            let AccountEvent::Deposited(Deposited { amount }) = event else { return };
            *self.balances.entry(account.to_owned()).or_default() += amount;
            self.count += 1;
            self.total += amount;
            self.last_position.insert(account.to_owned(), position);
            self.activity_seen += 1;
            *self.counts.entry(account.to_owned()).or_default() += 1;
            if self.recent.len() == RECENT {
                self.recent.pop_front();
            }
            self.recent.push_back((account.to_owned(), *amount));
            self.recent_seen += 1;
        }

        /// What each of the six counted, in the order of the projections above.
        pub fn counted(&self) -> Vec<u64> {
            vec![
                self.balances.values().sum::<i64>() as u64,
                self.count,
                self.total as u64,
                self.activity_seen,
                self.counts.values().sum(),
                self.recent_seen,
            ]
        }
    }
}
