//! Expansion snapshots: what each macro generates for a typical input, formatted with
//! prettyplease and compared with `macros/snapshots/*.rs`. Set `EVENTSMITH_BLESS=1` to
//! rewrite them after an intended change, then review the diff.

use std::path::PathBuf;

use proc_macro2::TokenStream;
use quote::quote;

fn assert_snapshot(name: &str, expanded: TokenStream) {
    let file = syn::parse2::<syn::File>(expanded).expect("the expansion parses as a file");
    let actual = prettyplease::unparse(&file);
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("snapshots").join(format!("{name}.rs"));
    if std::env::var_os("EVENTSMITH_BLESS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|_| panic!("no snapshot at {}; run with EVENTSMITH_BLESS=1 to write it", path.display()));
    if expected != actual {
        let line = expected.lines().zip(actual.lines()).position(|(e, a)| e != a).unwrap_or(0);
        panic!(
            "expansion of `{name}` changed (first difference at line {}):\n  snapshot: {:?}\n  now:      {:?}\n\
             review it, then run with EVENTSMITH_BLESS=1 to accept:\n{actual}",
            line + 1,
            expected.lines().nth(line).unwrap_or(""),
            actual.lines().nth(line).unwrap_or(""),
        );
    }
}

#[test]
fn event_derive() {
    let input = syn::parse_quote! {
        pub enum OrderEvent {
            #[event(aliases("order_created"))]
            OrderCreated(OrderCreated),
            #[event(name = "OrderShipped", version = 3, upcast(from = 1, with = ShippedV1), upcast(from = 2, with = ShippedV2, via = upgrade_v2))]
            Shipped(OrderShipped),
            #[event(deprecated)]
            Refunded(Refunded),
            Cancelled,
        }
    };
    assert_snapshot("event", crate::event::expand(&input));
}

#[test]
fn command_derive() {
    let input = syn::parse_quote! {
        #[command(aggregate = Order, expect = existing)]
        pub struct ShipOrder {
            #[command(id)]
            pub order_id: OrderId,
            pub carrier: String,
        }
    };
    assert_snapshot("command", crate::command::expand(&input));
}

#[test]
fn command_enum_derive() {
    let input = syn::parse_quote! {
        pub enum OrderCommand {
            CreateOrder(CreateOrder),
            ShipOrder(ShipOrder),
        }
    };
    assert_snapshot("command_enum", crate::command::expand(&input));
}

#[test]
fn aggregate_attribute() {
    let args = quote!(event = OrderEvent, error = OrderError, ignore(OrderEvent::Cancelled));
    let item = syn::parse_quote! {
        impl Order {
            #[command]
            fn create(&self, command: CreateOrder) -> Result<OrderCreated, OrderError> {
                Ok(OrderCreated { order_id: command.order_id })
            }
            #[command]
            fn ship(&self, command: &ShipOrder) -> Result<Vec<OrderEvent>, OrderError> {
                Ok(vec![])
            }
            #[apply]
            fn created(&mut self, event: &OrderCreated) {
                self.created = true;
            }
            #[apply]
            fn shipped(&mut self, _: &OrderShipped) {}
        }
    };
    assert_snapshot("aggregate", crate::aggregate::expand(args, item));
}

#[test]
fn projection_attribute() {
    let args = quote!(name = "orders", events(OrderEvent, PaymentEvent), persist);
    let item = syn::parse_quote! {
        impl OrdersView {
            #[apply]
            fn created(&mut self, event: &Recorded<OrderCreated>) {
                self.count += 1;
            }
            #[apply]
            fn paid(&mut self, event: &Recorded<Paid>) -> Result<(), String> {
                Ok(())
            }
            #[apply(OrderEvent::Cancelled)]
            fn cancelled(&mut self, event: &Recorded<()>) {}
            #[query]
            fn get_order(&self, query: GetOrder) -> Option<OrderSummary> {
                None
            }
        }
    };
    assert_snapshot("projection", crate::projection::expand(args, item));
}

#[test]
fn document_projection_attribute() {
    let args = quote!(name = "customers", events = OrderEvent, documents(index(status)));
    let item = syn::parse_quote! {
        impl CustomerView {
            #[apply]
            fn created(&mut self, event: &Recorded<OrderCreated>) {
                self.orders += 1;
            }
            #[apply(key = event.customer)]
            fn paid(&mut self, event: &Recorded<Paid>) -> Result<(), String> {
                Ok(())
            }
        }
    };
    assert_snapshot("document_projection", crate::projection::expand(args, item));
}

#[test]
fn query_enum_derive() {
    let input = syn::parse_quote! {
        pub enum OrderQuery {
            GetOrder(GetOrder),
            #[query(name = "ListAllOrders")]
            ListOrders(ListOrders),
        }
    };
    assert_snapshot("query_enum", crate::envelope::expand(&input, crate::envelope::Kind::Queries));
}
