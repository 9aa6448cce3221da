const _: () = {
    #[automatically_derived]
    impl ::eventsmith::__private::Command for ShipOrder {
        type Aggregate = Order;
        const EXPECT: ::eventsmith::__private::ExpectStream = ::eventsmith::__private::ExpectStream::Existing;
        #[inline]
        fn aggregate_id(&self) -> ::eventsmith::__private::String {
            ::eventsmith::__private::aggregate_id(&self.order_id)
        }
    }
    #[automatically_derived]
    impl ::eventsmith::__private::CommandFor<Order> for ShipOrder {}
};
