const _: () = {
    #[automatically_derived]
    #[diagnostic::do_not_recommend]
    impl ::eventsmith::__private::Command for ShipOrder {
        type Aggregate = Order;
        const EXPECT: ::eventsmith::__private::ExpectStream = ::eventsmith::__private::ExpectStream::Existing;
        #[inline]
        fn aggregate_id(&self) -> ::eventsmith::__private::String {
            <OrderId as ::eventsmith::__private::AggregateId>::to_id(&self.order_id)
        }
    }
    #[automatically_derived]
    impl<__A> ::eventsmith::__private::CommandFor<__A> for ShipOrder
    where
        (): ::eventsmith::__private::RoutedTo<Order, __A, ShipOrder>,
    {
        const EXPECT: ::eventsmith::__private::ExpectStream = ::eventsmith::__private::ExpectStream::Existing;
    }
};
