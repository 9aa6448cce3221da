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
    #[diagnostic::do_not_recommend]
    impl ::eventsmith::__private::Projection for OrdersView {
        const NAME: &'static str = "orders";
        type Events = (OrderEvent, PaymentEvent);
        #[inline]
        fn initial() -> Self {
            <Self as ::eventsmith::__private::InitialModel>::initial_model()
        }
        fn event_types() -> ::eventsmith::__private::Vec<&'static str> {
            #[allow(unused_imports)]
            use ::eventsmith::__private::{NoOverlap as _, Overlap as _};
            <_ as ::eventsmith::__private::OneEnum<
                OrderCreated,
                OrderEvent,
                PaymentEvent,
            >>::accept(
                (&&::eventsmith::__private::Pair::<
                    OrderCreated,
                    OrderEvent,
                    PaymentEvent,
                >::NEW)
                    .overlap(),
            );
            <_ as ::eventsmith::__private::OneEnum<
                Paid,
                OrderEvent,
                PaymentEvent,
            >>::accept(
                (&&::eventsmith::__private::Pair::<Paid, OrderEvent, PaymentEvent>::NEW)
                    .overlap(),
            );
            <_ as ::eventsmith::__private::OneEnum<
                unit_variants_of_OrderEvent::Cancelled,
                OrderEvent,
                PaymentEvent,
            >>::accept(
                (&&::eventsmith::__private::Pair::<
                    unit_variants_of_OrderEvent::Cancelled,
                    OrderEvent,
                    PaymentEvent,
                >::NEW)
                    .overlap(),
            );
            let mut types = ::eventsmith::__private::Vec::new();
            types
                .extend_from_slice(
                    <OrderCreated as ::eventsmith::__private::Member<
                        (OrderEvent, PaymentEvent),
                        _,
                    >>::STORED_AS
                        .names,
                );
            types
                .extend_from_slice(
                    <Paid as ::eventsmith::__private::Member<
                        (OrderEvent, PaymentEvent),
                        _,
                    >>::STORED_AS
                        .names,
                );
            types
                .extend_from_slice(
                    <unit_variants_of_OrderEvent::Cancelled as ::eventsmith::__private::Member<
                        (OrderEvent, PaymentEvent),
                        _,
                    >>::STORED_AS
                        .names,
                );
            types
        }
        fn apply_event(
            &mut self,
            event: ::eventsmith::__private::LogEvent<'_>,
        ) -> ::core::result::Result<bool, ::eventsmith::__private::ApplyError> {
            #[allow(unused_imports)]
            use ::eventsmith::__private::{NoOverlap as _, Overlap as _};
            <_ as ::eventsmith::__private::OneEnum<
                OrderCreated,
                OrderEvent,
                PaymentEvent,
            >>::accept(
                (&&::eventsmith::__private::Pair::<
                    OrderCreated,
                    OrderEvent,
                    PaymentEvent,
                >::NEW)
                    .overlap(),
            );
            <_ as ::eventsmith::__private::OneEnum<
                Paid,
                OrderEvent,
                PaymentEvent,
            >>::accept(
                (&&::eventsmith::__private::Pair::<Paid, OrderEvent, PaymentEvent>::NEW)
                    .overlap(),
            );
            <_ as ::eventsmith::__private::OneEnum<
                unit_variants_of_OrderEvent::Cancelled,
                OrderEvent,
                PaymentEvent,
            >>::accept(
                (&&::eventsmith::__private::Pair::<
                    unit_variants_of_OrderEvent::Cancelled,
                    OrderEvent,
                    PaymentEvent,
                >::NEW)
                    .overlap(),
            );
            if <OrderCreated as ::eventsmith::__private::Member<
                (OrderEvent, PaymentEvent),
                _,
            >>::STORED_AS
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
            if <Paid as ::eventsmith::__private::Member<
                (OrderEvent, PaymentEvent),
                _,
            >>::STORED_AS
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
            if <unit_variants_of_OrderEvent::Cancelled as ::eventsmith::__private::Member<
                (OrderEvent, PaymentEvent),
                _,
            >>::STORED_AS
                .matches(&event)
            {
                return ::eventsmith::__private::apply_member::<
                    unit_variants_of_OrderEvent::Cancelled,
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
                <Self as ::eventsmith::__private::PersistedModel>::save_model(self),
            )
        }
        fn restore_state(
            state: &[u8],
        ) -> ::core::result::Result<Self, ::eventsmith::__private::serde_json::Error> {
            <Self as ::eventsmith::__private::PersistedModel>::restore_model(state)
        }
        fn applies() -> ::eventsmith::__private::Vec<::eventsmith::__private::StoredAs> {
            #[allow(unused_imports)]
            use ::eventsmith::__private::{NoOverlap as _, Overlap as _};
            <_ as ::eventsmith::__private::OneEnum<
                OrderCreated,
                OrderEvent,
                PaymentEvent,
            >>::accept(
                (&&::eventsmith::__private::Pair::<
                    OrderCreated,
                    OrderEvent,
                    PaymentEvent,
                >::NEW)
                    .overlap(),
            );
            <_ as ::eventsmith::__private::OneEnum<
                Paid,
                OrderEvent,
                PaymentEvent,
            >>::accept(
                (&&::eventsmith::__private::Pair::<Paid, OrderEvent, PaymentEvent>::NEW)
                    .overlap(),
            );
            <_ as ::eventsmith::__private::OneEnum<
                unit_variants_of_OrderEvent::Cancelled,
                OrderEvent,
                PaymentEvent,
            >>::accept(
                (&&::eventsmith::__private::Pair::<
                    unit_variants_of_OrderEvent::Cancelled,
                    OrderEvent,
                    PaymentEvent,
                >::NEW)
                    .overlap(),
            );
            ::eventsmith::__private::Vec::from([
                <OrderCreated as ::eventsmith::__private::Member<
                    (OrderEvent, PaymentEvent),
                    _,
                >>::STORED_AS,
                <Paid as ::eventsmith::__private::Member<
                    (OrderEvent, PaymentEvent),
                    _,
                >>::STORED_AS,
                <unit_variants_of_OrderEvent::Cancelled as ::eventsmith::__private::Member<
                    (OrderEvent, PaymentEvent),
                    _,
                >>::STORED_AS,
            ])
        }
        fn queries() -> ::eventsmith::__private::Vec<
            ::eventsmith::__private::QueryEntry,
        > {
            ::eventsmith::__private::Vec::from([
                ::eventsmith::__private::QueryEntry::of::<
                    GetOrder,
                    Option<OrderSummary>,
                >(),
            ])
        }
    }
    #[automatically_derived]
    #[diagnostic::do_not_recommend]
    impl ::eventsmith::__private::Query for GetOrder {
        type Projection = OrdersView;
        type Output = Option<OrderSummary>;
        #[inline]
        fn answer(self, model: &OrdersView) -> Option<OrderSummary> {
            OrdersView::get_order(model, self)
        }
    }
};
