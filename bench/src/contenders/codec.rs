//! What every baseline does by hand that a library does for it: the typed encode and decode
//! of the events, and the catch-up's fold into balances.

use std::collections::HashMap;

use crate::contender::Result;
use crate::domain::{AccountEvent, Deposited, Opened, Withdrawn};

/// The typed encode: type name and JSON payload.
pub fn encode(event: &AccountEvent) -> Result<(&'static str, Vec<u8>)> {
    Ok(match event {
        AccountEvent::Opened(event) => ("Opened", serde_json::to_vec(event)?),
        AccountEvent::Deposited(event) => ("Deposited", serde_json::to_vec(event)?),
        AccountEvent::Withdrawn(event) => ("Withdrawn", serde_json::to_vec(event)?),
    })
}

/// The typed decode: straight from the bytes into the variant.
pub fn decode(event_type: &str, payload: &[u8]) -> Result<AccountEvent> {
    Ok(match event_type {
        "Opened" => AccountEvent::Opened(serde_json::from_slice::<Opened>(payload)?),
        "Deposited" => AccountEvent::Deposited(serde_json::from_slice::<Deposited>(payload)?),
        "Withdrawn" => AccountEvent::Withdrawn(serde_json::from_slice::<Withdrawn>(payload)?),
        other => return Err(format!("unknown event type {other}").into()),
    })
}

pub fn deposit() -> AccountEvent {
    Deposited { amount: 1 }.into()
}

pub fn opened(account: &str) -> AccountEvent {
    Opened { account: account.to_owned() }.into()
}

/// Balances per account, as the catch-up's projection keeps them.
#[derive(Debug, Default)]
pub struct Balances(HashMap<String, i64>);

impl Balances {
    pub fn apply(&mut self, account: &str, event: &AccountEvent) {
        let amount = match event {
            AccountEvent::Opened(_) => 0,
            AccountEvent::Deposited(event) => event.amount,
            AccountEvent::Withdrawn(event) => -event.amount,
        };
        match self.0.get_mut(account) {
            Some(balance) => *balance += amount,
            None => {
                self.0.insert(account.to_owned(), amount);
            }
        }
    }

    /// How many accounts, and the sum of their balances.
    pub fn totals(&self) -> (u64, i64) {
        (self.0.len() as u64, self.0.values().sum())
    }
}
