//! A bank account: commands that produce several events, a unit event, an id that is a
//! number, and a balance view across all accounts.
//!
//! Run it with `cargo run --example bank`.

use std::collections::BTreeMap;

use eventsmith::prelude::*;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct AccountOpened {
    pub account: u32,
    pub owner: String,
    pub overdraft_limit: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Deposited {
    pub amount: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Withdrawn {
    pub amount: u64,
}

/// Recorded when a withdrawal takes the balance below zero.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct OverdraftStarted {
    pub balance: i64,
}

#[derive(Event, Debug, Clone, PartialEq)]
pub enum AccountEvent {
    AccountOpened(AccountOpened),
    Deposited(Deposited),
    Withdrawn(Withdrawn),
    OverdraftStarted(OverdraftStarted),
    /// A unit event: closing carries no data.
    AccountClosed,
}

#[derive(Command, Debug, Clone)]
#[command(aggregate = Account, expect = new)]
pub struct OpenAccount {
    #[command(id)]
    pub account: u32,
    pub owner: String,
    pub overdraft_limit: u64,
}

#[derive(Command, Debug, Clone)]
#[command(aggregate = Account, expect = existing)]
pub struct Deposit {
    #[command(id)]
    pub account: u32,
    pub amount: u64,
}

#[derive(Command, Debug, Clone)]
#[command(aggregate = Account, expect = existing)]
pub struct Withdraw {
    #[command(id)]
    pub account: u32,
    pub amount: u64,
}

/// Pays out what is left and closes the account: two events from one command.
#[derive(Command, Debug, Clone)]
#[command(aggregate = Account, expect = existing)]
pub struct CloseAccount(#[command(id)] pub u32);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccountError {
    #[error("amounts must be positive")]
    ZeroAmount,
    #[error("the account is closed")]
    Closed,
    #[error("withdrawing {requested} would exceed the overdraft limit (available: {available})")]
    InsufficientFunds { requested: u64, available: i64 },
    #[error("an account in overdraft cannot be closed (balance {0})")]
    InOverdraft(i64),
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Account {
    pub balance: i64,
    pub overdraft_limit: u64,
    pub closed: bool,
}

// `OverdraftStarted` is for the read side; the account decides nothing on it.
#[aggregate(event = AccountEvent, error = AccountError, ignore(OverdraftStarted))]
impl Account {
    #[command]
    fn open(&self, command: OpenAccount) -> Result<AccountOpened, AccountError> {
        Ok(AccountOpened { account: command.account, owner: command.owner, overdraft_limit: command.overdraft_limit })
    }

    #[command]
    fn deposit(&self, command: &Deposit) -> Result<Deposited, AccountError> {
        self.ensure_open()?;
        if command.amount == 0 {
            return Err(AccountError::ZeroAmount);
        }
        Ok(Deposited { amount: command.amount })
    }

    /// One or two events: the withdrawal, and the start of an overdraft if it causes one.
    #[command]
    fn withdraw(&self, command: &Withdraw) -> Result<Vec<AccountEvent>, AccountError> {
        self.ensure_open()?;
        let available = self.balance + i64::try_from(self.overdraft_limit).unwrap_or(i64::MAX);
        let amount = i64::try_from(command.amount).unwrap_or(i64::MAX);
        if command.amount == 0 {
            return Err(AccountError::ZeroAmount);
        }
        if amount > available {
            return Err(AccountError::InsufficientFunds { requested: command.amount, available });
        }
        let mut events = vec![Withdrawn { amount: command.amount }.into()];
        let balance = self.balance - amount;
        if self.balance >= 0 && balance < 0 {
            events.push(OverdraftStarted { balance }.into());
        }
        Ok(events)
    }

    /// The payout (if any) and the closing, as an `Option` and a unit event.
    #[command]
    fn close(&self, _: &CloseAccount) -> Result<Vec<AccountEvent>, AccountError> {
        self.ensure_open()?;
        if self.balance < 0 {
            return Err(AccountError::InOverdraft(self.balance));
        }
        let payout = (self.balance > 0).then(|| Withdrawn { amount: self.balance.unsigned_abs() }.into());
        Ok(payout.into_iter().chain([AccountEvent::AccountClosed]).collect())
    }

    fn ensure_open(&self) -> Result<(), AccountError> {
        if self.closed { Err(AccountError::Closed) } else { Ok(()) }
    }

    #[apply]
    fn opened(&mut self, event: &AccountOpened) {
        self.overdraft_limit = event.overdraft_limit;
    }

    #[apply]
    fn deposited(&mut self, event: &Deposited) {
        self.balance += i64::try_from(event.amount).unwrap_or(i64::MAX);
    }

    #[apply]
    fn withdrawn(&mut self, event: &Withdrawn) {
        self.balance -= i64::try_from(event.amount).unwrap_or(i64::MAX);
    }

    #[apply(AccountEvent::AccountClosed)]
    fn closed(&mut self) {
        self.closed = true;
    }
}

// The read side: balances of every account, keyed by stream id, and the bank's totals.

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct AccountBalance {
    pub owner: String,
    pub balance: i64,
    pub open: bool,
}

#[derive(Debug, Clone)]
pub struct GetBalance {
    pub account: u32,
}

/// Sum of the balances of all open accounts.
#[derive(Debug, Clone)]
pub struct TotalHoldings;

#[derive(Debug, Clone)]
pub struct AccountsInOverdraft;

#[derive(Debug, Default)]
pub struct BalancesView {
    accounts: BTreeMap<String, AccountBalance>,
}

#[projection(name = "balances", events = AccountEvent)]
impl BalancesView {
    #[apply]
    fn opened(&mut self, event: &Recorded<AccountOpened>) {
        let account = AccountBalance { owner: event.owner.clone(), balance: 0, open: true };
        self.accounts.insert(event.stream_id.clone(), account);
    }

    #[apply]
    fn deposited(&mut self, event: &Recorded<Deposited>) {
        self.change(&event.stream_id, i64::try_from(event.amount).unwrap_or(i64::MAX));
    }

    #[apply]
    fn withdrawn(&mut self, event: &Recorded<Withdrawn>) {
        self.change(&event.stream_id, -i64::try_from(event.amount).unwrap_or(i64::MAX));
    }

    #[apply(AccountEvent::AccountClosed)]
    fn closed(&mut self, event: &Recorded<()>) {
        if let Some(account) = self.accounts.get_mut(&event.stream_id) {
            account.open = false;
        }
    }

    #[query]
    fn balance(&self, query: &GetBalance) -> Option<AccountBalance> {
        self.accounts.get(&format!("Account-{}", query.account)).cloned()
    }

    #[query]
    fn total(&self, _: TotalHoldings) -> i64 {
        self.accounts.values().filter(|account| account.open).map(|account| account.balance).sum()
    }

    #[query]
    fn overdrawn(&self, _: AccountsInOverdraft) -> Vec<String> {
        self.accounts.iter().filter(|(_, account)| account.balance < 0).map(|(id, _)| id.clone()).collect()
    }

    fn change(&mut self, stream_id: &str, amount: i64) {
        if let Some(account) = self.accounts.get_mut(stream_id) {
            account.balance += amount;
        }
    }
}

#[tokio::main]
async fn main() -> eventsmith::Result<()> {
    let app =
        App::builder().store(MemoryStore::new()).aggregate::<Account>().projection::<BalancesView>().build().await?;

    app.execute(OpenAccount { account: 7, owner: "Ada".into(), overdraft_limit: 100 }).await?;
    app.execute(Deposit { account: 7, amount: 50 }).await?;
    let committed = app.execute(Withdraw { account: 7, amount: 120 }).await?;
    println!("withdraw 120 committed {} events:", committed.events.len());
    for recorded in &committed.events {
        println!("  v{} {:?}", recorded.stream_version, recorded.event);
    }
    println!("balance now {}", committed.state.balance);

    if let Err(error) = app.execute(CloseAccount(7)).await {
        println!("close refused: {error}");
    }
    app.execute(Deposit { account: 7, amount: 100 }).await?;
    let closed = app.execute(CloseAccount(7)).await?;
    println!("close committed {} events:", closed.events.len());
    for recorded in &closed.events {
        println!("  v{} {:?}", recorded.stream_version, recorded.event);
    }

    let loaded = app.load::<Account>(7).await?;
    println!("{} at version {}: {:?}", loaded.stream_id, loaded.version, loaded.state);

    app.execute(OpenAccount { account: 8, owner: "Grace".into(), overdraft_limit: 500 }).await?;
    app.execute(Deposit { account: 8, amount: 300 }).await?;
    app.execute(Withdraw { account: 8, amount: 450 }).await?;
    println!("\nbalance of account 8: {:?}", app.query(GetBalance { account: 8 }).await?);
    println!("total holdings of open accounts: {}", app.query(TotalHoldings).await?);
    println!("accounts in overdraft: {:?}", app.query(AccountsInOverdraft).await?);
    Ok(())
}

#[cfg(test)]
mod tests {
    use eventsmith::testing::given;
    use proptest::prelude::*;

    use super::*;

    fn opened(limit: u64) -> AccountEvent {
        AccountOpened { account: 1, owner: "Ada".into(), overdraft_limit: limit }.into()
    }

    #[test]
    fn the_stored_event_shapes_match_the_lock() {
        eventsmith::assert_event_schemas!(AccountEvent, "examples/bank.events.lock.json");
    }

    fn any_event() -> impl Strategy<Value = AccountEvent> {
        prop_oneof![
            (any::<u32>(), any::<String>(), any::<u64>()).prop_map(|(account, owner, overdraft_limit)| {
                AccountOpened { account, owner, overdraft_limit }.into()
            }),
            any::<u64>().prop_map(|amount| Deposited { amount }.into()),
            any::<u64>().prop_map(|amount| Withdrawn { amount }.into()),
            any::<i64>().prop_map(|balance| OverdraftStarted { balance }.into()),
            Just(AccountEvent::AccountClosed),
        ]
    }

    proptest! {
        #[test]
        fn encoding_then_decoding_is_the_identity(event in any_event()) {
            let bytes = event.encode().unwrap();
            prop_assert_eq!(AccountEvent::decode(event.event_type(), event.event_version(), &bytes).unwrap(), event);
        }
    }

    #[test]
    fn a_withdrawal_into_overdraft_records_both_events() {
        let state = given([opened(100), Deposited { amount: 10 }.into()])
            .when(Withdraw { account: 1, amount: 30 })
            .then([AccountEvent::from(Withdrawn { amount: 30 }), OverdraftStarted { balance: -20 }.into()]);
        assert_eq!(state.balance, -20);
    }

    #[test]
    fn a_withdrawal_within_the_balance_records_one_event() {
        given([opened(0), Deposited { amount: 10 }.into()])
            .when(Withdraw { account: 1, amount: 10 })
            .then([Withdrawn { amount: 10 }]);
    }

    #[test]
    fn the_overdraft_limit_holds() {
        given([opened(5)])
            .when(Withdraw { account: 1, amount: 6 })
            .then_error(AccountError::InsufficientFunds { requested: 6, available: 5 });
    }

    #[test]
    fn closing_pays_out_then_closes() {
        let state = given([opened(0), Deposited { amount: 9 }.into()])
            .when(CloseAccount(1))
            .then([AccountEvent::from(Withdrawn { amount: 9 }), AccountEvent::AccountClosed]);
        assert!(state.closed);
        assert_eq!(state.balance, 0);
    }

    #[test]
    fn a_closed_account_refuses_deposits() {
        given([opened(0), AccountEvent::AccountClosed])
            .when(Deposit { account: 1, amount: 1 })
            .then_error(AccountError::Closed);
    }

    #[test]
    fn the_balance_view_spans_accounts() {
        let opened =
            |owner: &str| AccountEvent::from(AccountOpened { account: 0, owner: owner.into(), overdraft_limit: 0 });
        let at = |stream: &str, position: u64, event: AccountEvent| eventsmith::Recorded {
            id: eventsmith::id::new_event_id(),
            stream_id: stream.to_owned(),
            stream_version: position,
            position,
            recorded_at: std::time::SystemTime::UNIX_EPOCH,
            metadata: eventsmith::Metadata::default(),
            event,
        };
        given([
            at("Account-1", 1, opened("Ada")),
            at("Account-2", 2, opened("Bob")),
            at("Account-1", 3, Deposited { amount: 10 }.into()),
            at("Account-2", 4, Withdrawn { amount: 4 }.into()),
            at("Account-1", 5, AccountEvent::AccountClosed),
        ])
        .then_query(TotalHoldings, -4)
        .then_query(AccountsInOverdraft, vec!["Account-2".to_owned()])
        .then_query(GetBalance { account: 1 }, Some(AccountBalance { owner: "Ada".into(), balance: 10, open: false }));
    }

    #[tokio::test]
    async fn concurrent_writers_are_retried_and_nothing_is_lost() {
        let app = App::builder().store(MemoryStore::new()).max_retries(64).build().await.unwrap();
        app.execute(OpenAccount { account: 1, owner: "Ada".into(), overdraft_limit: 0 }).await.unwrap();
        let tasks: Vec<_> = (0..16)
            .map(|_| {
                let app = app.clone();
                tokio::spawn(async move { app.execute(Deposit { account: 1, amount: 1 }).await.map(|c| c.version) })
            })
            .collect();
        let mut versions = Vec::new();
        for task in tasks {
            versions.push(task.await.unwrap().unwrap());
        }
        versions.sort_unstable();
        assert_eq!(versions, (2..18).collect::<Vec<u64>>());
        assert_eq!(app.load::<Account>(1).await.unwrap().state.balance, 16);
    }
}
