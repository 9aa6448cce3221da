const _: () = {
    #[automatically_derived]
    impl ::eventsmith::__private::CommandEnvelope for OrderCommand {
        const TYPES: &'static [&'static str] = &["CreateOrder", "ShipOrder"];
        fn decode(
            command_type: &str,
            data: &[u8],
        ) -> ::core::result::Result<Self, ::eventsmith::__private::DecodeError> {
            match command_type {
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
        async fn dispatch(
            self,
            app: &::eventsmith::__private::App,
        ) -> ::core::result::Result<
            ::eventsmith::__private::Dispatched,
            ::eventsmith::__private::Error,
        > {
            match self {
                Self::CreateOrder(__command) => {
                    ::eventsmith::__private::dispatch::<CreateOrder>(app, __command)
                        .await
                }
                Self::ShipOrder(__command) => {
                    ::eventsmith::__private::dispatch::<ShipOrder>(app, __command).await
                }
            }
        }
    }
    #[automatically_derived]
    impl ::core::convert::From<CreateOrder> for OrderCommand {
        #[inline]
        fn from(command: CreateOrder) -> Self {
            Self::CreateOrder(command)
        }
    }
    #[automatically_derived]
    impl ::core::convert::From<ShipOrder> for OrderCommand {
        #[inline]
        fn from(command: ShipOrder) -> Self {
            Self::ShipOrder(command)
        }
    }
};
