impl Order {
    #[allow(
        clippy::unnecessary_wraps,
        clippy::unused_self,
        clippy::needless_pass_by_value,
        reason = "the signature of a `#[command]` handler is fixed by `#[aggregate]`"
    )]
    fn create(&self, command: CreateOrder) -> Result<OrderCreated, OrderError> {
        Ok(OrderCreated {
            order_id: command.order_id,
        })
    }
    #[allow(
        clippy::unnecessary_wraps,
        clippy::unused_self,
        clippy::needless_pass_by_value,
        reason = "the signature of a `#[command]` handler is fixed by `#[aggregate]`"
    )]
    fn ship(&self, command: &ShipOrder) -> Result<Vec<OrderEvent>, OrderError> {
        Ok(vec![])
    }
    #[allow(
        clippy::unused_self,
        reason = "the signature of an `#[apply]` method is fixed by `#[aggregate]`"
    )]
    fn created(&mut self, event: &OrderCreated) {
        self.created = true;
    }
    #[allow(
        clippy::unused_self,
        reason = "the signature of an `#[apply]` method is fixed by `#[aggregate]`"
    )]
    fn shipped(&mut self, _: &OrderShipped) {}
}
const _: () = {
    #[automatically_derived]
    #[diagnostic::do_not_recommend]
    impl ::eventsmith::__private::Aggregate for Order {
        const NAME: &'static str = "Order";
        type Event = OrderEvent;
        type Error = OrderError;
        #[inline]
        fn initial() -> Self {
            <Self as ::eventsmith::__private::InitialState>::initial_state()
        }
        #[inline]
        fn apply(&mut self, event: &Self::Event) {
            <OrderEvent as ::eventsmith::__private::AppliedBy<
                Order,
            >>::apply_to(event, self)
        }
        #[inline]
        fn cached_copy(&self) -> ::core::option::Option<Self> {
            #[allow(unused_imports)]
            use ::eventsmith::__private::{CloneIfClone as _, NotClone as _};
            (&&::eventsmith::__private::MaybeClone(self)).maybe_clone()
        }
        fn commands() -> ::eventsmith::__private::Vec<
            ::eventsmith::__private::CommandEntry,
        > {
            ::eventsmith::__private::Vec::from([
                ::eventsmith::__private::CommandEntry::of::<
                    CreateOrder,
                >(
                    <CreateOrder as ::eventsmith::__private::CommandFor<Order>>::EXPECT
                        .name(),
                    <OrderCreated as ::eventsmith::__private::Produces<
                        OrderEvent,
                    >>::PRODUCED,
                ),
                ::eventsmith::__private::CommandEntry::of::<
                    ShipOrder,
                >(
                    <ShipOrder as ::eventsmith::__private::CommandFor<Order>>::EXPECT
                        .name(),
                    <OrderEvent as ::eventsmith::__private::Produces<
                        OrderEvent,
                    >>::PRODUCED,
                ),
            ])
        }
    }
    const _: usize = <OrderCreated as ::eventsmith::__private::VariantOf<
        OrderEvent,
    >>::INDEX;
    #[automatically_derived]
    #[diagnostic::do_not_recommend]
    impl ::eventsmith::__private::Apply<OrderCreated> for Order {
        #[inline]
        fn apply(&mut self, event: &OrderCreated) {
            Order::created(self, event)
        }
    }
    const _: usize = <OrderShipped as ::eventsmith::__private::VariantOf<
        OrderEvent,
    >>::INDEX;
    #[automatically_derived]
    #[diagnostic::do_not_recommend]
    impl ::eventsmith::__private::Apply<OrderShipped> for Order {
        #[inline]
        fn apply(&mut self, event: &OrderShipped) {
            Order::shipped(self, event)
        }
    }
    const _: usize = <unit_variants_of_OrderEvent::Cancelled as ::eventsmith::__private::VariantOf<
        OrderEvent,
    >>::INDEX;
    #[automatically_derived]
    #[diagnostic::do_not_recommend]
    impl ::eventsmith::__private::Apply<unit_variants_of_OrderEvent::Cancelled>
    for Order {
        #[inline]
        fn apply(&mut self, _: &unit_variants_of_OrderEvent::Cancelled) {}
    }
    const _: () = <CreateOrder as ::eventsmith::__private::CommandFor<Order>>::ROUTED;
    #[automatically_derived]
    #[diagnostic::do_not_recommend]
    impl ::eventsmith::__private::Handle<CreateOrder> for Order {
        #[inline]
        fn handle(
            &self,
            command: &CreateOrder,
        ) -> ::core::result::Result<
            ::eventsmith::__private::Vec<OrderEvent>,
            OrderError,
        > {
            match Order::create(
                self,
                <CreateOrder as ::eventsmith::__private::ClonedCommand>::cloned_command(
                    command,
                ),
            ) {
                ::core::result::Result::Ok(__output) => {
                    ::core::result::Result::Ok(
                        ::eventsmith::__private::one(
                            <OrderCreated as ::eventsmith::__private::Produces<
                                OrderEvent,
                            >>::produce(__output),
                        ),
                    )
                }
                ::core::result::Result::Err(__error) => {
                    ::core::result::Result::Err(
                        <_ as ::eventsmith::__private::HandlerError<
                            OrderError,
                        >>::into_aggregate_error(__error),
                    )
                }
            }
        }
    }
    const _: () = <ShipOrder as ::eventsmith::__private::CommandFor<Order>>::ROUTED;
    #[automatically_derived]
    #[diagnostic::do_not_recommend]
    impl ::eventsmith::__private::Handle<ShipOrder> for Order {
        #[inline]
        fn handle(
            &self,
            command: &ShipOrder,
        ) -> ::core::result::Result<
            ::eventsmith::__private::Vec<OrderEvent>,
            OrderError,
        > {
            match Order::ship(self, command) {
                ::core::result::Result::Ok(__output) => {
                    ::core::result::Result::Ok(
                        ::core::iter::Iterator::collect(
                            ::core::iter::Iterator::map(
                                ::core::iter::IntoIterator::into_iter(__output),
                                <OrderEvent as ::eventsmith::__private::Produces<
                                    OrderEvent,
                                >>::produce,
                            ),
                        ),
                    )
                }
                ::core::result::Result::Err(__error) => {
                    ::core::result::Result::Err(
                        <_ as ::eventsmith::__private::HandlerError<
                            OrderError,
                        >>::into_aggregate_error(__error),
                    )
                }
            }
        }
    }
};
