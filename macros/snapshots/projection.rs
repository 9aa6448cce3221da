impl OrdersView {
    #[allow(
        clippy::unused_self,
        clippy::needless_pass_by_value,
        clippy::unnecessary_wraps,
        reason = "the signature of a projection's `#[apply]` or `#[query]` method is fixed by `#[projection]`"
    )]
    fn created(&mut self, event: &Recorded<OrderCreated>) {
        self.count += 1;
    }
    #[allow(
        clippy::unused_self,
        clippy::needless_pass_by_value,
        clippy::unnecessary_wraps,
        reason = "the signature of a projection's `#[apply]` or `#[query]` method is fixed by `#[projection]`"
    )]
    fn paid(&mut self, event: &Recorded<Paid>) -> Result<(), String> {
        Ok(())
    }
    #[allow(
        clippy::unused_self,
        clippy::needless_pass_by_value,
        clippy::unnecessary_wraps,
        reason = "the signature of a projection's `#[apply]` or `#[query]` method is fixed by `#[projection]`"
    )]
    fn cancelled(&mut self, event: &Recorded<()>) {}
    #[allow(
        clippy::unused_self,
        clippy::needless_pass_by_value,
        clippy::unnecessary_wraps,
        reason = "the signature of a projection's `#[apply]` or `#[query]` method is fixed by `#[projection]`"
    )]
    fn get_order(&self, query: GetOrder) -> Option<OrderSummary> {
        None
    }
}
const _: () = {
    #[automatically_derived]
    impl ::eventsmith::__private::Projection for OrdersView {
        const NAME: &'static str = "orders";
        type Events = (OrderEvent, PaymentEvent);
        fn event_types() -> ::eventsmith::__private::Vec<&'static str> {
            let mut types = ::eventsmith::__private::Vec::new();
            types
                .extend_from_slice(
                    ::eventsmith::__private::stored_as::<
                        OrderCreated,
                        (OrderEvent, PaymentEvent),
                        _,
                    >()
                        .names,
                );
            types
                .extend_from_slice(
                    ::eventsmith::__private::stored_as::<
                        Paid,
                        (OrderEvent, PaymentEvent),
                        _,
                    >()
                        .names,
                );
            types
                .extend_from_slice(
                    ::eventsmith::__private::stored_as::<
                        __eventsmith_units_OrderEvent::Cancelled,
                        (OrderEvent, PaymentEvent),
                        _,
                    >()
                        .names,
                );
            types
        }
        fn apply_event(
            &mut self,
            event: ::eventsmith::__private::LogEvent<'_>,
        ) -> ::core::result::Result<bool, ::eventsmith::__private::ApplyError> {
            if ::eventsmith::__private::stored_as::<
                OrderCreated,
                (OrderEvent, PaymentEvent),
                _,
            >()
                .matches(&event)
            {
                return ::eventsmith::__private::apply_member::<
                    OrderCreated,
                    (OrderEvent, PaymentEvent),
                    _,
                >(
                    event,
                    |__recorded| {
                        OrdersView::created(self, __recorded);
                        ::core::result::Result::Ok(())
                    },
                );
            }
            if ::eventsmith::__private::stored_as::<
                Paid,
                (OrderEvent, PaymentEvent),
                _,
            >()
                .matches(&event)
            {
                return ::eventsmith::__private::apply_member::<
                    Paid,
                    (OrderEvent, PaymentEvent),
                    _,
                >(
                    event,
                    |__recorded| {
                        let __outcome = OrdersView::paid(self, __recorded);
                        ::eventsmith::__private::ApplyOutcome::into_outcome(__outcome)
                    },
                );
            }
            if ::eventsmith::__private::stored_as::<
                __eventsmith_units_OrderEvent::Cancelled,
                (OrderEvent, PaymentEvent),
                _,
            >()
                .matches(&event)
            {
                return ::eventsmith::__private::apply_member::<
                    __eventsmith_units_OrderEvent::Cancelled,
                    (OrderEvent, PaymentEvent),
                    _,
                >(
                    event,
                    |__recorded| {
                        OrdersView::cancelled(
                            self,
                            &::eventsmith::__private::unit_recorded(__recorded),
                        );
                        ::core::result::Result::Ok(())
                    },
                );
            }
            ::core::result::Result::Ok(false)
        }
        const PERSIST: bool = true;
        fn save_state(
            &self,
        ) -> ::core::option::Option<
            ::core::result::Result<
                ::eventsmith::__private::Vec<u8>,
                ::eventsmith::__private::serde_json::Error,
            >,
        > {
            ::core::option::Option::Some(
                ::eventsmith::__private::serde_json::to_vec(self),
            )
        }
        fn restore_state(
            state: &[u8],
        ) -> ::core::result::Result<Self, ::eventsmith::__private::serde_json::Error> {
            ::eventsmith::__private::serde_json::from_slice(state)
        }
    }
    #[automatically_derived]
    impl ::eventsmith::__private::Query for GetOrder {
        type Projection = OrdersView;
        type Output = Option<OrderSummary>;
        #[inline]
        fn answer(self, model: &OrdersView) -> Option<OrderSummary> {
            OrdersView::get_order(model, self)
        }
    }
};
