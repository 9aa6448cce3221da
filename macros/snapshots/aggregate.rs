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
    impl ::eventsmith::__private::Aggregate for Order {
        const NAME: &'static str = "Order";
        type Event = OrderEvent;
        type Error = OrderError;
        #[inline]
        fn apply(&mut self, event: &Self::Event) {
            <OrderEvent as ::eventsmith::__private::Fold<Order>>::fold_into(event, self)
        }
        #[inline]
        fn cached_copy(&self) -> ::core::option::Option<Self> {
            #[allow(unused_imports)]
            use ::eventsmith::__private::{CloneIfClone as _, NotClone as _};
            (&&::eventsmith::__private::MaybeClone(self)).maybe_clone()
        }
    }
    #[automatically_derived]
    impl ::eventsmith::__private::Apply<OrderCreated> for Order
    where
        OrderCreated: ::eventsmith::__private::VariantOf<OrderEvent>,
    {
        #[inline]
        fn apply(&mut self, event: &OrderCreated) {
            Order::created(self, event)
        }
    }
    #[automatically_derived]
    impl ::eventsmith::__private::Apply<OrderShipped> for Order
    where
        OrderShipped: ::eventsmith::__private::VariantOf<OrderEvent>,
    {
        #[inline]
        fn apply(&mut self, event: &OrderShipped) {
            Order::shipped(self, event)
        }
    }
    const _: OrderEvent = OrderEvent::Cancelled;
    #[automatically_derived]
    impl ::eventsmith::__private::Apply<__eventsmith_units_OrderEvent::Cancelled>
    for Order {
        #[inline]
        fn apply(&mut self, _: &__eventsmith_units_OrderEvent::Cancelled) {}
    }
    #[automatically_derived]
    impl ::eventsmith::__private::Handle<CreateOrder> for Order
    where
        CreateOrder: ::eventsmith::__private::CommandFor<Order>,
        OrderCreated: ::eventsmith::__private::Produces<OrderEvent>,
    {
        #[inline]
        fn handle(
            &self,
            command: &CreateOrder,
        ) -> ::core::result::Result<
            ::eventsmith::__private::Vec<OrderEvent>,
            OrderError,
        > {
            match Order::create(self, ::core::clone::Clone::clone(command)) {
                ::core::result::Result::Ok(__output) => {
                    ::core::result::Result::Ok(
                        ::eventsmith::__private::one(
                            ::eventsmith::__private::Produces::<
                                OrderEvent,
                            >::produce(__output),
                        ),
                    )
                }
                ::core::result::Result::Err(__error) => {
                    ::core::result::Result::Err(
                        ::core::convert::Into::<OrderError>::into(__error),
                    )
                }
            }
        }
    }
    #[automatically_derived]
    impl ::eventsmith::__private::Handle<ShipOrder> for Order
    where
        ShipOrder: ::eventsmith::__private::CommandFor<Order>,
        OrderEvent: ::eventsmith::__private::Produces<OrderEvent>,
    {
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
                                ::eventsmith::__private::Produces::<OrderEvent>::produce,
                            ),
                        ),
                    )
                }
                ::core::result::Result::Err(__error) => {
                    ::core::result::Result::Err(
                        ::core::convert::Into::<OrderError>::into(__error),
                    )
                }
            }
        }
    }
};
