const _: () = {
    #[automatically_derived]
    #[diagnostic::do_not_recommend]
    impl ::eventsmith::__private::Envelope for OrderCommand {
        const TYPES: &'static [&'static str] = &["CreateOrder", "ShipOrder"];
        fn decode(
            message_type: &str,
            data: &[u8],
        ) -> ::core::result::Result<Self, ::eventsmith::__private::DecodeError> {
            match message_type {
                "CreateOrder" => {
                    ::eventsmith::__private::decode_message::<
                        CreateOrder,
                    >("CreateOrder", data)
                        .map(Self::CreateOrder)
                }
                "ShipOrder" => {
                    ::eventsmith::__private::decode_message::<
                        ShipOrder,
                    >("ShipOrder", data)
                        .map(Self::ShipOrder)
                }
                __other => {
                    ::core::result::Result::Err(
                        ::eventsmith::__private::unknown_type(__other, Self::TYPES),
                    )
                }
            }
        }
    }
    #[automatically_derived]
    #[diagnostic::do_not_recommend]
    impl ::eventsmith::__private::CommandEnvelope for OrderCommand {
        async fn dispatch(
            self,
            app: &::eventsmith::__private::App,
        ) -> ::core::result::Result<
            ::eventsmith::__private::Dispatched,
            ::eventsmith::__private::Error,
        > {
            match self {
                Self::CreateOrder(__message) => {
                    ::core::result::Result::Ok(
                        ::core::convert::From::from(
                            app.execute::<CreateOrder, _>(__message).await?,
                        ),
                    )
                }
                Self::ShipOrder(__message) => {
                    ::core::result::Result::Ok(
                        ::core::convert::From::from(
                            app.execute::<ShipOrder, _>(__message).await?,
                        ),
                    )
                }
            }
        }
    }
    #[automatically_derived]
    impl ::core::convert::From<CreateOrder> for OrderCommand {
        #[inline]
        fn from(message: CreateOrder) -> Self {
            Self::CreateOrder(message)
        }
    }
    #[automatically_derived]
    impl ::core::convert::From<ShipOrder> for OrderCommand {
        #[inline]
        fn from(message: ShipOrder) -> Self {
            Self::ShipOrder(message)
        }
    }
};
