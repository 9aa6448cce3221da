impl CustomerView {
    #[allow(
        clippy::unused_self,
        clippy::needless_pass_by_value,
        clippy::unnecessary_wraps,
        reason = "the signature of a projection's `#[apply]` or `#[query]` method is fixed by `#[projection]`"
    )]
    fn created(&mut self, event: &Recorded<OrderCreated>) {
        self.orders += 1;
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
}
const _: () = {
    #[automatically_derived]
    #[diagnostic::do_not_recommend]
    impl ::eventsmith::__private::DocumentProjection for CustomerView {
        const NAME: &'static str = "customers";
        type Events = (OrderEvent,);
        const INDEXED: &'static [&'static str] = &["status"];
        #[inline]
        fn initial() -> Self {
            <Self as ::eventsmith::__private::InitialModel>::initial_model()
        }
        fn event_types() -> ::eventsmith::__private::Vec<&'static str> {
            let _ = |__document: &Self| {
                let _ = &__document.status;
            };
            let mut types = ::eventsmith::__private::Vec::new();
            types
                .extend_from_slice(
                    <OrderCreated as ::eventsmith::__private::Member<
                        (OrderEvent,),
                        _,
                    >>::STORED_AS
                        .names,
                );
            types
                .extend_from_slice(
                    <Paid as ::eventsmith::__private::Member<
                        (OrderEvent,),
                        _,
                    >>::STORED_AS
                        .names,
                );
            types
        }
        fn route(
            event: ::eventsmith::__private::LogEvent<'_>,
        ) -> ::core::result::Result<
            ::core::option::Option<::eventsmith::__private::Routed<Self>>,
            ::eventsmith::__private::ApplyError,
        > {
            if <OrderCreated as ::eventsmith::__private::Member<
                (OrderEvent,),
                _,
            >>::STORED_AS
                .matches(&event)
            {
                return ::eventsmith::__private::route_member::<
                    OrderCreated,
                    (OrderEvent,),
                    _,
                    Self,
                >(
                    event,
                    |event| ::std::string::ToString::to_string(
                        ::eventsmith::__private::default_key(&event.stream_id),
                    ),
                    |__document, __recorded| {
                        CustomerView::created(__document, __recorded);
                        ::core::result::Result::Ok(())
                    },
                );
            }
            if <Paid as ::eventsmith::__private::Member<(OrderEvent,), _>>::STORED_AS
                .matches(&event)
            {
                return ::eventsmith::__private::route_member::<
                    Paid,
                    (OrderEvent,),
                    _,
                    Self,
                >(
                    event,
                    |event| ::eventsmith::__private::DocumentKey::document_key(
                        &(event.customer),
                    ),
                    |__document, __recorded| {
                        let __outcome = CustomerView::paid(__document, __recorded);
                        ::eventsmith::__private::ApplyOutcome::into_outcome(__outcome)
                    },
                );
            }
            ::core::result::Result::Ok(::core::option::Option::None)
        }
        fn applies() -> ::eventsmith::__private::Vec<::eventsmith::__private::StoredAs> {
            ::eventsmith::__private::Vec::from([
                <OrderCreated as ::eventsmith::__private::Member<
                    (OrderEvent,),
                    _,
                >>::STORED_AS,
                <Paid as ::eventsmith::__private::Member<(OrderEvent,), _>>::STORED_AS,
            ])
        }
        fn queries() -> ::eventsmith::__private::Vec<
            ::eventsmith::__private::QueryEntry,
        > {
            ::eventsmith::__private::Vec::from([])
        }
    }
};
